import { Router, type Request } from "express";
import {
  Heartbeat,
  NodeRegistration,
  type HeartbeatResponse,
  type NodeDeleteResponse,
  type NodeView,
  type RegisterResponse,
} from "@omnigate/shared/node-protocol";
import { parseBody } from "@omnigate/shared/validation";
import { ClientCertificateRequest, type ClientCertificateInfo, type ClusterCaInfo } from "@omnigate/shared/tls";
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
import type { NodeCertificates } from "../tls/node-certificates.js";
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
  /** Certificates for agents that serve HTTPS, and the deny list a removal adds to. */
  readonly certificates: NodeCertificates;
  /** The cluster CA, public: an agent's first contact (checked against its pinned fingerprint). */
  readonly clusterCa: { readonly certPem: string; readonly fingerprint: string; readonly notAfter: number };
}

const NODE_SECRET = "the node secret this node got from POST /api/nodes/register";

/** The node protocol (CA, register, heartbeat), the admin's view of the nodes, cordon, drain and removal. */
export function nodeRoutes(deps: NodeRoutesDeps): Router {
  const { nodes, placement, admin } = deps;
  const log = deps.logger.child({ component: "nodes" });
  const router = Router();

  // No credential: a CA certificate is public. An agent that pins the CA's fingerprint fetches it
  // here first, then checks this gateway's certificate against it before sending the node token.
  router.get("/api/cluster/ca", (_req, res) => {
    const body: ClusterCaInfo = { certificate: deps.clusterCa.certPem, fingerprint: deps.clusterCa.fingerprint, not_after: deps.clusterCa.notAfter };
    res.json(body);
  });

  router.post("/api/nodes/register", requireAuth(deps.auth, NODE_TOKEN_ONLY), async (req, res) => {
    const request = parseBody(NodeRegistration, req.body ?? {});
    // The csr is answered, not kept.
    const { csr: _csr, ...registration } = request;
    const known = nodes.get(registration.runtime_id) !== undefined;
    const { answer, certificate } = await deps.certificates.register(request);
    const { entry, secret } = await nodes.register(registration, certificate);
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
      ...answer,
    };
    res.json(body);
  });

  router.post("/api/nodes/:runtime_id/heartbeat", async (req, res) => {
    const node = await authenticateNode(deps, req);
    const heartbeat = parseBody(Heartbeat, req.body ?? {});
    if (heartbeat.runtime_id !== node.runtimeId) {
      throw new ApiError("invalid_request", `runtime_id in the body (${heartbeat.runtime_id}) differs from the one in the URL (${node.runtimeId}).`, "runtime_id");
    }
    const renewal = await deps.certificates.renew(node.certificate, heartbeat);
    if (renewal) node.certificate = renewal.certificate;
    const wasOnline = nodes.isOnline(node);
    nodes.heartbeat(node, heartbeat);
    deps.sync.reported(node);
    if (!wasOnline) log.info({ runtime_id: node.runtimeId }, "node back online");
    const body: HeartbeatResponse = {
      ...placement.desiredFor(node.runtimeId, heartbeat.desired_version),
      heartbeat_interval_ms: deps.heartbeatIntervalMs,
      ...renewal?.answer,
    };
    // A fleet heartbeats a thousand times a second: Express's res.json (an ETag hash, a second
    // write for the headers) costs more than the rest of the handler.
    sendJson(res, 200, body);
  });

  const adminOnly = requireAuth(deps.auth, ADMIN_ONLY);
  const view = (n: NodeEntry): NodeView => nodes.view(n);

  // A client certificate of the cluster CA for a scraper of agents that serve mutual TLS.
  router.post("/api/cluster/client-certificates", adminOnly, async (req, res) => {
    const asked = parseBody(ClientCertificateRequest, req.body ?? {});
    const cert = await deps.certificates.issueForClient(asked.csr, asked.name, asked.days);
    const body: ClientCertificateInfo = { certificate: cert.pem, ca: deps.certificates.caPem, serial: cert.serial, not_after: cert.notAfter };
    sendJson(res, 201, body);
  });

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

  // Removing a node revokes it: its certificates go on the deny list (the next handshake with them
  // fails, connections to it are cut), and its runtime_id may not register again.
  router.delete("/api/nodes/:runtime_id", adminOnly, async (req, res) => {
    const runtimeId = String(req.params.runtime_id);
    if (!nodes.get(runtimeId) && (!deps.certificates.known(runtimeId) || deps.certificates.isRevoked(runtimeId))) {
      const why = deps.certificates.isRevoked(runtimeId) ? "it was removed already" : "no such node is registered (see GET /api/nodes)";
      throw new ApiError("node_not_found", `Cannot remove node '${runtimeId}': ${why}.`, "runtime_id");
    }
    const serials = await deps.certificates.revoke(runtimeId);
    // Every gateway forgets it as the delete reaches it (and cuts its connections to it).
    await nodes.forget(runtimeId);
    log.warn({ runtime_id: runtimeId, revoked_serials: serials }, "node removed by an admin");
    // Its replicas are lost: the placement puts them elsewhere.
    await placement.recompute();
    const body: NodeDeleteResponse = { runtime_id: runtimeId, deleted: true, revoked_serials: serials };
    res.json(body);
  });

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
