import type { ModelNodeView, ModelRecord, NodeModelStatus } from "@omnigate/shared/models";
import type { Capability } from "@omnigate/shared/runtimes";
import {
  CapabilityUnsupportedError,
  ModelNotFoundError,
  ModelNotReadyError,
  ModelUnplacedError,
  NoCapableNodeError,
} from "../errors/api-error.js";
import type { NodeEntry, NodeRegistry } from "../nodes/node-registry.js";
import type { ModelLookup } from "../store/model-store.js";

/** What the data plane reads of the placement (placement-controller.ts). */
export interface PlacementLookup {
  /** Nodes that may take the model's requests: placed on, not retiring. */
  routable(model: string): readonly string[];
  /** Whether the node's copy is being moved away (drain, scale down): shown, still routable. */
  replicas(model: string): ReadonlyArray<{ readonly node: string; readonly role: string }>;
  /** Why replicas are unplaced. */
  errors(model: string): readonly string[];
}

/** A node that has the model ready, with what it reported. */
export interface ReadyTarget {
  readonly node: NodeEntry;
  readonly status: NodeModelStatus;
}

export interface Readiness {
  readonly model: ModelRecord;
  /** Online nodes reporting the model ready; never empty. */
  readonly targets: readonly ReadyTarget[];
}

/** Seconds a client should wait before retrying a model that is not ready yet. */
export const NOT_READY_RETRY_AFTER_S = 5;

/** Whether any online node runs the model's runtime (only asked on the error path: it scans every node). */
function anyCapableNode(nodes: NodeRegistry, model: ModelRecord): boolean {
  return nodes.list().some((n) => nodes.isOnline(n) && n.registration.supported_runtimes.includes(model.runtime));
}

/** What each node the model is placed on reports for it (`pending` until it says otherwise). */
export function nodeViews(nodes: NodeRegistry, placement: PlacementLookup, model: ModelRecord): ModelNodeView[] {
  const views: ModelNodeView[] = [];
  for (const replica of placement.replicas(model.name)) {
    if (replica.role === "lost") continue;
    const node = nodes.get(replica.node);
    const online = node !== undefined && nodes.isOnline(node);
    const status = online ? node.models.get(model.name) : undefined;
    const state = status?.state ?? "pending";
    views.push({
      runtime_id: replica.node,
      ready: state === "ready",
      state,
      ...(status?.progress ? { progress: status.progress } : {}),
      ...(status?.error ? { error: status.error } : {}),
      ...(replica.role === "leaving" ? { leaving: true } : {}),
      ...(online ? {} : { offline: true }),
    });
  }
  return views;
}

/**
 * Readiness (docs/architecture.md, "A request's path"), for a request naming `name` on an endpoint
 * needing `capability`: unknown model or capability → 404; placed nowhere → 503 model_unplaced
 * with why (or no_capable_node when no online node runs its runtime at all); none of its nodes
 * reports it ready → 503 model_not_ready with what they report; else the ready nodes.
 */
export function resolveReadiness(
  models: ModelLookup,
  nodes: NodeRegistry,
  placement: PlacementLookup,
  name: string,
  capability: Capability,
): Readiness {
  const model = models.get(name);
  if (!model) throw new ModelNotFoundError(name);
  if (!model.capabilities.includes(capability)) {
    throw new CapabilityUnsupportedError(name, capability, model.capabilities);
  }
  const placed = placement.routable(name);
  const targets: ReadyTarget[] = [];
  for (const id of placed) {
    const node = nodes.get(id);
    if (!node || !nodes.isOnline(node)) continue;
    const status = node.models.get(name);
    if (status?.state === "ready") targets.push({ node, status });
  }
  if (targets.length > 0) return { model, targets };
  if (!anyCapableNode(nodes, model)) throw new NoCapableNodeError(name, model.runtime, NOT_READY_RETRY_AFTER_S);
  if (placed.length === 0) {
    const reasons = model.replicas === 0 ? [`it is scaled to 0 replicas (PATCH /api/models/${name} with {"replicas": N} to serve it)`] : placement.errors(name);
    throw new ModelUnplacedError(name, reasons, NOT_READY_RETRY_AFTER_S);
  }
  throw new ModelNotReadyError(name, nodeViews(nodes, placement, model), NOT_READY_RETRY_AFTER_S);
}
