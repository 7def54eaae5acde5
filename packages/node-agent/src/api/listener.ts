import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import { endpointOf } from "@omnigate/shared/endpoints";
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
  /** Counts and times every data-plane request (api/metrics.ts). */
  readonly track: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * The agent's HTTP server, as main.ts runs it and the tests drive it. Inference skips Express (its
 * routing and request decoration cost more CPU than the rest of the agent hop): the nine endpoints
 * go straight to the data plane after the node-secret check; everything else to the app.
 */
export function createAgentServer(deps: AgentServerDeps): Server {
  const { app, auth, dataPlane, track } = deps;
  // noDelay: a streamed chunk goes out at once, not after Nagle waits for the previous one's ACK.
  return createServer({ noDelay: true }, (req, res) => {
    track(req, res);
    const spec = dataPlane ? endpointOf(req.method, req.url) : undefined;
    if (!spec) {
      app(req, res);
      return;
    }
    // Every answer carries the gateway's id (or a new one), a refusal too: both logs can name it.
    res.setHeader("X-Request-Id", requestIdOf(req));
    const denial = auth.check(req);
    if (denial) {
      // The body is not wanted: the answer drops it, bounded (a lingering close).
      sendApiError(res, denial);
      return;
    }
    dataPlane!.serve(spec, req, res);
  });
}
