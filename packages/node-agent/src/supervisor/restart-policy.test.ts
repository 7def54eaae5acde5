import { describe, expect, it } from "vitest";
import { CrashLoopDetector, restartDelay } from "./restart-policy.js";

describe("restartDelay", () => {
  it("doubles per consecutive crash, up to the cap", () => {
    const top = () => 1; // the random factor at its maximum
    expect([1, 2, 3, 4, 5, 6].map((n) => restartDelay(n, 1000, 10_000, top))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });
  it("jitters within [half, full] of the ceiling", () => {
    expect(restartDelay(3, 1000, 60_000, () => 0)).toBe(2000);
    expect(restartDelay(3, 1000, 60_000, () => 0.5)).toBe(3000);
  });
});

describe("CrashLoopDetector", () => {
  it("trips at the limit within the window, and forgets exits older than the window", () => {
    const d = new CrashLoopDetector(3, 1000);
    expect(d.record(0)).toBe(false);
    expect(d.record(500)).toBe(false);
    expect(d.record(2000)).toBe(false); // the first two fell out of the window
    expect(d.record(2100)).toBe(false);
    expect(d.record(2200)).toBe(true);
    expect(d.count).toBe(3);
  });
});
