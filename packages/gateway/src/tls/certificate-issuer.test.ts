import { X509Certificate, createPrivateKey, webcrypto } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCsr } from "@omnigate/testkit/certs";
import { CLOCK_SKEW_MS, CertificateIssuer, CsrError, sanOf } from "./certificate-issuer.js";
import { loadClusterCa, type ClusterCa } from "./cluster-ca.js";
import { x509 } from "@omnigate/server-kit/x509";

let dir: string;
let ca: ClusterCa;
const NOW = Date.UTC(2026, 0, 1);
const TTL = 7 * 86_400_000;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "og-issuer-"));
  ca = await loadClusterCa(dir, {}, pino({ level: "silent" }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("CertificateIssuer", () => {
  it("signs a node's CSR for its host only: server purpose, back-dated notBefore, the TTL, a positive serial", async () => {
    const issuer = new CertificateIssuer(ca, TTL, () => NOW);
    const { csrPem, keyPem } = await makeCsr(["10.0.0.7"]);
    const issued = await issuer.issueForNode(csrPem, "10.0.0.7", "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f");
    const cert = new X509Certificate(issued.pem);
    expect(cert.verify(ca.cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(cert.subjectAltName).toBe("IP Address:10.0.0.7");
    expect(cert.subject).toContain("CN=6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f");
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(Date.parse(cert.validFrom)).toBe(NOW - CLOCK_SKEW_MS);
    expect(Date.parse(cert.validTo)).toBe(NOW + TTL);
    expect(issued).toMatchObject({ serial: cert.serialNumber, notBefore: NOW - CLOCK_SKEW_MS, notAfter: NOW + TTL });
    expect(issued.serial).toMatch(/^[4-7][0-9A-F]{31}$/);
  });

  it("compares IPv6 hosts in any spelling and DNS names in any case", async () => {
    const issuer = new CertificateIssuer(ca, TTL);
    await expect(issuer.issueForNode((await makeCsr(["0:0:0:0:0:0:0:1"])).csrPem, "[::1]", "id")).resolves.toBeDefined();
    await expect(issuer.issueForNode((await makeCsr(["GPU-1.Example"])).csrPem, "gpu-1.example", "id")).resolves.toBeDefined();
    expect(sanOf("[::1]")).toEqual({ type: "ip", value: "::1" });
  });

  it("refuses a CSR whose key is not EC P-256/P-384, or whose signature does not verify", async () => {
    const issuer = new CertificateIssuer(ca, TTL);
    const rsa = (await webcrypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      true,
      ["sign", "verify"],
    )) as webcrypto.CryptoKeyPair;
    const rsaCsr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: "CN=x",
      keys: rsa,
      signingAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: "ip", value: "127.0.0.1" }])],
    });
    await expect(issuer.issueForNode(rsaCsr.toString("pem"), "127.0.0.1", "id")).rejects.toThrow(/RSASSA-PKCS1-v1_5 key; keys must be EC P-256 or P-384/);

    // Flip a byte of the signature (the DER ends with it): the request no longer verifies.
    const { csrPem } = await makeCsr(["127.0.0.1"]);
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    der.writeUInt8(der.readUInt8(der.length - 2) ^ 0xff, der.length - 2);
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    const err = await issuer.issueForNode(tampered, "127.0.0.1", "id").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CsrError);
  });

  it("issues the gateway's own certificates with fresh keys: client purpose, or server with its names", async () => {
    const issuer = new CertificateIssuer(ca, TTL);
    const client = await issuer.issueForGateway("client");
    const clientCert = new X509Certificate(client.pem);
    expect(clientCert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(clientCert.checkPrivateKey(createPrivateKey(client.keyPem))).toBe(true);
    const server = await issuer.issueForGateway("server", ["gateway.omnigate.invalid", "127.0.0.1"]);
    expect(new X509Certificate(server.pem).subjectAltName).toBe("DNS:gateway.omnigate.invalid, IP Address:127.0.0.1");
    expect(server.keyPem).not.toBe(client.keyPem);
  });
});
