import type { GatewayEvent } from "@omnigate/shared/events";
import { COALESCE_MS, type EventBus } from "../events/event-bus.js";
import type { NodeRegistry } from "../nodes/node-registry.js";
import type { PlacementController } from "../placement/placement-controller.js";
import type { ModelStore } from "../store/model-store.js";
import { toListEntry } from "./model-view.js";

const NODES_PER_INTERVAL = 500;
/** At most one model.status per model every 20 × 250 ms = 5 s, however big the fleet. */
const MAX_SLOWDOWN = 20;

/**
 * Derives `model.status` (a model's `/v1/models` entry) from what changed underneath it, so a client
 * never works out readiness itself: a model registered, a node's report about it, or a node that
 * joined, left or came back, or a placement that moved its replicas. Coalesced per
 * model whatever the cause: the entry lists every node the model is on, so on a big fleet it is
 * big, and a rollout changes it thousands of times. The first change in a quiet spell goes out at
 * once; the entry is built when it is sent, so it is never older than what it follows. Past
 * NODES_PER_INTERVAL nodes the interval grows with the fleet: a 5,000-node entry (about 500 KB)
 * four times a second would cost every client more than the progress it shows is worth.
 */
export function feedModelStatus(bus: EventBus, models: ModelStore, nodes: NodeRegistry, placement: PlacementController): void {
  const announce = (name: string): void => {
    const intervalMs = COALESCE_MS * Math.min(MAX_SLOWDOWN, Math.max(1, Math.ceil(nodes.size / NODES_PER_INTERVAL)));
    bus.publish(
      () => {
        const record = models.get(name);
        return record ? { type: "model.status", model: toListEntry(record, nodes, placement) } : undefined;
      },
      { coalesce: `model\0${name}`, intervalMs },
    );
  };

  // A placement change moves replicas: the model's entry changes, and so does the ledger of every
  // node it left or joined.
  const placedOn = new Map<string, Set<string>>();
  placement.on("placement", (name, replicas) => {
    const now = new Set(replicas.map((r) => r.node));
    for (const node of new Set([...(placedOn.get(name) ?? []), ...now])) nodes.ledgerChanged(node);
    if (now.size) placedOn.set(name, now);
    else placedOn.delete(name);
    announce(name);
  });

  bus.tap((event: GatewayEvent) => {
    switch (event.type) {
      case "model.registered":
      case "model.patched":
        return announce(event.model.name);
      case "node.model":
        return announce(event.model.name);
      case "node.model_removed":
        return announce(event.name);
      case "node.registered":
      case "node.online":
      case "node.offline": {
        const runtimes = new Set(event.node.supported_runtimes);
        for (const model of models.list()) if (runtimes.has(model.runtime)) announce(model.name);
        return;
      }
      default:
        return;
    }
  });
}
