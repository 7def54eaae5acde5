import type { NodeEntry } from "../nodes/node-registry.js";
import type { ReadyTarget } from "./readiness.js";

/** A slot held on one node for one model; `release()` is idempotent, so every end path may call it. */
export interface Lease {
  readonly target: ReadyTarget;
  release(): void;
}

export type SlotListener = (model: string) => void;

/**
 * Picks the node for a request and keeps the exact count of requests this gateway has in flight
 * per node and model. The counts are the gateway's own (incremented here, decremented by
 * `Lease.release` on every end), not the agents' reports, which lag by a heartbeat.
 */
export class Scheduler {
  /** runtime_id → model → requests in flight. */
  readonly #inFlight = new Map<string, Map<string, number>>();
  /** model → round-robin cursor among equally loaded nodes. */
  readonly #cursor = new Map<string, number>();
  readonly #isEjected: (node: NodeEntry) => boolean;
  readonly #onSlotFreed: SlotListener;

  constructor(options: { isEjected: (node: NodeEntry) => boolean; onSlotFreed: SlotListener }) {
    this.#isEjected = options.isEjected;
    this.#onSlotFreed = options.onSlotFreed;
  }

  inFlight(runtimeId: string, model: string): number {
    return this.#inFlight.get(runtimeId)?.get(model) ?? 0;
  }

  /** Every (node, model) with requests in flight, for the metrics. */
  *entries(): Iterable<[runtimeId: string, model: string, count: number]> {
    for (const [id, models] of this.#inFlight) for (const [m, n] of models) yield [id, m, n];
  }

  /**
   * Among `targets` not in `exclude` and not ejected, the one with the fewest requests in flight
   * relative to its capacity for the model, ties round-robin; undefined when every candidate is at
   * capacity (the caller queues). When every candidate is ejected they are used anyway: a
   * degraded node beats refusing all traffic (Envoy's panic mode).
   */
  pick(model: string, targets: readonly ReadyTarget[], exclude?: ReadonlySet<string>): ReadyTarget | undefined {
    let best: ReadyTarget[] = [];
    let bestLoad = Infinity;
    let sawHealthy = false;
    for (let pass = 0; pass < 2 && !sawHealthy; pass++) {
      for (const t of targets) {
        if (exclude?.has(t.node.runtimeId)) continue;
        // First pass: healthy nodes only; second pass (all ejected): the ejected ones.
        if (this.#isEjected(t.node) !== (pass === 1)) continue;
        sawHealthy = true;
        const load = this.inFlight(t.node.runtimeId, model) / t.status.capacity;
        if (load >= 1) continue;
        if (load < bestLoad) {
          bestLoad = load;
          best = [t];
        } else if (load === bestLoad) {
          best.push(t);
        }
      }
    }
    if (best.length === 0) return undefined;
    if (best.length === 1) return best[0];
    const cursor = this.#cursor.get(model) ?? 0;
    this.#cursor.set(model, cursor + 1 >= Number.MAX_SAFE_INTEGER ? 0 : cursor + 1);
    return best[cursor % best.length];
  }

  /** Whether any target outside `exclude` exists at all (full or not): worth failing over to. */
  hasAlternative(targets: readonly ReadyTarget[], exclude: ReadonlySet<string>): boolean {
    return targets.some((t) => !exclude.has(t.node.runtimeId));
  }

  /** Counts a request on the target's node until the lease is released. */
  acquire(model: string, target: ReadyTarget): Lease {
    const id = target.node.runtimeId;
    let models = this.#inFlight.get(id);
    if (!models) this.#inFlight.set(id, (models = new Map()));
    models.set(model, (models.get(model) ?? 0) + 1);
    let released = false;
    return {
      target,
      release: () => {
        if (released) return;
        released = true;
        const m = this.#inFlight.get(id);
        const n = (m?.get(model) ?? 1) - 1;
        if (n > 0) m!.set(model, n);
        else {
          m?.delete(model);
          if (m?.size === 0) this.#inFlight.delete(id);
        }
        this.#onSlotFreed(model);
      },
    };
  }
}
