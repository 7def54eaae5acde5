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
import { sendJson } from "@omnigate/server-kit/respond";
import type { Logger } from "../logger.js";
import type { NodeAdmin } from "./node-admin.js";
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
import type { NodeSync } from "./node-sync.js";

/** What the node routes ask of the placement (the PlacementController, which sits above nodes/). */
export interface NodePlacement {
  /** The heartbeat answer's model part for the node. */
  desiredFor(runtimeId: string, agentVersion: string | undefined): Pick<HeartbeatResponse, "models" | "desired_version">;
  /** The node's ledger as GET /api/nodes shows it. */
  ledger(entry: NodeEntry): { capacityMib: number | null; committedMib: number; models: string[] };
  /** Resolves once the changes seen so far are placed. */
  settled(): Promise<void>;
  recompute(): Promise<void>;
}

export interface NodeRoutesDeps {
  readonly nodes: NodeRegistry;
  /** Carries what nodes report here to the shared state. */
  readonly sync: Pick<NodeSync, "registered" | "reported">;
  readonly placement: NodePlacement;
  readonly admin: NodeAdmin;
  readonly auth: Authenticator;
  readonly logger: Logger;
  readonly heartbeatIntervalMs: number;
}

const NODE_SECRET = "the node secret this node got from POST /api/nodes/register";

/** The node protocol (register, heartbeat), the admin's view of the nodes, cordon and drain. */
export function nodeRoutes(deps: NodeRoutesDeps): Router {
  const { nodes, placement, admin } = deps;
  const log = deps.logger.child({ component: "nodes" });
  const router = Router();

  router.post("/api/nodes/register", requireAuth(deps.auth, NODE_TOKEN_ONLY), async (req, res) => {
    const registration = parseBody(NodeRegistration, req.body ?? {});
    const known = nodes.get(registration.runtime_id) !== undefined;
    const { entry, secret } = await nodes.register(registration);
    deps.sync.registered(entry);
    // The answer waits until the placement counts the node: its first heartbeat gets its models.
    await placement.settled();
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

  router.post("/api/nodes/:runtime_id/heartbeat", async (req, res) => {
    const node = await authenticateNode(deps, req);
    const heartbeat = parseBody(Heartbeat, req.body ?? {});
    if (heartbeat.runtime_id !== node.runtimeId) {
      throw new ApiError("invalid_request", `runtime_id in the body (${heartbeat.runtime_id}) differs from the one in the URL (${node.runtimeId}).`, "runtime_id");
    }
    const wasOnline = nodes.isOnline(node);
    nodes.heartbeat(node, heartbeat);
    deps.sync.reported(node);
    if (!wasOnline) log.info({ runtime_id: node.runtimeId }, "node back online");
    const body: HeartbeatResponse = {
      ...placement.desiredFor(node.runtimeId, heartbeat.desired_version),
      heartbeat_interval_ms: deps.heartbeatIntervalMs,
    };
    // A fleet heartbeats a thousand times a second: Express's res.json (an ETag hash, a second
    // write for the headers) costs more than the rest of the handler.
    sendJson(res, 200, body);
  });

  const adminOnly = requireAuth(deps.auth, ADMIN_ONLY);
  const view = (n: NodeEntry): NodeView => {
    const ledger = placement.ledger(n);
    const state = admin.get(n.runtimeId);
    return nodes.view(n, { ...state, capacity_mib: ledger.capacityMib, committed_mib: ledger.committedMib, placed_models: ledger.models });
  };

  router.get("/api/nodes", adminOnly, (_req, res) => {
    const body: NodeView[] = nodes.list().map(view);
    res.json(body);
  });

  // Cordon: no new placements. Uncordon: back in service (a drain in progress stops). Drain:
  // cordon, then move every replica elsewhere, each removed only once its replacement is ready.
  for (const action of ["cordon", "uncordon", "drain"] as const) {
    router.post(`/api/nodes/:runtime_id/${action}`, adminOnly, async (req, res) => {
      const runtimeId = String(req.params.runtime_id);
      const node = nodes.get(runtimeId);
      if (!node) {
        throw new ApiError("node_not_found", `No node '${runtimeId}' is registered. GET /api/nodes lists the nodes and their runtime_id.`, "runtime_id");
      }
      await admin[action](runtimeId);
      log.info({ runtime_id: runtimeId, hostname: node.registration.hostname, action }, `node ${action === "drain" ? "draining" : `${action}ed`}`);
      // The answer shows the placement this leads to, not the one before it (on the leader; another
      // gateway's answer shows it once the leader has placed it).
      await placement.recompute();
      res.json(view(node));
    });
  }

  return router;
}

/**
 * A heartbeat carries the node's own secret. Unknown runtime_id → 404 node_not_found, which tells
 * the agent to register again (the node was forgotten, or removed).
 */
async function authenticateNode(deps: NodeRoutesDeps, req: Request): Promise<NodeEntry> {
  const runtimeId = String(req.params.runtime_id);
  const credential = bearerOf(req);
  if (credential === null) throw missingCredential(NODE_SECRET);
  const node = await deps.nodes.authenticateFresh(runtimeId, credential);
  if (node) return node;
  const principal = deps.auth.identify(credential);
  if (principal.kind === "admin" || principal.kind === "node_token" || principal.kind === "client") {
    throw wrongCredential(principal, NODE_SECRET);
  }
  if (!deps.nodes.get(runtimeId)) {
    throw new ApiError("node_not_found", `No node '${runtimeId}' is registered (it was forgotten or removed). Register again with POST /api/nodes/register.`, "runtime_id");
  }
  throw invalidCredential(NODE_SECRET);
}
