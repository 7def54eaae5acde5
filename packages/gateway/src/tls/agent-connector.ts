import type { TLSSocket } from "node:tls";
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

  /**
   * The `connect` option of an undici Pool or Agent: the deny list is checked once the handshake
   * is done, before a byte of the request goes out.
   */
  readonly connect: buildConnector.connector = (options, callback) =>
    this.#connect(options, (err, socket) => {
      if (err) return callback(err, null);
      // A loopback agent in plain HTTP (the dispatcher serves those too): nothing to check.
      if (options.protocol !== "https:") return callback(null, socket!);
      const serial = (socket as TLSSocket).getPeerCertificate().serialNumber;
      if (serial === undefined || this.deny.has(serial)) {
        socket!.destroy();
        const what = serial === undefined ? "no certificate" : `certificate ${serial}, revoked when its node was removed`;
        return callback(new RevokedCertificateError(`the agent at ${options.hostname}:${options.port} presented ${what}`), null);
      }
      callback(null, socket!);
    });

  #build(): buildConnector.connector {
    const { keyPem, pem } = this.identity.current;
    return buildConnector({
      ca: this.caPem,
      key: keyPem,
      cert: pem,
      minVersion: "TLSv1.3",
      timeout: this.connectTimeoutMs,
      // No session resumption: a resumed session skips certificate checks and shows no peer
      // certificate, so an agent revoked since the first handshake would get through. Connections
      // are kept alive, so a full handshake is paid once per connection, not per request.
      maxCachedSessions: 0,
    });
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}
