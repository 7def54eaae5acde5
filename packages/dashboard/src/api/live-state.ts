import type { QueryClient } from "@tanstack/react-query";
import type { ApiKeyView } from "@omnigate/shared/admin";
import type { GatewayEvent, Snapshot } from "@omnigate/shared/events";
import type { ModelListEntry } from "@omnigate/shared/models";
import type { NodeView } from "@omnigate/shared/node-protocol";

/** Where the fleet's state lives in TanStack Query's cache: the event stream keeps these current. */
export const QUERY_KEYS = {
  nodes: ["nodes"],
  models: ["models"],
  keys: ["keys"],
  stats: ["stats"],
} as const;

/**
 * Applies a batch of events (none a snapshot) to the cached lists at once: each list is rebuilt once per batch, not
 * once per event, so a fleet of thousands of nodes reporting together costs one pass.
 */
export function applyEvents(client: QueryClient, after: readonly GatewayEvent[]): void {
  const nodeEvents = after.filter((e) => e.type.startsWith("node."));
  if (nodeEvents.length) client.setQueryData<NodeView[]>(QUERY_KEYS.nodes, (nodes) => nodes && applyNodeEvents(nodes, nodeEvents));
  const modelEvents = after.filter((e) => e.type === "model.status" || e.type === "model.deleted");
  if (modelEvents.length) client.setQueryData<ModelListEntry[]>(QUERY_KEYS.models, (models) => models && applyModelEvents(models, modelEvents));
  const keyEvents = after.filter((e) => e.type === "key.created" || e.type === "key.revoked");
  if (keyEvents.length) {
    client.setQueryData<ApiKeyView[]>(QUERY_KEYS.keys, (keys) => {
      if (!keys) return keys;
      const byId = new Map(keys.map((k) => [k.id, k]));
      for (const e of keyEvents) if (e.type === "key.created" || e.type === "key.revoked") byId.set(e.key.id, e.key);
      return [...byId.values()];
    });
  }
}

export function setSnapshot(client: QueryClient, snapshot: Snapshot): void {
  client.setQueryData(QUERY_KEYS.nodes, snapshot.nodes);
  client.setQueryData(QUERY_KEYS.models, snapshot.models);
  client.setQueryData(QUERY_KEYS.keys, snapshot.keys);
}

function applyNodeEvents(nodes: NodeView[], events: readonly GatewayEvent[]): NodeView[] {
  const byId = new Map(nodes.map((n) => [n.runtime_id, n]));
  for (const e of events) {
    switch (e.type) {
      case "node.registered":
      case "node.online":
      case "node.offline":
      case "node.updated":
      case "node.ejected":
        byId.set(e.node.runtime_id, e.node);
        break;
      case "node.removed":
        byId.delete(e.runtime_id);
        break;
      case "node.model": {
        const node = byId.get(e.runtime_id);
        if (!node) break;
        const others = node.models.filter((m) => m.name !== e.model.name);
        byId.set(e.runtime_id, { ...node, models: [...others, e.model].sort((a, b) => a.name.localeCompare(b.name)) });
        break;
      }
      case "node.model_removed": {
        const node = byId.get(e.runtime_id);
        if (node) byId.set(e.runtime_id, { ...node, models: node.models.filter((m) => m.name !== e.name) });
        break;
      }
      default:
        break;
    }
  }
  return [...byId.values()];
}

function applyModelEvents(models: ModelListEntry[], events: readonly GatewayEvent[]): ModelListEntry[] {
  const byId = new Map(models.map((m) => [m.id, m]));
  for (const e of events) {
    if (e.type === "model.status") byId.set(e.model.id, e.model);
    else if (e.type === "model.deleted") byId.delete(e.name);
  }
  return [...byId.values()];
}
