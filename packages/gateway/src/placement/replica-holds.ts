import type { ClusterBus, ClusterMessage } from "../store/store-contract.js";

/** A removed replica keeps its node's copy this long at most while its last requests finish. */
export const RETIRE_MAX_MS = 10 * 60_000;
/** A gateway says again every this often which removed replicas it still has requests on. */
const REFRESH_MS = 2_000;
/** Another gateway's hold not said again for this long is dropped (that gateway died). */
const REMOTE_HOLD_TTL_MS = 3 * REFRESH_MS;

interface LocalHold {
  readonly since: number;
  /** Kept until then whatever the in-flight count (another gateway's hold may be on its way). */
  readonly graceUntil: number;
  published: boolean;
}

export interface ReplicaHoldsOptions {
  readonly bus: ClusterBus;
  /** Requests this gateway has in flight for the model on the node. */
  readonly inFlight: (node: string, model: string) => number;
  /** With other gateways around: how long a removed replica stays in its node's set at least (their holds arrive within it). */
  readonly graceMs: number;
  /** A node's set of models changed: its desired version moves. */
  readonly onChange: (node: string) => void;
  readonly now?: () => number;
}

/**
 * Replicas the placement removed (scale down, drain, surplus) that still have requests in flight:
 * they take no new requests, but stay in their node's desired set until the last request ends,
 * so the engine is not stopped under them. In-flight counts are each gateway's own, so a gateway
 * with requests on a removed replica says so to the others (`hold`, `release`): the gateway a node
 * heartbeats to keeps the model in its set while any gateway holds it.
 */
export class ReplicaHolds {
  /** node → model → this gateway's hold. */
  readonly #local = new Map<string, Map<string, LocalHold>>();
  /** gateway → node → model → when it last said so. */
  readonly #remote = new Map<string, Map<string, Map<string, number>>>();
  readonly #o: ReplicaHoldsOptions;
  readonly #now: () => number;
  #lastRefresh = 0;

  constructor(options: ReplicaHoldsOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** A serving replica left the placement. */
  removed(node: string, model: string): void {
    const now = this.#now();
    const busy = this.#o.inFlight(node, model) > 0;
    if (!busy && this.#o.graceMs <= 0) return;
    let m = this.#local.get(node);
    if (!m) this.#local.set(node, (m = new Map()));
    if (m.has(model)) return;
    m.set(model, { since: now, graceUntil: now + this.#o.graceMs, published: busy });
    if (busy) this.#o.bus.publish({ kind: "hold", node, model });
    this.#o.onChange(node);
  }

  /** The replica is placed on the node again: nothing to hold. */
  placed(node: string, model: string): void {
    const hold = this.#local.get(node)?.get(model);
    if (!hold) return;
    this.#drop(node, model, hold);
  }

  /** Models held on the node, by any gateway. */
  held(node: string): Iterable<string> {
    const out = new Set(this.#local.get(node)?.keys() ?? []);
    const cutoff = this.#now() - REMOTE_HOLD_TTL_MS;
    for (const nodes of this.#remote.values()) {
      for (const [model, at] of nodes.get(node) ?? []) if (at >= cutoff) out.add(model);
    }
    return out;
  }

  /** Releases what has finished (or waited too long), says the rest again, forgets silent gateways' holds. */
  tick(): void {
    const now = this.#now();
    for (const [node, models] of this.#local) {
      for (const [model, hold] of models) {
        const idle = this.#o.inFlight(node, model) === 0 && now >= hold.graceUntil;
        if (idle || now - hold.since > RETIRE_MAX_MS) this.#drop(node, model, hold);
      }
    }
    if (now - this.#lastRefresh >= REFRESH_MS) {
      this.#lastRefresh = now;
      for (const [node, models] of this.#local) {
        for (const [model, hold] of models) if (hold.published) this.#o.bus.publish({ kind: "hold", node, model });
      }
    }
    const cutoff = now - REMOTE_HOLD_TTL_MS;
    for (const [gateway, nodes] of this.#remote) {
      for (const [node, models] of nodes) {
        for (const [model, at] of models) {
          if (at >= cutoff) continue;
          models.delete(model);
          this.#o.onChange(node);
        }
        if (models.size === 0) nodes.delete(node);
      }
      if (nodes.size === 0) this.#remote.delete(gateway);
    }
  }

  /** Another gateway's hold or release. */
  message(message: ClusterMessage, from: string): void {
    if (message.kind !== "hold" && message.kind !== "release") return;
    let nodes = this.#remote.get(from);
    if (message.kind === "release") {
      if (nodes?.get(message.node)?.delete(message.model)) this.#o.onChange(message.node);
      return;
    }
    if (!nodes) this.#remote.set(from, (nodes = new Map()));
    let models = nodes.get(message.node);
    if (!models) nodes.set(message.node, (models = new Map()));
    const fresh = !models.has(message.model);
    models.set(message.model, this.#now());
    if (fresh) this.#o.onChange(message.node);
  }

  #drop(node: string, model: string, hold: LocalHold): void {
    const models = this.#local.get(node)!;
    models.delete(model);
    if (models.size === 0) this.#local.delete(node);
    if (hold.published) this.#o.bus.publish({ kind: "release", node, model });
    this.#o.onChange(node);
  }
}
