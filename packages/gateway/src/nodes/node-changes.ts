import type { NodeModelStatus } from "@omnigate/shared/models";
import type { EngineHealth, NodeRegistrationParsed } from "@omnigate/shared/node-protocol";
import type { EventSink } from "../events/event-bus.js";

/** The coalescing key of one model's reports on one node. */
export function nodeModelKey(runtimeId: string, model: string): string {
  return `${runtimeId}\0${model}`;
}

/**
 * Tells what changed between two reports of a node's models: a new state or error goes out at once,
 * download progress alone is coalesced, a model no longer reported is removed. Requests in flight
 * change with every heartbeat under load and are not news.
 */
export function announceModelChanges(
  events: EventSink,
  runtimeId: string,
  before: ReadonlyMap<string, NodeModelStatus>,
  after: ReadonlyMap<string, NodeModelStatus>,
): void {
  for (const [name, now] of after) {
    const was = before.get(name);
    const coalesce = nodeModelKey(runtimeId, name);
    if (!was || was.state !== now.state || was.error !== now.error) {
      events.publish({ type: "node.model", runtime_id: runtimeId, model: now }, { coalesce, urgent: true });
    } else if (!sameProgress(was, now)) {
      events.publish({ type: "node.model", runtime_id: runtimeId, model: now }, { coalesce });
    }
  }
  for (const name of before.keys()) {
    if (!after.has(name)) {
      events.publish({ type: "node.model_removed", runtime_id: runtimeId, name }, { coalesce: nodeModelKey(runtimeId, name), urgent: true });
    }
  }
}

function sameProgress(a: NodeModelStatus, b: NodeModelStatus): boolean {
  const p = a.progress;
  const q = b.progress;
  if (!p || !q) return p === q;
  return p.bytes === q.bytes && p.total === q.total && p.rate === q.rate;
}

/**
 * What a `node.updated` is worth sending for: everything the node reports about itself except GPU
 * memory in use, which moves with every heartbeat and counts only in steps of 1% of the GPU.
 */
export function materialKey(registration: NodeRegistrationParsed, engines: readonly EngineHealth[]): string {
  const gpus = registration.gpus.map((g) => ({
    index: g.index,
    name: g.name,
    total: g.memory_total_mib,
    used: g.memory_total_mib > 0 ? Math.round((g.memory_used_mib / g.memory_total_mib) * 100) : g.memory_used_mib,
  }));
  return JSON.stringify([registration.supported_runtimes, registration.loaded_models, registration.agent_url, registration.hostname, registration.version, registration.labels, gpus, engines]);
}
