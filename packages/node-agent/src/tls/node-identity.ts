import { X509Certificate, createPrivateKey, webcrypto } from "node:crypto";
import { isIP } from "node:net";
import type { CertificateAnswer } from "@omnigate/shared/node-protocol";
import type { Logger } from "../logger.js";
import { caFingerprint } from "@omnigate/server-kit/x509";
import { x509 } from "@omnigate/server-kit/x509";

/** The gateway answered with a CA other than the pinned one: this agent must not join it. */
export class JoinRefusedError extends Error {
  override name = "JoinRefusedError";
}

/** What the agent's listener serves and whose client certificates it accepts. */
export interface ServedCredentials {
  readonly key: string;
  readonly cert: string;
  /** The cluster CA (PEM): only clients with a certificate from it get through the handshake. */
  readonly ca: string;
}

export interface NodeIdentityOptions {
  /** agent_url's host: the one name the certificate is asked for. */
  readonly host: string;
  readonly runtimeId: string;
  /** The pinned cluster CA fingerprint; unset = whatever CA the (system-trusted) gateway sends. */
  readonly pin: string | undefined;
  /** Puts a new certificate into service (the listener's setSecureContext). */
  readonly serve: (credentials: ServedCredentials) => void;
  readonly logger: Logger;
  readonly now?: () => number;
}

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/**
 * The agent's TLS identity. Each request for a certificate makes a fresh EC P-256 key that never
 * leaves this process (not even to disk: a restarted agent registers again and gets a new one);
 * the CSR names agent_url's host. An answered certificate is checked against the key, the host and
 * the CA (the pinned one, if any) before the listener serves it. Renewal is due at half its life.
 */
export class NodeIdentity {
  readonly #o: NodeIdentityOptions;
  readonly #now: () => number;
  /** The key of the CSR last sent, waiting for its certificate. */
  #pending: { keyPem: string } | undefined;
  #renewAt = Number.POSITIVE_INFINITY;
  #notAfter: number | null = null;

  constructor(options: NodeIdentityOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Unix ms when the served certificate expires; null before the first one. */
  get notAfter(): number | null {
    return this.#notAfter;
  }

  /** A CSR for a registration: always a new key. */
  async registrationCsr(): Promise<string> {
    return this.#newCsr();
  }

  /** A CSR when the certificate is past half its life, else undefined. */
  async renewalCsr(): Promise<string | undefined> {
    return this.#now() >= this.#renewAt ? this.#newCsr() : undefined;
  }

  /**
   * Serves the certificate the gateway answered a CSR with. Throws JoinRefusedError when the CA is
   * not the pinned one, and a plain Error when the answer does not fit the CSR (the caller retries).
   */
  accept(answer: CertificateAnswer): void {
    const { certificate, ca_certificate: caPem } = answer;
    if (!certificate || !caPem) throw new Error("the gateway answered the CSR without a certificate and its CA; is it older than this agent?");
    const pending = this.#pending;
    if (!pending) throw new Error("a certificate arrived for no pending CSR");
    const fingerprint = caFingerprint(caPem);
    if (this.#o.pin !== undefined && fingerprint !== this.#o.pin) {
      throw new JoinRefusedError(`the gateway's cluster CA is ${fingerprint}, not the pinned OMNIGATE_CA_FINGERPRINT ${this.#o.pin}`);
    }
    const cert = new X509Certificate(certificate);
    const ca = new X509Certificate(caPem);
    if (!cert.checkPrivateKey(createPrivateKey(pending.keyPem))) throw new Error("the certificate from the gateway is not for this agent's key");
    if (!cert.verify(ca.publicKey)) throw new Error("the certificate from the gateway is not signed by the CA it sent");
    const host = this.#o.host;
    if (!(isIP(host) ? cert.checkIP(host) : cert.checkHost(host))) throw new Error(`the certificate from the gateway does not name ${host}`);
    this.#o.serve({ key: pending.keyPem, cert: certificate, ca: caPem });
    this.#pending = undefined;
    const now = this.#now();
    this.#notAfter = Date.parse(cert.validTo);
    // Half of the life left as this agent sees it: the gateway's clock only enters through notAfter.
    this.#renewAt = now + (this.#notAfter - now) / 2;
    this.#o.logger.info({ serial: cert.serialNumber, not_after: new Date(this.#notAfter).toISOString(), renew_at: new Date(this.#renewAt).toISOString(), ca: fingerprint }, "serving a new TLS certificate");
  }

  async #newCsr(): Promise<string> {
    const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
    const host = this.#o.host;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${this.#o.runtimeId}`,
      keys,
      signingAlgorithm: ALGORITHM,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: isIP(host) ? "ip" : "dns", value: host }])],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
    this.#pending = { keyPem: createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ type: "pkcs8", format: "pem" }) as string };
    return csr.toString("pem");
  }
}
