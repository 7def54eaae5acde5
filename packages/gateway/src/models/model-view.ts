import type { ModelListEntry, ModelRecord } from "@omnigate/shared/models";
import type { NodeRegistry } from "../nodes/node-registry.js";
import type { PlacementController } from "../placement/placement-controller.js";
import { nodeViews } from "../scheduling/readiness.js";

/** A model in OpenAI's list form plus readiness and placement: ready = some node it is placed on reports ready. */
export function toListEntry(model: ModelRecord, nodes: NodeRegistry, placement: PlacementController): ModelListEntry {
  const views = nodeViews(nodes, placement, model);
  const memory = placement.memoryMib(model);
  return {
    id: model.name,
    object: "model",
    created: model.created_at,
    owned_by: model.repo.split("/")[0] ?? "omnigate",
    ready: views.some((v) => v.ready),
    capabilities: model.capabilities,
    runtime: model.runtime,
    kind: model.kind,
    repo: model.repo,
    revision: model.revision,
    nodes: views,
    replicas: {
      desired: model.replicas,
      placed: views.filter((v) => !v.leaving).length,
      ready: views.filter((v) => v.ready && !v.leaving).length,
    },
    memory_mib: memory ?? null,
    node_selector: model.node_selector,
    placement_policy: model.placement_policy,
    placement_errors: [...placement.errors(model.name)],
  };
}
