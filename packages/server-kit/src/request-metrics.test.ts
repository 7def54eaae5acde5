import { describe, expect, it } from "vitest";
import { Counter, Histogram, Registry } from "prom-client";
import { requestMetricDefinitions } from "@omnigate/shared/metrics";
import { RequestMetrics } from "./request-metrics.js";

/** [model, endpoint, status, duration, ttfb, ttft] */
const REQUESTS: [string, string, number, number, number | undefined, number | undefined][] = [
  ["llm", "chat", 200, 0.0004, 0.0003, 0.0003],
  ["llm", "chat", 200, 0.7, 0.02, 0.5],
  ["llm", "chat", 499, 301, undefined, undefined],
  ["llm", "embedding", 200, 0.0025, 0.0025, 0.0025],
  ["", "chat", 404, 0.001, 0.001, undefined],
];

describe("RequestMetrics", () => {
  it("renders the series exactly as prom-client's own Counter and Histograms of the same requests", async () => {
    const ours = new Registry();
    const metrics = new RequestMetrics(ours, "omnigate", "", { firstToken: true });
    for (const [model, endpoint, status, d, b, t] of REQUESTS) metrics.record(model, endpoint, status, d, b, t);

    const theirs = new Registry();
    const defs = requestMetricDefinitions("omnigate", "");
    const registers = [theirs];
    const requests = new Counter({ ...defs.requests, labelNames: [...defs.requests.labelNames], registers });
    const histogram = (d: typeof defs.duration) => new Histogram({ ...d, labelNames: [...d.labelNames], registers });
    const [duration, ttfb, ttft] = [histogram(defs.duration), histogram(defs.ttfb), histogram(defs.ttft)];
    for (const [model, endpoint, status, d, b, t] of REQUESTS) {
      requests.inc({ model, endpoint, status: String(status) });
      duration.observe({ model, endpoint }, d);
      if (b !== undefined) ttfb.observe({ model, endpoint }, b);
      if (t !== undefined) ttft.observe({ model, endpoint }, t);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it("makes a series once per model and endpoint, and lists every one", () => {
    const metrics = new RequestMetrics(new Registry(), "omnigate_agent", " at the agent", { firstToken: false });
    const series = metrics.seriesOf("llm", "chat");
    metrics.record("llm", "chat", 200, 0.01);
    metrics.record("llm", "chat", 200, 0.02, 0.01);
    expect(metrics.seriesOf("llm", "chat")).toBe(series);
    expect(series.statuses.get(200)).toBe(2);
    expect([series.duration.count, series.ttfb.count]).toEqual([2, 1]);
    metrics.record("tts", "speech", 503, 0.001);
    expect([...metrics.series()].map((s) => `${s.model}/${s.endpoint}`)).toEqual(["llm/chat", "tts/speech"]);
  });

  it("tells an observer of each request recorded after it joined, as recorded", () => {
    const metrics = new RequestMetrics(new Registry(), "omnigate", "", { firstToken: true });
    metrics.record("llm", "chat", 200, 0.5);
    const seen: unknown[][] = [];
    metrics.observe((...figures) => seen.push(figures));
    metrics.record("llm", "chat", 200, 0.25, 0.01, 0.02);
    metrics.record("", "embedding", 404, 0.001);
    expect(seen).toEqual([
      ["llm", "chat", 200, 0.25, 0.01, 0.02],
      ["", "embedding", 404, 0.001, undefined, undefined],
    ]);
  });
});
