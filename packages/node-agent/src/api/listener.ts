import { createServer, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { endpointOf } from "@omnigate/shared/endpoints";
import { RequestTiming, type RequestMetrics } from "@omnigate/server-kit/request-metrics";
import { requestIdOf } from "@omnigate/server-kit/request-id";
import { sendApiError } from "@omnigate/server-kit/respond";
import type { NodeSecretAuth } from "./auth.js";
import type { AgentDataPlane } from "./data-plane.js";

export interface AgentServerDeps {
  /** Everything that is not inference: `/healthz`, `DELETE /api/models/…`, `/metrics` (api/agent-app.ts). */
  readonly app: RequestListener;
  readonly auth: NodeSecretAuth;
  /** The nine inference endpoints; without it (no engines) they go to the app, which answers 404. */
  readonly dataPlane?: AgentDataPlane;
  /** Where every data-plane request is counted and timed, a refused one too (api/metrics.ts). */
  readonly requests: RequestMetrics;
  /**
   * Serve HTTPS with mutual TLS: only clients presenting a certificate from the cluster CA complete
   * the handshake. The server starts without a certificate (every handshake fails) until
   * `serveCredentials` installs the one the gateway signed.
   */
  readonly tls?: boolean;
}

/** The agent's TLS: 1.3 only (its only client is an omnigate gateway), HTTP/1.1, client certificates required. */
export const AGENT_TLS_OPTIONS = { minVersion: "TLSv1.3" } as const;

/** The agent's listener: plain HTTP on loopback, else HTTPS. */
export type AgentServer = Server | HttpsServer;

/** Installs a (renewed) certificate and CA on an HTTPS agent server: new connections use it, open ones keep theirs. */
export function serveCredentials(server: HttpsServer, credentials: { key: string; cert: string; ca: string }): void {
  server.setSecureContext({ ...AGENT_TLS_OPTIONS, ...credentials });
}

/**
 * The agent's HTTP server, as main.ts runs it and the tests drive it. Inference skips Express (its
 * routing and request decoration cost more CPU than the rest of the agent hop): the nine endpoints
 * go straight to the data plane after the node-secret check; everything else to the app.
 */
export function createAgentServer(deps: AgentServerDeps): AgentServer {
  const { app, auth, dataPlane, requests } = deps;
  const handler: RequestListener = (req, res) => {
    const spec = dataPlane ? endpointOf(req.method, req.url) : undefined;
    if (!spec) {
      app(req, res);
      return;
    }
    const timing = new RequestTiming();
    res.once("close", () => requests.finish(timing, spec.capability, res));
    // Every answer carries the gateway's id (or a new one), a refusal too: both logs can name it.
    res.setHeader("X-Request-Id", requestIdOf(req));
    const denial = auth.check(req);
    if (denial) {
      // The body is not wanted: the answer drops it, bounded (a lingering close).
      sendApiError(res, denial);
      return;
    }
    dataPlane!.serve(spec, req, res, timing);
  };
  // noDelay: a streamed chunk goes out at once, not after Nagle waits for the previous one's ACK.
  if (!deps.tls) return createServer({ noDelay: true }, handler);
  return createHttpsServer({ noDelay: true, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ["http/1.1"], ...AGENT_TLS_OPTIONS }, handler);
}
