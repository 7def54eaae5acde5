import { Router, type Request } from "express";
import {
  Heartbeat,
  NodeRegistration,
  type HeartbeatResponse,
  type NodeView,
  type RegisterResponse,
} from "@omnigate/shared/node-protocol";
import { parseBody } from "@omnigate/shared/validation";
import { ApiError } from "@omnigate/shared/errors";
import type { Logger } from "../logger.js";
import type { ModelStore } from "../store/model-store.js";
import { bearerOf, type Authenticator } from "../auth/authenticator.js";
import {
  ADMIN_ONLY,
  NODE_TOKEN_ONLY,
  invalidCredential,
  missingCredential,
  requireAuth,
  wrongCredential,
} from "../auth/require-auth.js";
import type { NodeEntry, NodeRegistry } from "./node-registry.js";

export interface NodeRoutesDeps {
  readonly models: ModelStore;
  readonly nodes: NodeRegistry;
  readonly auth: Authenticator;
  readonly logger: Logger;
  readonly heartbeatIntervalMs: number;
}

const NODE_SECRET = "the node secret this node got from POST /api/nodes/register";

/** The node protocol (register, heartbeat) and the admin's view of the nodes. */
export function nodeRoutes(deps: NodeRoutesDeps): Router {
  const { nodes, models } = deps;
  const log = deps.logger.child({ component: "nodes" });
  const router = Router();

  router.post("/api/nodes/register", requireAuth(deps.auth, NODE_TOKEN_ONLY), (req, res) => {
    const registration = parseBody(NodeRegistration, req.body ?? {});
    const known = nodes.get(registration.runtime_id) !== undefined;
    const { secret } = nodes.register(registration);
    log.info(
      { runtime_id: registration.runtime_id, hostname: registration.hostname, agent_url: registration.agent_url, runtimes: registration.supported_runtimes, again: known },
      "node registered",
    );
    const body: RegisterResponse = {
      runtime_id: registration.runtime_id,
      node_secret: secret,
      heartbeat_interval_ms: deps.heartbeatIntervalMs,
    };
    res.json(body);
  });

  router.post("/api/nodes/:runtime_id/heartbeat", (req, res) => {
    const node = authenticateNode(deps, req);
    const heartbeat = parseBody(Heartbeat, req.body ?? {});
    if (heartbeat.runtime_id !== node.runtimeId) {
      throw new ApiError("invalid_request", `runtime_id in the body (${heartbeat.runtime_id}) differs from the one in the URL (${node.runtimeId}).`, "runtime_id");
    }
    const wasOnline = nodes.isOnline(node);
    nodes.heartbeat(node, heartbeat);
    if (!wasOnline) log.info({ runtime_id: node.runtimeId }, "node back online");
    const supported = new Set(node.registration.supported_runtimes);
    const body: HeartbeatResponse = {
      models: models.list().filter((m) => supported.has(m.runtime)),
      heartbeat_interval_ms: deps.heartbeatIntervalMs,
    };
    res.json(body);
  });

  router.get("/api/nodes", requireAuth(deps.auth, ADMIN_ONLY), (_req, res) => {
    const body: NodeView[] = nodes.list().map((n) => nodes.view(n));
    res.json(body);
  });

  return router;
}

/**
 * A heartbeat carries the node's own secret. Unknown runtime_id → 404 node_not_found, which tells
 * the agent to register again (the gateway restarted and forgot it).
 */
function authenticateNode(deps: NodeRoutesDeps, req: Request): NodeEntry {
  const runtimeId = String(req.params.runtime_id);
  const credential = bearerOf(req);
  if (credential === null) throw missingCredential(NODE_SECRET);
  const node = deps.nodes.authenticate(runtimeId, credential);
  if (node) return node;
  const principal = deps.auth.identify(credential);
  if (principal.kind === "admin" || principal.kind === "node_token" || principal.kind === "client") {
    throw wrongCredential(principal, NODE_SECRET);
  }
  if (!deps.nodes.get(runtimeId)) {
    throw new ApiError("node_not_found", `No node '${runtimeId}' is registered (the gateway may have restarted). Register again with POST /api/nodes/register.`, "runtime_id");
  }
  throw invalidCredential(NODE_SECRET);
}
