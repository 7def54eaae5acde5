import type { NodeEntry } from "../nodes/node-registry.js";

export interface OutlierOptions {
  /** Consecutive failures that eject a node. */
  readonly failures: number;
  /** The first ejection's cool-down; the n-th ejection lasts n times this. */
  readonly baseEjectionMs: number;
  /** Cap on one ejection. */
  readonly maxEjectionMs: number;
  readonly now?: () => number;
  /** Told about each ejection (logs, metrics, events), with the last failure in words. */
  readonly onEject?: (node: NodeEntry, untilMs: number, failures: number, lastFailure: string) => void;
}

/**
 * Envoy-style outlier detection on consecutive failures: a node that fails `failures` times in a row
 * (refused, reset, 5xx, timeout) gets no traffic for `base × times ejected` (capped), written to
 * `NodeEntry.ejectedUntil` so `/api/nodes` shows it. Any success resets the run. After an ejection
 * ends the node gets traffic again; failing again ejects it for longer.
 */
export class OutlierDetector {
  /** runtime_id → failures in a row. */
  readonly #run = new Map<string, number>();
  readonly #options: OutlierOptions;
  readonly #now: () => number;

  constructor(options: OutlierOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  isEjected = (node: NodeEntry): boolean => node.ejectedUntil !== null && node.ejectedUntil > this.#now();

  success(node: NodeEntry): void {
    if (this.#run.has(node.runtimeId)) this.#run.delete(node.runtimeId);
  }

  /** `detail` says what went wrong ("connection refused"), for the ejection's reason. */
  failure(node: NodeEntry, detail = "failed"): void {
    // A request that was already on its way when the node got ejected adds nothing.
    if (this.isEjected(node)) return;
    const run = (this.#run.get(node.runtimeId) ?? 0) + 1;
    if (run < this.#options.failures) {
      this.#run.set(node.runtimeId, run);
      return;
    }
    this.#run.delete(node.runtimeId);
    node.ejections += 1;
    const ms = Math.min(this.#options.baseEjectionMs * node.ejections, this.#options.maxEjectionMs);
    node.ejectedUntil = this.#now() + ms;
    this.#options.onEject?.(node, node.ejectedUntil, run, detail);
  }
}
