import { readFileSync } from "node:fs";
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";

/** A certificate or key file that cannot be used. The message names the file, its variable and the problem. */
export class TlsFileError extends Error {
  override name = "TlsFileError";
}

/** A PEM file and the variable (or place) that named it, for error messages. */
export interface PemSource {
  readonly file: string;
  readonly variable: string;
}

export interface CertKeyPair {
  /** The certificate file as read: the leaf, then any intermediates. */
  readonly certPem: string;
  readonly keyPem: string;
  readonly leaf: X509Certificate;
  readonly key: KeyObject;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function describe(source: PemSource): string {
  return `${source.file} (${source.variable})`;
}

function readText(source: PemSource): string {
  try {
    return readFileSync(source.file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new TlsFileError(`${describe(source)} does not exist. Point ${source.variable} at a PEM file.`);
    if (code === "EACCES" || code === "EPERM") throw new TlsFileError(`${describe(source)} cannot be read: permission denied (${code}). Let the gateway's user read it.`);
    if (code === "EISDIR") throw new TlsFileError(`${describe(source)} is a directory, not a PEM file.`);
    throw new TlsFileError(`${describe(source)} cannot be read: ${code ?? (err as Error).message}.`);
  }
}

/** The certificates in a PEM file, leaf first; throws naming the file when there is none or one is not X.509. */
export function readCertificates(source: PemSource): { pem: string; chain: X509Certificate[] } {
  const pem = readText(source);
  const blocks = pem.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) throw new TlsFileError(`${describe(source)} holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block).`);
  const chain = blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new TlsFileError(`${describe(source)}: certificate ${i + 1} is not valid X.509 (${(err as Error).message}).`);
    }
  });
  return { pem, chain };
}

/** The private key in a PEM file (PKCS#8, SEC1 or PKCS#1, unencrypted). */
export function readPrivateKey(source: PemSource): { pem: string; key: KeyObject } {
  const pem = readText(source);
  if (/ENCRYPTED/.test(pem)) throw new TlsFileError(`${describe(source)} holds an encrypted private key; give the gateway the key without a passphrase (file mode 0600).`);
  try {
    return { pem, key: createPrivateKey(pem) };
  } catch (err) {
    throw new TlsFileError(`${describe(source)} holds no private key the gateway can read (${(err as Error).message}); it needs a PEM "PRIVATE KEY", "EC PRIVATE KEY" or "RSA PRIVATE KEY" block.`);
  }
}

/** A certificate with its key, checked to belong together and to be valid now. */
export function readCertKeyPair(cert: PemSource, key: PemSource, now = Date.now()): CertKeyPair {
  const { pem: certPem, chain } = readCertificates(cert);
  const { pem: keyPem, key: keyObject } = readPrivateKey(key);
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(keyObject)) {
    throw new TlsFileError(`The key in ${describe(key)} does not belong to the certificate in ${describe(cert)}: give the key the certificate was issued for.`);
  }
  const notAfter = Date.parse(leaf.validTo);
  if (notAfter <= now) throw new TlsFileError(`The certificate in ${describe(cert)} expired on ${new Date(notAfter).toISOString()}; renew it.`);
  return { certPem, keyPem, leaf, key: keyObject };
}
