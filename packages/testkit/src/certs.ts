/**
 * Certificates the TLS tests make themselves: CAs (a stand-in "public" CA for the front door, a
 * foreign one a client must be refused for), leaves signed by any of them — the cluster CA too,
 * given its files — with any validity, and CSRs as an agent would send them.
 */
// @peculiar/x509 resolves its parsers through tsyringe, which needs the Reflect polyfill first.
import "reflect-metadata";
import { X509Certificate, createHash, createPrivateKey, randomBytes, webcrypto } from "node:crypto";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 24 * 60 * 60 * 1000;

export interface TestCa {
  readonly certPem: string;
  readonly keyPem: string;
  readonly cert: InstanceType<typeof x509.X509Certificate>;
  readonly key: webcrypto.CryptoKey;
}

export interface CertAndKey {
  readonly certPem: string;
  readonly keyPem: string;
  /** Upper-case hex, as Node's TLS reports it. */
  readonly serial: string;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = 0x40 | (b[0]! & 0x3f);
  return b.toString("hex").toUpperCase();
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
}

async function pkcs8Pem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({ type: "pkcs8", format: "pem" }) as string;
}

function sanEntry(host: string): { type: "ip" | "dns"; value: string } {
  return { type: isIP(host) ? "ip" : "dns", value: host };
}

/** A new self-signed EC P-256 CA. */
export async function makeCa(name = "omnigate test CA"): Promise<TestCa> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 365 * DAY),
    keys,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: `${cert.toString("pem")}\n`, keyPem: await pkcs8Pem(keys.privateKey), cert, key: keys.privateKey };
}

/** A CA from its PEM files (the cluster CA in a gateway's data dir), to sign test certificates with. */
export async function loadCa(certFile: string, keyFile: string): Promise<TestCa> {
  const [certPem, keyPem] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
  const der = createPrivateKey(keyPem).export({ type: "pkcs8", format: "der" });
  const key = await webcrypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  return { certPem, keyPem, cert: new x509.X509Certificate(certPem), key };
}

export interface LeafOptions {
  /** DNS names or IPs; a server certificate's SAN. */
  readonly hosts?: readonly string[];
  readonly usage: "server" | "client";
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly subject?: string;
}

/** A leaf certificate and its new key, signed by `ca`. */
export async function issueCert(ca: TestCa, options: LeafOptions): Promise<CertAndKey> {
  const keys = await keyPair();
  const certPem = await sign(ca, keys.publicKey, options);
  return { certPem, keyPem: await pkcs8Pem(keys.privateKey), serial: new X509Certificate(certPem).serialNumber };
}

/** A certificate for the key in `csrPem`, signed by `ca` (as a gateway answers a CSR, without its checks). */
export async function signCsr(ca: TestCa, csrPem: string, options: LeafOptions): Promise<string> {
  return sign(ca, await new x509.Pkcs10CertificateRequest(csrPem).publicKey.export(), options);
}

async function sign(ca: TestCa, publicKey: webcrypto.CryptoKey, options: LeafOptions): Promise<string> {
  const serialNumber = serial();
  const extensions: InstanceType<typeof x509.Extension>[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([options.usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
  ];
  if (options.hosts?.length) extensions.push(new x509.SubjectAlternativeNameExtension(options.hosts.map(sanEntry)));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: options.subject ?? `CN=${options.hosts?.[0] ?? "omnigate test client"}`,
    issuer: ca.cert.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY),
    notAfter: options.notAfter ?? new Date(Date.now() + 30 * DAY),
    signingKey: ca.key,
    publicKey,
    signingAlgorithm: EC,
    extensions,
  });
  return `${cert.toString("pem")}\n`;
}

/** A PKCS#10 request as an agent sends it: a new EC P-256 key, the given SANs (default none). */
export async function makeCsr(hosts: readonly string[] = []): Promise<{ csrPem: string; keyPem: string }> {
  const keys = await keyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: "CN=omnigate test node",
    keys,
    signingAlgorithm: EC,
    extensions: hosts.length ? [new x509.SubjectAlternativeNameExtension(hosts.map(sanEntry))] : [],
  });
  return { csrPem: csr.toString("pem"), keyPem: await pkcs8Pem(keys.privateKey) };
}

/** The pin omnigate prints for a CA: `sha256:` and the hex SHA-256 of its SubjectPublicKeyInfo. */
export function fingerprintOf(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
  return `sha256:${createHash("sha256").update(spki).digest("hex")}`;
}

/** Serial of a PEM certificate, upper-case hex. */
export function serialOf(certPem: string): string {
  return new X509Certificate(certPem).serialNumber;
}
