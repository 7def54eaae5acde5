import { createPrivateKey, webcrypto } from "node:crypto";
import { isIP } from "node:net";
import { CLUSTER_SERVER_NAME } from "@omnigate/shared/tls";
import { randomSerial, type ClusterCa } from "./cluster-ca.js";
import { x509 } from "@omnigate/server-kit/x509";

/**
 * How far back a fresh certificate's notBefore goes: a box whose clock runs a few minutes behind
 * the gateway's must not find its new certificate "not yet valid".
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** A CSR the gateway will not sign; the message says what to change. Answered 400 (param `csr`). */
export class CsrError extends Error {
  override name = "CsrError";
}

export interface IssuedCertificate {
  readonly pem: string;
  /** Upper-case hex, as Node's TLS reports a peer certificate's serial. */
  readonly serial: string;
  /** Unix ms. */
  readonly notBefore: number;
  readonly notAfter: number;
}

/** A certificate the gateway made for itself, with its key (kept in memory only). */
export interface OwnCertificate extends IssuedCertificate {
  readonly keyPem: string;
}

type SanEntry = { type: "ip" | "dns"; value: string };

const SUBJECT_ALT_NAME_OID = "2.5.29.17";
const EC_CURVES = new Set(["P-256", "P-384"]);

/** Signs certificates with the cluster CA: the agents' (from their CSRs) and the gateway's own. */
export class CertificateIssuer {
  constructor(
    private readonly ca: ClusterCa,
    /** Lifetime of what it issues (OMNIGATE_NODE_CERT_TTL_S). */
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * An agent's server certificate for the host it advertises. The CSR must verify, carry an EC
   * P-256 or P-384 key and ask for exactly that host as its subject alternative name; subject and
   * extensions are the gateway's own, never copied from the request.
   */
  async issueForNode(csrPem: string, host: string, runtimeId: string): Promise<IssuedCertificate> {
    const csr = parseCsr(csrPem);
    const publicKey = await checkedKey(csr);
    const expected = sanOf(host);
    if (expected.type === "dns" && expected.value === CLUSTER_SERVER_NAME) {
      throw new CsrError(`${CLUSTER_SERVER_NAME} names the gateway, never an agent: advertise the agent's own host in agent_url.`);
    }
    const asked = requestedNames(csr);
    if (asked.length !== 1 || !sameName(asked[0]!, expected)) {
      const list = asked.length === 0 ? "no subject alternative name" : asked.map((n) => `${n.type.toUpperCase()}:${n.value}`).join(", ");
      throw new CsrError(`csr asks for ${list}, but the agent advertises ${host} in agent_url: its only subject alternative name must be ${expected.type.toUpperCase()}:${expected.value}.`);
    }
    return this.#sign({ subject: `CN=${runtimeId}, O=omnigate node`, publicKey, names: [expected], usage: "server" });
  }

  /**
   * A client certificate for a scraper of agents (`name` is its common name, checked by the API),
   * living `ttlMs`. Agents accept any client certificate of the cluster CA at the handshake; what
   * it may do there is up to the credential it sends after (the metrics token: /metrics only).
   */
  async issueForClient(csrPem: string, name: string, ttlMs: number): Promise<IssuedCertificate> {
    const csr = parseCsr(csrPem);
    const publicKey = await checkedKey(csr);
    return this.#sign({ subject: `CN=${name}, O=omnigate client`, publicKey, names: [], usage: "client", ttlMs });
  }

  /** A certificate for this gateway, with a fresh key: a client one (to call agents) or a server one (its listener). */
  async issueForGateway(usage: "client" | "server", names: readonly string[] = []): Promise<OwnCertificate> {
    const algorithm = { name: "ECDSA", namedCurve: "P-256" };
    const keys = (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
    const cert = await this.#sign({ subject: `CN=omnigate gateway, O=omnigate`, publicKey: keys.publicKey, names: names.map(sanOf), usage });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
    const keyPem = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ type: "pkcs8", format: "pem" }) as string;
    return { ...cert, keyPem };
  }

  async #sign(spec: { subject: string; publicKey: webcrypto.CryptoKey; names: SanEntry[]; usage: "client" | "server"; ttlMs?: number }): Promise<IssuedCertificate> {
    const now = this.now();
    const notBefore = now - CLOCK_SKEW_MS;
    const notAfter = now + (spec.ttlMs ?? this.ttlMs);
    const serial = randomSerial();
    const extensions: InstanceType<typeof x509.Extension>[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      // One purpose each: an agent's certificate cannot call another agent as a gateway, and a
      // gateway's client certificate cannot stand in for an agent.
      new x509.ExtendedKeyUsageExtension([spec.usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(this.ca.issuer),
      await x509.SubjectKeyIdentifierExtension.create(spec.publicKey),
    ];
    if (spec.names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(spec.names));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: spec.subject,
      issuer: this.ca.issuer.subject,
      notBefore: new Date(notBefore),
      notAfter: new Date(notAfter),
      signingKey: this.ca.signingKey,
      publicKey: spec.publicKey,
      signingAlgorithm: this.ca.signingAlgorithm,
      extensions,
    });
    // Whole seconds: what the certificate carries.
    return { pem: `${cert.toString("pem")}\n`, serial, notBefore: Math.floor(notBefore / 1000) * 1000, notAfter: Math.floor(notAfter / 1000) * 1000 };
  }
}

function parseCsr(pem: string): InstanceType<typeof x509.Pkcs10CertificateRequest> {
  if (!/-----BEGIN CERTIFICATE REQUEST-----/.test(pem)) throw new CsrError('csr must be a PEM "CERTIFICATE REQUEST" (PKCS#10).');
  try {
    return new x509.Pkcs10CertificateRequest(pem);
  } catch (err) {
    throw new CsrError(`csr is not a valid PKCS#10 request (${(err as Error).message}).`);
  }
}

/** The CSR's key, once it is EC P-256 or P-384 and the CSR is signed by it. */
async function checkedKey(csr: InstanceType<typeof x509.Pkcs10CertificateRequest>): Promise<webcrypto.CryptoKey> {
  const key = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
  if (key.name !== "ECDSA" || !EC_CURVES.has(key.namedCurve ?? "")) {
    const what = [key.name ?? "unknown", key.namedCurve].filter(Boolean).join(" ");
    throw new CsrError(`csr carries a ${what} key; keys must be EC P-256 or P-384.`);
  }
  if (!(await csr.verify())) throw new CsrError("csr's signature does not verify: it was not signed by the key it carries.");
  return csr.publicKey.export();
}

function requestedNames(csr: InstanceType<typeof x509.Pkcs10CertificateRequest>): SanEntry[] {
  const ext = csr.getExtension(SUBJECT_ALT_NAME_OID);
  if (!ext) return [];
  const names = new x509.SubjectAlternativeNameExtension(ext.rawData).names.toJSON();
  return names.map((n) => ({ type: n.type === "ip" ? "ip" : n.type === "dns" ? "dns" : (n.type as "dns"), value: n.value }));
}

/** The SAN entry a host is named by: an IP address or a DNS name (lower case). */
export function sanOf(host: string): SanEntry {
  const bare = host.replace(/^\[|\]$/g, "");
  return isIP(bare) ? { type: "ip", value: canonicalIp(bare) } : { type: "dns", value: bare.toLowerCase() };
}

function sameName(a: SanEntry, b: SanEntry): boolean {
  if (a.type !== b.type) return false;
  return a.type === "ip" ? canonicalIp(a.value) === canonicalIp(b.value) : a.value.toLowerCase() === b.value.toLowerCase();
}

/** One spelling per address ("0:0::1" and "::1" alike), as the URL parser writes it. */
function canonicalIp(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}
