import type { Logger } from "../logger.js";
import type { SharedState } from "../store/shared-state.js";
import type { ClusterBus, ClusterMessage } from "../store/store-contract.js";
import type { NodeEntry, NodeRegistry } from "./node-registry.js";

export interface NodeSyncOptions {
  readonly nodes: NodeRegistry;
  readonly state: SharedState;
  /** How often liveness goes out to the other gateways (and unwritten reports are retried). */
  readonly flushMs: number;
  /** A node heard here has its row rewritten at least this often (its last_seen and loads), even when nothing else changed. */
  readonly checkpointMs: number;
  readonly timeoutMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** A download's progress is written at most this often per node; a state change at once. */
const PROGRESS_EVERY_MS = 1_000;
/** Rows per transaction when many nodes are written together (a fleet registering at once). */
const BATCH = 200;
/** Matches no report: the stored row is older than what this gateway holds, the next report is written. */
const STALE = "\u0000stale";

interface Written {
  /** What about the node other gateways must know at once (states, errors, registration). */
  significant: string;
  progress: string;
  at: number;
  writing: boolean;
  /** A newer report arrived while a write was in flight, or a write failed: write again. */
  dirty: boolean;
  /** The report time of the row being written now: its own change coming back is not another's. */
  writingReportedAt?: number;
}

/**
 * Carries what the nodes that heartbeat to this gateway report to the shared state, without a row
 * write per heartbeat: a heartbeat that changes a model's state, an error, the registration or the
 * engines is written at once (batched with others of the same moment); download progress at most
 * once a second; the rest (in-flight counts, free memory, last_seen) with a checkpoint every
 * `checkpointMs`. Liveness itself travels as messages: every `flushMs` this gateway names the nodes
 * it heard from, and every gateway marks them seen (a heartbeat every 5 s from 5,000 nodes is one
 * message a second, no row writes).
 *
 * While the database cannot be reached the other gateways cannot be heard either: nodes that were
 * online then stay online here (the data plane's failover and ejection deal with one that died),
 * and reports not written are written once it is back.
 */
export class NodeSync {
  readonly #o: NodeSyncOptions;
  readonly #bus: ClusterBus;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #written = new WeakMap<NodeEntry, Written>();
  /** Heard since the last liveness message. */
  #heard = new Set<string>();
  #queued = new Set<NodeEntry>();
  #flushScheduled = false;
  /** Nodes assumed alive while the bus is down (online when it went down, not heard here). */
  #assumed: NodeEntry[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  readonly #onMessage = (message: ClusterMessage) => this.#message(message);
  readonly #onDisconnected = () => {
    const now = this.#now();
    this.#assumed = this.#o.nodes.online().filter((e) => now - e.heardAt > this.#o.timeoutMs);
  };
  readonly #onReconnected = () => {
    this.#assumed = [];
    this.#bus.publish({ kind: "hello" });
  };
  /**
   * A node's row changed. What this gateway last wrote is no longer what the database holds when
   * another gateway wrote since: say, a gateway woken from a hang that answered a heartbeat the
   * node had given up on, stamping an old report as new. The next heartbeat heard here compares
   * against the stored row, so a report that differs from it is written again, not taken as known.
   */
  readonly #onStored = (entry: NodeEntry, current: boolean, reportedAt: number) => {
    const w = this.#written.get(entry);
    if (!w) return;
    if (w.writing) {
      // Another gateway's row landed while this one writes: once this write is done, write again.
      if (reportedAt !== w.writingReportedAt) w.dirty = true;
      return;
    }
    w.significant = current ? significantOf(entry) : STALE;
  };

  constructor(options: NodeSyncOptions) {
    this.#o = options;
    this.#bus = options.state.bus;
    this.#log = options.logger.child({ component: "nodes" });
    this.#now = options.now ?? Date.now;
  }

  /** Safe to call twice. Says hello: the other gateways answer with the nodes they hear from. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#bus.on("message", this.#onMessage);
    this.#bus.on("disconnected", this.#onDisconnected);
    this.#bus.on("reconnected", this.#onReconnected);
    this.#o.nodes.on("stored", this.#onStored);
    this.#bus.publish({ kind: "hello" });
    this.#arm();
  }

  /** Safe to call twice; writes what is pending once more (best effort). */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#bus.off("message", this.#onMessage);
    this.#bus.off("disconnected", this.#onDisconnected);
    this.#bus.off("reconnected", this.#onReconnected);
    this.#o.nodes.off("stored", this.#onStored);
    await this.#flushQueued().catch(() => {});
  }

  /** A node registered through this gateway: its row is written already. */
  registered(entry: NodeEntry): void {
    this.#written.set(entry, { significant: significantOf(entry), progress: progressOf(entry), at: this.#now(), writing: false, dirty: false });
    this.#heard.add(entry.shortId);
  }

  /** After NodeRegistry.heartbeat: writes the report when something others must know changed. */
  reported(entry: NodeEntry): void {
    this.#heard.add(entry.shortId);
    const now = this.#now();
    let w = this.#written.get(entry);
    if (!w) {
      // First heartbeat here since this gateway started (or the node moved over): written once.
      w = { significant: "", progress: "", at: 0, writing: false, dirty: false };
      this.#written.set(entry, w);
    }
    const significant = significantOf(entry);
    if (significant !== w.significant) return this.#queue(entry, w);
    if (now - w.at >= PROGRESS_EVERY_MS && progressOf(entry) !== w.progress) return this.#queue(entry, w);
  }

  #queue(entry: NodeEntry, w: Written): void {
    w.dirty = true;
    if (w.writing) return;
    this.#queued.add(entry);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // Reports of the same moment (a fleet starting, models turning ready together) share a transaction.
    setImmediate(() => {
      this.#flushScheduled = false;
      void this.#flushQueued();
    });
  }

  async #flushQueued(): Promise<void> {
    const entries = [...this.#queued];
    this.#queued.clear();
    for (let i = 0; i < entries.length; i += BATCH) await this.#write(entries.slice(i, i + BATCH));
  }

  async #write(entries: NodeEntry[]): Promise<void> {
    const batch: Array<{ entry: NodeEntry; w: Written; significant: string; progress: string }> = [];
    for (const entry of entries) {
      const w = this.#written.get(entry);
      // Forgotten meanwhile (removed, or registered anew: a new entry object).
      if (!w || w.writing || this.#o.nodes.get(entry.runtimeId) !== entry) continue;
      w.writing = true;
      w.writingReportedAt = entry.reportedAt;
      w.dirty = false;
      batch.push({ entry, w, significant: significantOf(entry), progress: progressOf(entry) });
    }
    if (batch.length === 0) return;
    let failed = false;
    try {
      // update, not put: a node removed meanwhile (by an admin, or forgotten) is not brought back.
      await this.#o.state.write(batch.map(({ entry }) => ({ op: "update", table: "nodes", key: entry.runtimeId, doc: this.#o.nodes.docOf(entry) })));
      const at = this.#now();
      for (const b of batch) {
        b.w.significant = b.significant;
        b.w.progress = b.progress;
        b.w.at = at;
      }
    } catch (err) {
      failed = true;
      this.#log.debug({ err, nodes: batch.length }, "node reports not written; retrying");
    }
    for (const b of batch) {
      b.w.writing = false;
      if (!this.#running) continue;
      // A failed write waits for the next tick (and the database); a report that came meanwhile goes now.
      if (failed) {
        b.w.dirty = true;
        this.#queued.add(b.entry);
      } else if (b.w.dirty) this.#queue(b.entry, b.w);
    }
  }

  /** Every flushMs: liveness out, checkpoints and retries in. */
  #tick(): void {
    const now = this.#now();
    if (this.#bus.connected) {
      this.#bus.publish({ kind: "seen", nodes: [...this.#heard] });
      this.#heard = new Set();
    } else {
      for (const e of this.#assumed) e.lastSeen = Math.max(e.lastSeen, now);
    }
    for (const entry of this.#o.nodes.list()) {
      if (now - entry.heardAt > this.#o.timeoutMs) continue;
      const w = this.#written.get(entry);
      if (w && !w.writing && (w.dirty || now - w.at >= this.#o.checkpointMs)) this.#queued.add(entry);
    }
    // Retries wait for the bus: a write would only fail while the database is away.
    if (this.#queued.size > 0 && this.#bus.connected) void this.#flushQueued();
  }

  #message(message: ClusterMessage): void {
    if (message.kind === "seen") this.#o.nodes.seen(message.nodes);
    else if (message.kind === "hello") {
      const now = this.#now();
      const heard = this.#o.nodes.list().filter((e) => now - e.heardAt <= this.#o.timeoutMs);
      if (heard.length > 0) this.#bus.publish({ kind: "seen", nodes: heard.map((e) => e.shortId) });
    }
  }

  #arm(): void {
    this.#timer = setTimeout(() => {
      try {
        this.#tick();
      } catch (err) {
        this.#log.error({ err }, "node sync failed");
      }
      if (this.#running) this.#arm();
    }, this.#o.flushMs);
    this.#timer.unref();
  }
}

/** What about a node other gateways must see at once: model states and errors, the registration, engine health. */
function significantOf(e: NodeEntry): string {
  const r = e.registration;
  let models = "";
  for (const m of e.models.values()) models += `${m.name}\u0000${m.state}\u0000${m.error ?? ""}\u0000${m.capacity}\u0001`;
  let engines = "";
  for (const x of e.engines) engines += `${x.model}\u0000${x.up}\u0000${x.restarts}\u0001`;
  const gpus = r.gpus.map((g) => `${g.index}:${g.name}:${g.memory_total_mib}`).join(",");
  const capacity = r.capacity ? `${r.capacity.memory_total_mib}:${r.capacity.reserved_mib}` : "";
  return JSON.stringify([r.agent_url, r.hostname, r.version, r.supported_runtimes, r.loaded_models, r.labels, r.cached ?? null, r.llama ?? null, gpus, capacity, models, engines, e.certificate?.serial ?? null]);
}

function progressOf(e: NodeEntry): string {
  let out = "";
  for (const m of e.models.values()) if (m.progress) out += `${m.name}:${m.progress.bytes}\u0001`;
  return out;
}
