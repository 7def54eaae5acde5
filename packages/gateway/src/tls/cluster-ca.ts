import { createPrivateKey, randomBytes, webcrypto, type KeyObject, type X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../logger.js";
import { caFingerprint } from "@omnigate/server-kit/x509";
import { readCertKeyPair, TlsFileError, type PemSource } from "./pem-files.js";
import { x509 } from "@omnigate/server-kit/x509";

export const CA_CERT_FILE = "cluster-ca.crt";
export const CA_KEY_FILE = "cluster-ca.key";

/** A generated CA outlives any deployment; what it signs is short-lived and renewed. */
const CA_VALIDITY_MS = 10 * 365 * 24 * 60 * 60 * 1000;

/** An algorithm WebCrypto signs with, and the same for @peculiar/x509's generators. */
export type SigningAlgorithm = { name: "ECDSA"; hash: "SHA-256" | "SHA-384" } | { name: "RSASSA-PKCS1-v1_5"; hash: "SHA-256" };

/** The cluster's certificate authority: signs the agents' certificates and each gateway's own. */
export interface ClusterCa {
  /** The CA certificate alone (PEM): what agents and clients trust. */
  readonly certPem: string;
  readonly cert: X509Certificate;
  /** The same certificate for @peculiar/x509 (issuer name, key identifier). */
  readonly issuer: InstanceType<typeof x509.X509Certificate>;
  readonly signingKey: webcrypto.CryptoKey;
  readonly signingAlgorithm: SigningAlgorithm;
  /** `sha256:<hex>` of its public key: what agents pin (OMNIGATE_CA_FINGERPRINT). */
  readonly fingerprint: string;
  /** Unix ms. */
  readonly notAfter: number;
  readonly source: "env" | "file" | "generated";
  readonly certFile: string;
}

export interface ClusterCaEnv {
  readonly OMNIGATE_CLUSTER_CA_CERT_FILE?: string | undefined;
  readonly OMNIGATE_CLUSTER_CA_KEY_FILE?: string | undefined;
}

/**
 * The cluster CA: the files the variables name (how several gateways share one), else the pair in
 * the data dir, else a new ECDSA P-256 CA generated there on first start (key mode 0600). Throws a
 * TlsFileError naming the file and the problem for anything it cannot use.
 */
export async function loadClusterCa(dataDir: string, env: ClusterCaEnv, logger: Logger): Promise<ClusterCa> {
  const log = logger.child({ component: "tls" });
  if (env.OMNIGATE_CLUSTER_CA_CERT_FILE && env.OMNIGATE_CLUSTER_CA_KEY_FILE) {
    const ca = await readCa(
      { file: env.OMNIGATE_CLUSTER_CA_CERT_FILE, variable: "OMNIGATE_CLUSTER_CA_CERT_FILE" },
      { file: env.OMNIGATE_CLUSTER_CA_KEY_FILE, variable: "OMNIGATE_CLUSTER_CA_KEY_FILE" },
      "env",
    );
    log.info({ file: ca.certFile, fingerprint: ca.fingerprint }, "cluster CA taken from OMNIGATE_CLUSTER_CA_CERT_FILE");
    return ca;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const cert: PemSource = { file: join(dataDir, CA_CERT_FILE), variable: "the cluster CA in the data dir" };
  const key: PemSource = { file: join(dataDir, CA_KEY_FILE), variable: "the cluster CA key in the data dir" };
  const [hasCert, hasKey] = [existsSync(cert.file), existsSync(key.file)];
  if (hasCert !== hasKey) {
    const [present, missing] = hasCert ? [cert.file, key.file] : [key.file, cert.file];
    throw new TlsFileError(
      `${present} exists but ${missing} does not. Restore it, or delete ${present} to make a new cluster CA (every agent then joins again, with the new fingerprint).`,
    );
  }
  if (hasCert) {
    tightenKeyMode(key.file, log);
    const ca = await readCa(cert, key, "file");
    log.info({ file: ca.certFile, fingerprint: ca.fingerprint }, "cluster CA read from the data dir");
    return ca;
  }
  await writeNewCa(cert.file, key.file);
  const ca = await readCa(cert, key, "generated");
  log.info({ file: ca.certFile, fingerprint: ca.fingerprint }, "generated a new cluster CA (ECDSA P-256); its key stays in the data dir, mode 0600");
  return ca;
}

async function readCa(certSource: PemSource, keySource: PemSource, source: ClusterCa["source"]): Promise<ClusterCa> {
  const pair = readCertKeyPair(certSource, keySource);
  if (!pair.leaf.ca) {
    throw new TlsFileError(`The certificate in ${certSource.file} (${certSource.variable}) is not a CA certificate (its basicConstraints do not say CA:TRUE).`);
  }
  const signingAlgorithm = signingAlgorithmOf(pair.key, keySource);
  const der = pair.key.export({ type: "pkcs8", format: "der" });
  const importParams = signingAlgorithm.name === "ECDSA" ? { name: "ECDSA", namedCurve: signingAlgorithm.hash === "SHA-384" ? "P-384" : "P-256" } : signingAlgorithm;
  const signingKey = await webcrypto.subtle.importKey("pkcs8", der, importParams, false, ["sign"]);
  const certPem = pair.leaf.toString();
  return {
    certPem,
    cert: pair.leaf,
    issuer: new x509.X509Certificate(certPem),
    signingKey: signingKey,
    signingAlgorithm,
    fingerprint: caFingerprint(pair.leaf),
    notAfter: Date.parse(pair.leaf.validTo),
    source,
    certFile: certSource.file,
  };
}

function signingAlgorithmOf(key: KeyObject, source: PemSource): SigningAlgorithm {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === "ec" && curve === "prime256v1") return { name: "ECDSA", hash: "SHA-256" };
  if (key.asymmetricKeyType === "ec" && curve === "secp384r1") return { name: "ECDSA", hash: "SHA-384" };
  if (key.asymmetricKeyType === "rsa" && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const what = key.asymmetricKeyType === "ec" ? `EC ${curve ?? "?"}` : `${key.asymmetricKeyType ?? "unknown"}${key.asymmetricKeyType === "rsa" ? ` ${key.asymmetricKeyDetails?.modulusLength ?? "?"} bits` : ""}`;
  throw new TlsFileError(`The key in ${source.file} (${source.variable}) is ${what}; a cluster CA key must be EC P-256, EC P-384 or RSA of at least 2048 bits.`);
}

/** Generates the CA and writes both files; `wx` so two gateways starting on one data dir cannot both win. */
async function writeNewCa(certFile: string, keyFile: string): Promise<void> {
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=omnigate cluster CA ${randomBytes(4).toString("hex")}, O=omnigate`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + CA_VALIDITY_MS),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      // pathLen 0: the CA signs leaves only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ type: "pkcs8", format: "pem" }) as string;
  writeFileSync(keyFile, keyPem, { mode: 0o600, flag: "wx" });
  writeFileSync(certFile, `${cert.toString("pem")}\n`, { mode: 0o644, flag: "wx" });
}

/**
 * 16 random bytes, first byte 0x40–0x7f: positive (DER integers are signed) and never printed with
 * a leading zero, so the hex a TLS stack reports equals the one stored on the deny list.
 */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = 0x40 | (bytes[0]! & 0x3f);
  return bytes.toString("hex").toUpperCase();
}

function tightenKeyMode(file: string, log: Logger): void {
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  chmodSync(file, 0o600);
  log.warn({ file, mode: mode.toString(8) }, "the cluster CA key was readable by others; set its mode to 0600");
}

