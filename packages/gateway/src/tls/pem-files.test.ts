import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCert, makeCa } from "@omnigate/testkit/certs";
import { readCertKeyPair, readPrivateKey } from "./pem-files.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "og-pem-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const src = (name: string, variable = "OMNIGATE_TLS_CERT_FILE") => ({ file: join(dir, name), variable });

describe("PEM files", () => {
  it("reads a chain (leaf first) with its key", async () => {
    const ca = await makeCa();
    const leaf = await issueCert(ca, { usage: "server", hosts: ["example.test"] });
    writeFileSync(join(dir, "chain.crt"), leaf.certPem + ca.certPem);
    writeFileSync(join(dir, "leaf.key"), leaf.keyPem);
    const pair = readCertKeyPair(src("chain.crt"), src("leaf.key", "OMNIGATE_TLS_KEY_FILE"));
    expect(pair.leaf.serialNumber).toBe(leaf.serial);
    expect(pair.certPem).toContain(ca.certPem.trim());
  });

  it("refuses an encrypted key, saying so", () => {
    writeFileSync(join(dir, "enc.key"), "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");
    expect(() => readPrivateKey(src("enc.key", "OMNIGATE_TLS_KEY_FILE"))).toThrow(/enc\.key \(OMNIGATE_TLS_KEY_FILE\) holds an encrypted private key/);
  });
});
