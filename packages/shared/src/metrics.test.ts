import { describe, expect, it } from "vitest";
import { LATENCY_BUCKETS, requestMetricDefinitions } from "./metrics.js";

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
