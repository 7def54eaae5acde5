import type { GatewayEvent } from "@omnigate/shared/events";
import type { EventBus, PublishOptions } from "../events/event-bus.js";
import type { NodeRegistry } from "../nodes/node-registry.js";
import type { PlacementController } from "../placement/placement-controller.js";
import type { ModelStore } from "../store/model-store.js";
import { toListEntry } from "./model-view.js";

/**
 * Derives `model.status` (a model's `/v1/models` entry) from what changed underneath it, so a client
 * never works out readiness itself: a model registered, a node's report about it, or a node that
 * joined, left or came back (which changes the nodes that can serve its runtime). A new state goes
 * out at once; progress and fleet churn are coalesced per model, the entry built when it is sent.
 */
export function feedModelStatus(bus: EventBus, models: ModelStore, nodes: NodeRegistry, placement: PlacementController): void {
  const announce = (name: string, options: PublishOptions): void => {
    bus.publish(
      () => {
        const record = models.get(name);
        return record ? { type: "model.status", model: toListEntry(record, nodes, placement) } : undefined;
      },
      { coalesce: `model\0${name}`, urgent: options.urgent === true },
    );
  };

  bus.tap((event: GatewayEvent, options: PublishOptions) => {
    switch (event.type) {
      case "model.registered":
        return announce(event.model.name, { urgent: true });
      case "node.model":
        return announce(event.model.name, options);
      case "node.model_removed":
        return announce(event.name, options);
      case "node.registered":
      case "node.online":
      case "node.offline": {
        const runtimes = new Set(event.node.supported_runtimes);
        for (const model of models.list()) if (runtimes.has(model.runtime)) announce(model.name, {});
        return;
      }
      default:
        return;
    }
  });
}
