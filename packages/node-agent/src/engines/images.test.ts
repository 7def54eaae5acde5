import { describe, expect, it } from "vitest";
import { normaliseCreated, parseSize } from "./images.js";

describe("normaliseCreated", () => {
  const now = Date.UTC(2026, 0, 2, 3, 4, 5);
  it("turns sd-server's ISO strings, milliseconds and numeric strings into Unix seconds", () => {
    expect(normaliseCreated("2026-01-02T03:04:05.678Z", now)).toBe(now / 1000);
    expect(normaliseCreated(now + 678, now)).toBe(now / 1000);
    expect(normaliseCreated(now / 1000, now)).toBe(now / 1000);
    expect(normaliseCreated(String(now / 1000), now)).toBe(now / 1000);
  });
  it("falls back to now for missing or unreadable values", () => {
    expect(normaliseCreated(undefined, now)).toBe(now / 1000);
    expect(normaliseCreated("yesterday-ish", now)).toBe(now / 1000);
  });
});

describe("parseSize", () => {
  it("reads WIDTHxHEIGHT", () => {
    expect(parseSize("512x768")).toEqual({ width: 512, height: 768 });
    expect(parseSize(undefined)).toBeUndefined();
    expect(parseSize("big")).toBeUndefined();
  });
});
