import type { Logger } from "../logger.js";
import type { NodeRegistry } from "./node-registry.js";

/**
 * Going offline is the absence of an event, so nothing would tell waiters a node stopped
 * heartbeating. The sweeper checks on a re-armed timer and marks each node that crossed from online
 * to offline once (the registry tells its listeners and the event stream). Nodes offline past the
 * registry's forget bound are dropped here too, so a cluster that replaces boxes does not keep
 * every old one in memory.
 */
export class OfflineSweeper {
  #timer: NodeJS.Timeout | null = null;
  #running = false;

  constructor(
    private readonly nodes: NodeRegistry,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  /** Safe to call twice. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#arm();
  }

  /** Safe to call twice. */
  stop(): void {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** One pass; returns the runtime ids that went offline in it. */
  sweep(): string[] {
    const wentOffline: string[] = [];
    for (const node of this.nodes.list()) {
      const online = this.nodes.isOnline(node);
      if (!online && !node.offline) {
        wentOffline.push(node.runtimeId);
        this.logger.warn({ runtime_id: node.runtimeId, last_seen: node.lastSeen }, "node missed its heartbeats; offline");
        this.nodes.markOffline(node);
      }
      if (!online && this.nodes.isForgettable(node)) {
        this.nodes.remove(node.runtimeId);
        this.logger.info({ runtime_id: node.runtimeId, last_seen: node.lastSeen }, "node offline past the forget bound; forgotten (it re-registers if it returns)");
      }
    }
    return wentOffline;
  }

  #arm(): void {
    // Re-armed only after a pass ends, so passes never overlap; unref'd so it never holds the process.
    this.#timer = setTimeout(() => {
      try {
        this.sweep();
      } catch (err) {
        this.logger.error({ err }, "offline sweep failed");
      }
      if (this.#running) this.#arm();
    }, this.intervalMs);
    this.#timer.unref();
  }
}
