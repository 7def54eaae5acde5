import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStore, type Store } from "./store.js";

let dir: string;
let store: Store;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "og-certs-"));
  store = openStore(dir);
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("node certificates and the deny list", () => {
  it("revoking a node denies its unexpired certificates only, bars its id, and survives a reopen", () => {
    const certs = store.certificates;
    certs.record({ serial: "AA01", runtimeId: "n1", notBefore: 0, notAfter: 2_000 }, 0);
    certs.record({ serial: "AA02", runtimeId: "n1", notBefore: 0, notAfter: 500 }, 0);
    certs.record({ serial: "BB01", runtimeId: "n2", notBefore: 0, notAfter: 2_000 }, 0);
    expect(certs.hasCertificates("n1")).toBe(true);
    expect(certs.isNodeRevoked("n1")).toBe(false);

    expect(certs.revokeNode("n1", 1_000)).toEqual(["AA01"]);
    expect(certs.isNodeRevoked("n1")).toBe(true);
    expect(certs.isNodeRevoked("n2")).toBe(false);
    expect(certs.deniedSerials(1_000)).toEqual(["AA01"]);
    // Once it expired, a handshake refuses it anyway: it leaves the list.
    expect(certs.deniedSerials(2_000)).toEqual([]);

    store.close();
    store = openStore(dir);
    expect(store.certificates.isNodeRevoked("n1")).toBe(true);
    expect(store.certificates.deniedSerials(1_500)).toEqual(["AA01"]);
    expect(store.certificates.prune(1_500)).toBe(1);
    expect(store.certificates.hasCertificates("n2")).toBe(true);
  });
});
