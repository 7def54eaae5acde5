import { X509Certificate } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fingerprintOf } from "@omnigate/testkit/certs";
import { CA_CERT_FILE, CA_KEY_FILE, loadClusterCa } from "./cluster-ca.js";

const silent = pino({ level: "silent" });
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "og-ca-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("the cluster CA", () => {
  it("is made on first start (ECDSA P-256, CA:TRUE, key 0600) and the same one is read after", async () => {
    const first = await loadClusterCa(dir, {}, silent);
    expect(first.source).toBe("generated");
    const cert = new X509Certificate(readFileSync(join(dir, CA_CERT_FILE)));
    expect(cert.ca).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(statSync(join(dir, CA_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(Date.parse(cert.validTo) - Date.now()).toBeGreaterThan(9 * 365 * 86_400_000);
    // The fingerprint is the SPKI hash, as the test kit (and openssl pkey | dgst) compute it.
    expect(first.fingerprint).toBe(fingerprintOf(first.certPem));

    const again = await loadClusterCa(dir, {}, silent);
    expect(again).toMatchObject({ source: "file", fingerprint: first.fingerprint });
  });

  it("tightens a key file others can read", async () => {
    await loadClusterCa(dir, {}, silent);
    chmodSync(join(dir, CA_KEY_FILE), 0o644);
    await loadClusterCa(dir, {}, silent);
    expect(statSync(join(dir, CA_KEY_FILE)).mode & 0o777).toBe(0o600);
  });

  it("takes the files the variables name over the data dir (how gateways share one CA)", async () => {
    const shared = mkdtempSync(join(tmpdir(), "og-ca-shared-"));
    try {
      const made = await loadClusterCa(shared, {}, silent);
      const ca = await loadClusterCa(dir, { OMNIGATE_CLUSTER_CA_CERT_FILE: join(shared, CA_CERT_FILE), OMNIGATE_CLUSTER_CA_KEY_FILE: join(shared, CA_KEY_FILE) }, silent);
      expect(ca).toMatchObject({ source: "env", fingerprint: made.fingerprint });
      expect(() => statSync(join(dir, CA_CERT_FILE))).toThrow();
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });
});
