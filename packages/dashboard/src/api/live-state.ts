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

/** A snapshot, its nodes already in host order (the event worker sorts them off the page's thread). */
export function setSnapshot(client: QueryClient, snapshot: Snapshot): void {
  client.setQueryData(QUERY_KEYS.nodes, snapshot.nodes);
  client.setQueryData(QUERY_KEYS.models, snapshot.models);
  client.setQueryData(QUERY_KEYS.keys, snapshot.keys);
}

/** Nodes in the order every page shows them: by host name, then id (code-point order: cheap). */
export function byHost(a: NodeView, b: NodeView): number {
  if (a.hostname !== b.hostname) return a.hostname < b.hostname ? -1 : 1;
  return a.runtime_id < b.runtime_id ? -1 : a.runtime_id > b.runtime_id ? 1 : 0;
}

/** Where each node sits in a cached list, kept per list so a batch of updates finds them in O(1). */
const positions = new WeakMap<NodeView[], Map<string, number>>();

function positionsOf(nodes: NodeView[]): Map<string, number> {
  let map = positions.get(nodes);
  if (!map) {
    map = new Map(nodes.map((n, i) => [n.runtime_id, i]));
    positions.set(nodes, map);
  }
  return map;
}

/** The node list after a batch, still sorted by host. Updates replace nodes in place (no re-sort);
 * only a node that joins, leaves or is renamed costs a sort. */
function applyNodeEvents(nodes: NodeView[], events: readonly GatewayEvent[]): NodeView[] {
  const where = positionsOf(nodes);
  const next = [...nodes];
  let reorder = false;
  const put = (node: NodeView): void => {
    const i = where.get(node.runtime_id);
    if (i === undefined || next[i]!.hostname !== node.hostname) reorder = true;
    if (i === undefined) {
      where.set(node.runtime_id, next.length);
      next.push(node);
    } else next[i] = node;
  };
  const patch = (runtimeId: string, change: (node: NodeView) => NodeView): void => {
    const i = where.get(runtimeId);
    if (i !== undefined) next[i] = change(next[i]!);
  };
  const removed = new Set<string>();
  for (const e of events) {
    switch (e.type) {
      case "node.registered":
      case "node.online":
      case "node.offline":
      case "node.updated":
      case "node.ejected":
        removed.delete(e.node.runtime_id);
        put(e.node);
        break;
      case "node.removed":
        removed.add(e.runtime_id);
        break;
      case "node.model":
        patch(e.runtime_id, (node) => ({
          ...node,
          models: [...node.models.filter((m) => m.name !== e.model.name), e.model].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
        }));
        break;
      case "node.model_removed":
        patch(e.runtime_id, (node) => ({ ...node, models: node.models.filter((m) => m.name !== e.name) }));
        break;
      default:
        break;
    }
  }
  positions.delete(nodes);
  if (removed.size === 0 && !reorder) {
    // Same nodes in the same places: the positions carry over to the new list.
    positions.set(next, where);
    return next;
  }
  return next.filter((n) => !removed.has(n.runtime_id)).sort(byHost);
}

function applyModelEvents(models: ModelListEntry[], events: readonly GatewayEvent[]): ModelListEntry[] {
  const byId = new Map(models.map((m) => [m.id, m]));
  for (const e of events) {
    if (e.type === "model.status") byId.set(e.model.id, e.model);
    else if (e.type === "model.deleted") byId.delete(e.name);
  }
  return [...byId.values()];
}
