import { describe, expect, it } from "vitest";
import { backoffDelay, parseRetryAfter, retrying, DEFAULT_RETRY } from "./hub-retry.js";
import { HubServerError, RepoNotFoundError } from "./hub-errors.js";
import { nextLink, normalizeEtag } from "./hub-client.js";

describe("retry policy", () => {
  it("backs off exponentially with jitter in [ceiling/2, ceiling], capped", () => {
    const p = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(p, 1, () => 0)).toBe(50);
    expect(backoffDelay(p, 1, () => 1)).toBe(100);
    expect(backoffDelay(p, 3, () => 0.5)).toBe(300);
    expect(backoffDelay(p, 10, () => 1)).toBe(1000);
  });
  it("reads Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("7")).toBe(7000);
    expect(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(30_000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
  it("retries retryable outcomes until the attempts run out, and stops at a final error", async () => {
    const policy = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 10 };
    let n = 0;
    const r = await retrying(policy, {}, async () => (n++, { kind: "retry" as const, error: new HubServerError("x", 503, 1) }), (e) => e);
    expect(n).toBe(3);
    expect(r.ok).toBe(false);
    n = 0;
    const f = await retrying(policy, {}, async () => (n++, { kind: "fail" as const, error: new RepoNotFoundError("a/b", "http://h", 404) }), (e) => e);
    expect(n).toBe(1);
    expect(f.ok).toBe(false);
  });
  it("parses ETag and Link headers", () => {
    expect(normalizeEtag('W/"abc"')).toBe("abc");
    expect(normalizeEtag('"abc"')).toBe("abc");
    expect(nextLink('<https://h/api?cursor=2>; rel="next", <https://h/x>; rel="prev"')).toBe("https://h/api?cursor=2");
    expect(nextLink(undefined)).toBeUndefined();
  });
});
