import type { ModelListEntry, ModelRecord } from "@omnigate/shared/models";
import type { NodeRegistry } from "../nodes/node-registry.js";
import { nodeViews } from "../scheduling/readiness.js";

/** A model in OpenAI's list form plus readiness: ready = some online capable node reports ready. */
export function toListEntry(model: ModelRecord, nodes: NodeRegistry): ModelListEntry {
  const views = nodeViews(nodes, model);
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
  };
}
