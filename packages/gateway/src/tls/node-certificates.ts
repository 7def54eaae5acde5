import { ApiError } from "@omnigate/shared/errors";
import type { CertificateAnswer, HeartbeatParsed, NodeCertificateView, NodeRegistrationParsed } from "@omnigate/shared/node-protocol";
import { isLoopbackHost, urlHost } from "@omnigate/shared/tls";
import type { Logger } from "../logger.js";
import type { NodeCertificateStore } from "../store/cert-store.js";
import { CLOCK_SKEW_MS, CsrError, type CertificateIssuer, type IssuedCertificate } from "./certificate-issuer.js";

/**
 * A renewal CSR is signed only once the current certificate is this far into its life: an agent
 * renews at half, so this leaves room for clock skew while a misbehaving agent cannot have a
 * certificate signed on every heartbeat.
 */
const RENEWABLE_AFTER = 0.4;

export interface NodeCertificatesDeps {
  readonly issuer: CertificateIssuer;
  readonly store: NodeCertificateStore;
  /** The cluster CA (PEM), sent with every answer: the agents trust gateways' client certificates by it. */
  readonly caPem: string;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** What registration and heartbeats get from the cluster CA, and what removing a node revokes. */
export class NodeCertificates {
  readonly #d: NodeCertificatesDeps;
  readonly #now: () => number;
  readonly #log: Logger;

  constructor(deps: NodeCertificatesDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#log = deps.logger.child({ component: "tls" });
  }

  /**
   * The certificate part of a registration's answer; throws the 400 or 403 for it. An agent that
   * advertises https sends a CSR and gets its certificate; one on loopback in plain HTTP gets only
   * the CA. Plain HTTP to another host is refused: prompts and the node secret would cross the network in clear.
   */
  async register(registration: NodeRegistrationParsed): Promise<{ answer: CertificateAnswer; certificate: NodeCertificateView | null }> {
    const runtimeId = registration.runtime_id;
    if (this.#d.store.isNodeRevoked(runtimeId)) {
      throw new ApiError(
        "node_revoked",
        `Node ${runtimeId} was removed from the cluster (DELETE /api/nodes/${runtimeId}) and may not register again. To join this box again, delete the runtime-id file in the agent's OMNIGATE_STATE_DIR: it then joins as a new node.`,
        "runtime_id",
      );
    }
    const url = new URL(registration.agent_url);
    const host = urlHost(registration.agent_url);
    if (url.protocol === "http:") {
      if (!isLoopbackHost(host)) {
        throw new ApiError(
          "invalid_request",
          `agent_url ${registration.agent_url} is plain HTTP to another host: prompts and the node secret would cross the network in clear. An agent that listens beyond loopback serves HTTPS and advertises https:// (update the agent).`,
          "agent_url",
        );
      }
      return { answer: { ca_certificate: this.#d.caPem }, certificate: null };
    }
    if (registration.csr === undefined) {
      throw new ApiError("invalid_request", "agent_url is https, so the registration needs a csr: a PKCS#10 request (PEM) for the agent's key, naming agent_url's host.", "csr");
    }
    const cert = await this.#issue(registration.csr, host, runtimeId);
    this.#log.info({ runtime_id: runtimeId, host, serial: cert.serial, not_after: new Date(cert.notAfter).toISOString() }, "issued a node certificate");
    return { answer: { certificate: cert.pem, ca_certificate: this.#d.caPem }, certificate: viewOf(cert) };
  }

  /** A renewal, when the heartbeat carries a CSR and the current certificate is far enough into its life. */
  async renew(current: NodeCertificateView | null, heartbeat: HeartbeatParsed): Promise<{ answer: CertificateAnswer; certificate: NodeCertificateView } | null> {
    if (heartbeat.csr === undefined || !heartbeat.agent_url.startsWith("https:")) return null;
    if (current) {
      // notBefore is back-dated for clock skew: the life counts from the issue.
      const issued = current.not_before + CLOCK_SKEW_MS;
      if (this.#now() < issued + (current.not_after - issued) * RENEWABLE_AFTER) return null;
    }
    const cert = await this.#issue(heartbeat.csr, urlHost(heartbeat.agent_url), heartbeat.runtime_id);
    this.#log.info({ runtime_id: heartbeat.runtime_id, serial: cert.serial, not_after: new Date(cert.notAfter).toISOString() }, "renewed a node certificate");
    return { answer: { certificate: cert.pem, ca_certificate: this.#d.caPem }, certificate: viewOf(cert) };
  }

  /** Whether the node ever got a certificate (so it can be removed although the registry forgot it). */
  known(runtimeId: string): boolean {
    return this.#d.store.hasCertificates(runtimeId);
  }

  isRevoked(runtimeId: string): boolean {
    return this.#d.store.isNodeRevoked(runtimeId);
  }

  /** Bars the node and puts its unexpired certificates on the deny list (every gateway's); returns their serials. */
  async revoke(runtimeId: string): Promise<string[]> {
    const serials = await this.#d.store.revokeNode(runtimeId, this.#now());
    this.#log.warn({ runtime_id: runtimeId, serials }, "node removed: its certificates are revoked");
    return serials;
  }

  /** A scraper's client certificate (POST /api/cluster/client-certificates); a bad CSR is a 400. */
  async issueForClient(csr: string, name: string, days: number): Promise<IssuedCertificate> {
    let cert: IssuedCertificate;
    try {
      cert = await this.#d.issuer.issueForClient(csr, name, days * 86_400_000);
    } catch (err) {
      if (err instanceof CsrError) throw new ApiError("invalid_request", err.message, "csr");
      throw err;
    }
    this.#log.info({ name, serial: cert.serial, not_after: new Date(cert.notAfter).toISOString() }, "client certificate issued");
    return cert;
  }

  /** The cluster CA (PEM). */
  get caPem(): string {
    return this.#d.caPem;
  }

  async #issue(csr: string, host: string, runtimeId: string): Promise<IssuedCertificate> {
    let cert: IssuedCertificate;
    try {
      cert = await this.#d.issuer.issueForNode(csr, host, runtimeId);
    } catch (err) {
      if (err instanceof CsrError) throw new ApiError("invalid_request", err.message, "csr");
      throw err;
    }
    const now = this.#now();
    await this.#d.store.record({ serial: cert.serial, runtimeId, notBefore: cert.notBefore, notAfter: cert.notAfter }, now);
    // Expired certificates fail every handshake anyway: the table holds only live ones.
    await this.#d.store.prune(now);
    return cert;
  }
}

function viewOf(cert: IssuedCertificate): NodeCertificateView {
  return { serial: cert.serial, not_before: cert.notBefore, not_after: cert.notAfter };
}
