import { EventEmitter } from "node:events";
import type { NodeAdminState, PlacementStore } from "../store/placement-store.js";

export interface NodeAdminEvents {
  /** A node was cordoned, uncordoned or set draining. */
  change: [runtimeId: string, state: NodeAdminState];
}

const ACTIVE: NodeAdminState = { cordoned: false, draining: false };

/**
 * Operators' cordon and drain marks, by runtime_id. Durable (a cordoned box stays cordoned across a
 * gateway restart and its own re-registration) and read on every placement, so held in memory.
 */
export class NodeAdmin extends EventEmitter<NodeAdminEvents> {
  readonly #states: Map<string, NodeAdminState>;

  constructor(private readonly store: PlacementStore) {
    super();
    this.#states = store.loadNodeAdmin();
  }

  get(runtimeId: string): NodeAdminState {
    return this.#states.get(runtimeId) ?? ACTIVE;
  }

  /** No new placements; what the node has stays. */
  cordon(runtimeId: string): NodeAdminState {
    return this.#set(runtimeId, { cordoned: true, draining: this.get(runtimeId).draining });
  }

  /** Back in service: placements may use it again; a drain in progress stops (its replicas stay). */
  uncordon(runtimeId: string): NodeAdminState {
    return this.#set(runtimeId, ACTIVE);
  }

  /** Cordon, and move every replica elsewhere make-before-break. */
  drain(runtimeId: string): NodeAdminState {
    return this.#set(runtimeId, { cordoned: true, draining: true });
  }

  #set(runtimeId: string, state: NodeAdminState): NodeAdminState {
    const before = this.get(runtimeId);
    if (before.cordoned === state.cordoned && before.draining === state.draining) return before;
    this.store.saveNodeAdmin(runtimeId, state);
    if (state.cordoned || state.draining) this.#states.set(runtimeId, state);
    else this.#states.delete(runtimeId);
    this.emit("change", runtimeId, state);
    return state;
  }
}
