import { describe, expect, it } from "vitest";
import { LATENCY_BUCKETS, LabelledChildren, requestMetricDefinitions } from "./metrics.js";

describe("request metric definitions", () => {
  it("names the three metrics under the prefix, with the shared labels and buckets", () => {
    const defs = requestMetricDefinitions("omnigate_agent", " at the agent");
    expect([defs.requests.name, defs.duration.name, defs.ttfb.name]).toEqual([
      "omnigate_agent_requests_total",
      "omnigate_agent_request_duration_seconds",
      "omnigate_agent_time_to_first_byte_seconds",
    ]);
    expect(defs.requests.labelNames).toEqual(["model", "endpoint", "status"]);
    expect(defs.duration.help).toContain("arrival at the agent");
    expect(defs.ttfb.buckets).toEqual(LATENCY_BUCKETS);
    // A copy: a caller changing its buckets changes no one else's.
    expect(defs.ttfb.buckets).not.toBe(requestMetricDefinitions("x", "").ttfb.buckets);
  });
});

describe("LabelledChildren", () => {
  it("makes each label combination's child once and hands the same one back", () => {
    const made: string[][] = [];
    const children = new LabelledChildren((...labels) => {
      made.push(labels);
      return { labels };
    });
    const a = children.get("m", "chat", "200");
    expect(children.get("m", "chat", "200")).toBe(a);
    expect(children.get("m", "chat", "500")).not.toBe(a);
    // Joined with a separator no label holds: ("ab","c") and ("a","bc") stay apart.
    expect(children.get("ab", "c")).not.toBe(children.get("a", "bc"));
    expect(made).toEqual([["m", "chat", "200"], ["m", "chat", "500"], ["ab", "c"], ["a", "bc"]]);
  });
});
