import { describe, expect, it } from "vitest";
import { StatsWindow } from "./stats-window.js";

describe("StatsWindow", () => {
  it("counts requests and 5xx answers, and reads p50 / p99 within the bins' 4.5%", () => {
    let now = 1_000_000;
    const stats = new StatsWindow({ now: () => now });
    // 1..1000 ms, one each: p50 = 500, p99 = 990.
    for (let ms = 1; ms <= 1000; ms++) stats.record("chat", ms % 100 === 0 ? 502 : 200, ms, ms / 10);
    now += 100_000;
    const s = stats.summary();
    expect(s.requests).toBe(1000);
    expect(s.errors).toBe(10);
    expect(s.error_rate).toBeCloseTo(0.01);
    expect(s.requests_per_s).toBeCloseTo(10);
    expect(s.latency.p50_ms! / 500).toBeGreaterThan(0.955);
    expect(s.latency.p50_ms! / 500).toBeLessThan(1.045);
    expect(s.latency.p99_ms! / 990).toBeGreaterThan(0.955);
    expect(s.latency.p99_ms! / 990).toBeLessThan(1.045);
    // Time to first token: only answers that were not errors (990 of them).
    expect(s.ttft.p50_ms! / 50).toBeGreaterThan(0.955);
    expect(s.ttft.p50_ms! / 50).toBeLessThan(1.045);
  });

  it("keeps time to first token for token endpoints only, and nothing for failed answers", () => {
    const stats = new StatsWindow();
    stats.record("transcription", 200, 80, 75);
    stats.record("embedding", 200, 5, 4);
    stats.record("chat", 503, 5, 4);
    expect(stats.summary().ttft).toEqual({ p50_ms: null, p99_ms: null });
    stats.record("completion", 200, 100, 20);
    expect(stats.summary().ttft.p50_ms! / 20).toBeCloseTo(1, 1);
  });

  it("one slice per 10 s over 15 min, oldest first; what left the window is gone", () => {
    let now = 0;
    const stats = new StatsWindow({ now: () => now });
    stats.record("chat", 200, 10, undefined);
    now = 10_000;
    stats.record("chat", 500, 10, undefined);
    stats.record("chat", 200, 10, undefined);
    let s = stats.summary();
    expect(s.series).toHaveLength(90);
    expect(s.series.at(-1)).toMatchObject({ start: 10_000, requests: 2, errors: 1 });
    expect(s.series.at(-2)).toMatchObject({ start: 0, requests: 1, errors: 0 });
    expect(s.series[0]).toMatchObject({ requests: 0, latency: { p50_ms: null, p99_ms: null } });
    // 15 min later the first slice left the window; the second is the oldest.
    now = 15 * 60_000 + 5_000;
    s = stats.summary();
    expect(s.requests).toBe(2);
    expect(s.series[0]).toMatchObject({ start: 10_000, requests: 2 });
    now = 16 * 60_000;
    expect(stats.summary()).toMatchObject({ requests: 0, errors: 0, error_rate: 0, latency: { p50_ms: null } });
  });
});
