import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { Agent, buildConnector } from "undici";
import type { DenyList } from "./deny-list.js";
import type { RenewingCertificate } from "./renewing-certificate.js";

/** A handshake with an agent whose certificate is on the deny list (its node was removed). */
export class RevokedCertificateError extends Error {
  override name = "RevokedCertificateError";
  readonly code = "ERR_OMNIGATE_CERTIFICATE_REVOKED";
}

/**
 * How this gateway opens connections to agents that serve HTTPS: it presents its own client
 * certificate (from the cluster CA), and accepts an agent only when its certificate chains to the
 * cluster CA, names agent_url's host, and is not on the deny list. TLS 1.3 only: both ends are
 * omnigate. Every pool to an https agent and every one-off call (a model delete) goes through
 * `connect`, which always uses the current client certificate.
 */
export class AgentConnector {
  #connect: buildConnector.connector;
  /** For one-off calls to agents (undici's `request(url, { dispatcher })`). */
  readonly dispatcher: Agent;

  constructor(
    private readonly identity: RenewingCertificate,
    private readonly caPem: string,
    private readonly deny: DenyList,
    private readonly connectTimeoutMs: number,
  ) {
    this.#connect = this.#build();
    // A renewed client certificate is used from the next new connection on; open ones carry on.
    identity.on("renewed", () => (this.#connect = this.#build()));
    this.dispatcher = new Agent({ connect: this.connect });
  }

  /** The `connect` option of an undici Pool or Agent. */
  readonly connect: buildConnector.connector = (options, callback) => this.#connect(options, callback);

  #build(): buildConnector.connector {
    const { keyPem, pem } = this.identity.current;
    return buildConnector({
      ca: this.caPem,
      key: keyPem,
      cert: pem,
      minVersion: "TLSv1.3",
      timeout: this.connectTimeoutMs,
      checkServerIdentity: (host: string, cert: PeerCertificate) => {
        const wrongName = checkServerIdentity(host, cert);
        if (wrongName) return wrongName;
        if (this.deny.has(cert.serialNumber)) {
          return new RevokedCertificateError(`the agent at ${host} presented certificate ${cert.serialNumber}, revoked when its node was removed`);
        }
        return undefined;
      },
    });
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}
