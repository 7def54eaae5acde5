import type { ModelNodeView, ModelRecord, NodeModelStatus } from "@omnigate/shared/models";
import type { Capability } from "@omnigate/shared/runtimes";
import {
  CapabilityUnsupportedError,
  ModelNotFoundError,
  ModelNotReadyError,
  NoCapableNodeError,
} from "../errors/api-error.js";
import type { NodeEntry, NodeRegistry } from "../nodes/node-registry.js";
import type { ModelLookup } from "../store/model-store.js";

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

/** Online nodes that run the model's runtime: the nodes it is assigned to. */
export function capableNodes(nodes: NodeRegistry, model: ModelRecord): NodeEntry[] {
  return nodes.online().filter((n) => n.registration.supported_runtimes.includes(model.runtime));
}

/** What each capable node reports for the model (`pending` until it says otherwise). */
export function nodeViews(nodes: NodeRegistry, model: ModelRecord): ModelNodeView[] {
  return capableNodes(nodes, model).map((node) => {
    const status = node.models.get(model.name);
    const state = status?.state ?? "pending";
    return {
      runtime_id: node.runtimeId,
      ready: state === "ready",
      state,
      ...(status?.progress ? { progress: status.progress } : {}),
      ...(status?.error ? { error: status.error } : {}),
    };
  });
}

/**
 * Readiness (docs/architecture.md, "A request's path"), for a request naming `name` on an endpoint needing `capability`:
 * unknown model or capability → 404; no online node runs its runtime → 503 no_capable_node;
 * none reports it ready → 503 model_not_ready with what they report; else the ready nodes.
 */
export function resolveReadiness(
  models: ModelLookup,
  nodes: NodeRegistry,
  name: string,
  capability: Capability,
): Readiness {
  const model = models.get(name);
  if (!model) throw new ModelNotFoundError(name);
  if (!model.capabilities.includes(capability)) {
    throw new CapabilityUnsupportedError(name, capability, model.capabilities);
  }
  const capable = capableNodes(nodes, model);
  if (capable.length === 0) throw new NoCapableNodeError(name, model.runtime, NOT_READY_RETRY_AFTER_S);
  const targets: ReadyTarget[] = [];
  for (const node of capable) {
    const status = node.models.get(name);
    if (status?.state === "ready") targets.push({ node, status });
  }
  if (targets.length === 0) {
    throw new ModelNotReadyError(name, nodeViews(nodes, model), NOT_READY_RETRY_AFTER_S);
  }
  return { model, targets };
}
