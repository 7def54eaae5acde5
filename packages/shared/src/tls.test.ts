import { describe, expect, it } from "vitest";
import { CaFingerprint, isLoopbackHost, normalizeFingerprint } from "./tls.js";

describe("CA fingerprints", () => {
  it("takes the spellings people paste: prefix or not, colons, upper case", () => {
    const hex = "ab".repeat(32);
    for (const text of [`sha256:${hex}`, hex, `SHA256:${hex.toUpperCase()}`, hex.match(/../g)!.join(":")]) {
      expect(normalizeFingerprint(text)).toBe(`sha256:${hex}`);
    }
    expect(normalizeFingerprint("sha256:abcd")).toBeNull();
    expect(normalizeFingerprint(`sha1:${hex}`)).toBeNull();
    expect(CaFingerprint.safeParse("nope").success).toBe(false);
  });

  it("tells loopback hosts apart", () => {
    for (const h of ["127.0.0.1", "127.8.9.10", "localhost", "::1", "[::1]"]) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ["0.0.0.0", "10.0.0.1", "gpu-1", "::", "128.0.0.1"]) expect(isLoopbackHost(h)).toBe(false);
  });
});
