import { EventEmitter } from "node:events";
import { NodeAdminState } from "../store/placement-store.js";
import type { SharedState } from "../store/shared-state.js";

export interface NodeAdminEvents {
  /** A node was cordoned, uncordoned or set draining, through this gateway or another. */
  change: [runtimeId: string, state: NodeAdminState];
}

const ACTIVE: NodeAdminState = { cordoned: false, draining: false };

/**
 * Operators' cordon and drain marks, by runtime_id. Durable and shared (a cordoned box stays
 * cordoned across a gateway restart, its own re-registration, and whichever gateway it talks to)
 * and read on every placement, so held in memory.
 */
export class NodeAdmin extends EventEmitter<NodeAdminEvents> {
  readonly #states = new Map<string, NodeAdminState>();

  constructor(private readonly state: SharedState) {
    super();
    state.bind("node_admin", { schema: NodeAdminState, apply: (id, s) => this.#apply(id, s ?? ACTIVE) });
  }

  get(runtimeId: string): NodeAdminState {
    return this.#states.get(runtimeId) ?? ACTIVE;
  }

  /** No new placements; what the node has stays. */
  cordon(runtimeId: string): Promise<NodeAdminState> {
    return this.#set(runtimeId, { cordoned: true, draining: this.get(runtimeId).draining });
  }

  /** Back in service: placements may use it again; a drain in progress stops (its replicas stay). */
  uncordon(runtimeId: string): Promise<NodeAdminState> {
    return this.#set(runtimeId, ACTIVE);
  }

  /** Cordon, and move every replica elsewhere make-before-break. */
  drain(runtimeId: string): Promise<NodeAdminState> {
    return this.#set(runtimeId, { cordoned: true, draining: true });
  }

  async #set(runtimeId: string, state: NodeAdminState): Promise<NodeAdminState> {
    const before = this.get(runtimeId);
    if (before.cordoned === state.cordoned && before.draining === state.draining) return before;
    const active = !state.cordoned && !state.draining;
    await this.state.write([active ? { op: "delete", table: "node_admin", key: runtimeId } : { op: "put", table: "node_admin", key: runtimeId, doc: state }]);
    return this.get(runtimeId);
  }

  #apply(runtimeId: string, state: NodeAdminState): void {
    const before = this.get(runtimeId);
    if (before.cordoned === state.cordoned && before.draining === state.draining) return;
    if (state.cordoned || state.draining) this.#states.set(runtimeId, state);
    else this.#states.delete(runtimeId);
    this.emit("change", runtimeId, state);
  }
}
