import { Router, type Request } from "express";
import type { Dispatcher } from "undici";
import {
  IMMUTABLE_MODEL_FIELDS,
  PatchModelRequest,
  RegisterModelRequest,
  type DeleteModelResponse,
  type ModelList,
  type ModelRecord,
} from "@omnigate/shared/models";
import { parseBody } from "@omnigate/shared/validation";
import { ApiError } from "@omnigate/shared/errors";
import { ModelNotFoundError } from "../errors/api-error.js";
import type { Logger } from "../logger.js";
import type { NodeRegistry } from "../nodes/node-registry.js";
import type { ModelStore } from "../store/model-store.js";
import type { Authenticator } from "../auth/authenticator.js";
import type { PlacementController } from "../placement/placement-controller.js";
import { ADMIN_ONLY, CLIENT_OR_ADMIN, requireAuth } from "../auth/require-auth.js";
import { buildModelRecord } from "./build-model-record.js";
import { tellNodesToDelete } from "./delete-fanout.js";
import { toListEntry } from "./model-view.js";

export interface ModelRoutesDeps {
  readonly models: ModelStore;
  readonly nodes: NodeRegistry;
  readonly placement: PlacementController;
  readonly auth: Authenticator;
  readonly logger: Logger;
  /** How long a node gets to confirm a delete before it is `deferred`. */
  readonly nodeCallTimeoutMs: number;
  /** Calls agents (mutual TLS to https ones: tls/agent-connector.ts). */
  readonly agentDispatcher: Dispatcher;
}

/** The model registry: register and patch (admin), list and show (client or admin), delete (admin). */
export function modelRoutes(deps: ModelRoutesDeps): Router {
  const { models, nodes, placement } = deps;
  const log = deps.logger.child({ component: "registry" });
  const admin = requireAuth(deps.auth, ADMIN_ONLY);
  const client = requireAuth(deps.auth, CLIENT_OR_ADMIN);
  const router = Router();

  router.post("/api/models", admin, (req, res) => {
    const record = buildModelRecord(parseBody(RegisterModelRequest, req.body ?? {}));
    if (!models.insert(record)) {
      throw new ApiError(
        "model_already_exists",
        `A model named '${record.name}' already exists. Delete it first (DELETE /v1/models/${record.name}) or register under another name.`,
        "name",
      );
    }
    // Placed now, so the nodes' next heartbeats already carry it.
    placement.recompute();
    log.info({ model: record.name, repo: record.repo, runtime: record.runtime, replicas: record.replicas }, "model registered");
    res.status(201).json(record);
  });

  // Changes where a model runs (replicas, selector, memory, policy); what runs is fixed at registration.
  router.patch("/api/models/*name", admin, (req, res) => {
    const name = modelNameOf(req);
    const body: unknown = req.body ?? {};
    const fixed = IMMUTABLE_MODEL_FIELDS.find((f) => typeof body === "object" && body !== null && f in body);
    if (fixed) {
      throw new ApiError(
        "invalid_request",
        `${fixed} cannot be changed by PATCH: it decides what the engine runs. Delete the model (DELETE /v1/models/${name}) and register it again.`,
        fixed,
      );
    }
    const patch = parseBody(PatchModelRequest, body);
    const current = models.get(name);
    if (!current) throw new ModelNotFoundError(name);
    const { resources, ...rest } = patch;
    const next: ModelRecord = { ...current, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) };
    if (resources === null) delete next.resources;
    else if (resources) next.resources = resources;
    models.update(next);
    placement.recompute();
    log.info({ model: name, changes: patch }, "model patched");
    res.json(next);
  });

  router.get("/v1/models", client, (_req, res) => {
    const list: ModelList = { object: "list", data: models.list().map((m) => toListEntry(m, nodes, placement)) };
    res.json(list);
  });

  // Names contain `/` (`org/model`): a wildcard takes every remaining segment.
  router.get("/v1/models/*name", client, (req, res) => {
    const name = modelNameOf(req);
    const model = models.get(name);
    if (!model) throw new ModelNotFoundError(name);
    res.json(toListEntry(model, nodes, placement));
  });

  router.delete("/v1/models/*name", admin, async (req, res) => {
    const name = modelNameOf(req);
    // Where it was placed, captured before the delete re-places everything.
    const placedOn = new Set(placement.replicas(name).map((r) => r.node));
    for (const n of nodes.list()) if (n.models.has(name)) placedOn.add(n.runtimeId);
    const model = models.delete(name);
    if (!model) throw new ModelNotFoundError(name);
    // No node's report about the deleted engine may count for a model re-registered under the name.
    nodes.forgetModel(name);
    placement.recompute();
    // Every node it was placed on, or that reports it, may hold it, online or not; offline ones are
    // tried too (cheap, bounded by the timeout) and otherwise clean up when they return.
    const assigned = nodes.list().filter((n) => placedOn.has(n.runtimeId));
    const outcomes = await tellNodesToDelete(assigned, name, { timeoutMs: deps.nodeCallTimeoutMs, dispatcher: deps.agentDispatcher }, log);
    // A heartbeat sent before a node got the delete may have reported the old engine again meanwhile;
    // unless the name was registered anew during the fan-out (then reports are about the new one).
    if (!models.get(name)) nodes.forgetModel(name);
    log.info({ model: name, nodes: outcomes.map((o) => `${o.runtime_id}:${o.outcome}`) }, "model deleted");
    const body: DeleteModelResponse = { id: name, object: "model", deleted: true, nodes: outcomes };
    res.json(body);
  });

  return router;
}

function modelNameOf(req: Request): string {
  const raw = (req.params as Record<string, string | string[] | undefined>).name;
  return Array.isArray(raw) ? raw.join("/") : (raw ?? "");
}
