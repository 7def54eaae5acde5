import { describe, expect, it } from "vitest";
import { backoffDelay } from "./backoff.js";

describe("backoffDelay", () => {
  const opts = { baseMs: 100, maxMs: 1_000 };
  it("doubles per attempt, between half and all of the ceiling", () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, { ...opts, random: () => 0 }))).toEqual([50, 100, 200, 400]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, { ...opts, random: () => 1 }))).toEqual([100, 200, 400, 800]);
  });
  it("caps at maxMs however many attempts failed", () => {
    expect(backoffDelay(50, { ...opts, random: () => 1 })).toBe(1_000);
    expect(backoffDelay(10_000, { ...opts, random: () => 0 })).toBe(500);
  });
  it("spreads agents out: different random draws give different delays", () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(5, opts)));
    expect(delays.size).toBeGreaterThan(1);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(500);
  });
});
