import type { z } from "zod";
import type { Logger } from "../logger.js";
import type { ClusterBus, RowChange, StoreBackend, TableName, WriteOp } from "./store-contract.js";

/** How one in-memory cache takes its table's rows. */
export interface TableBinding<T> {
  /** Checks a stored document (another gateway, or another version of omnigate, wrote it). */
  readonly schema: z.ZodType<T>;
  /**
   * The row is now `doc` (undefined: deleted). Called once per newer version, never for an older
   * one. `reloaded`: read again after an outage of the notifications, when what this gateway holds
   * may be what it heard while it was cut off (or hung): the row is the cluster's word.
   */
  apply(key: string, doc: T | undefined, reloaded: boolean): void;
  /** At load, a document that does not parse stops the start (a model nodes would then delete) rather than being skipped. */
  readonly strict?: boolean;
  /** The order rows are applied in at load (models: the order they were registered in). */
  readonly order?: (a: T, b: T) => number;
}

/** The first retry of a reload that failed, doubling up to RESYNC_RETRY_MAX_MS until one succeeds. */
const RESYNC_RETRY_MS = 1_000;
const RESYNC_RETRY_MAX_MS = 30_000;

/** A deleted row's version is remembered this long, so an older write arriving late cannot revive it. */
const TOMBSTONE_MS = 10 * 60_000;

interface Seen {
  version: number;
  deletedAt?: number;
}

/**
 * The gateway's copy of the shared state: every table's rows in the caches bound to them (models,
 * keys, nodes, placement, …), kept current from this gateway's own writes and the other gateways'
 * notifications alike. Each row's version decides: a change older than what a cache holds is
 * dropped, so notifications may arrive in any order, twice, or after a reload.
 *
 * Requests never wait on the database: the caches are plain maps. Only writes do (`write`), and
 * they answer 503 while the database is unreachable.
 */
export class SharedState {
  readonly #bindings = new Map<TableName, TableBinding<unknown>>();
  readonly #seen = new Map<TableName, Map<string, Seen>>();
  readonly #log: Logger;
  #applied = 0;
  /** A reload is due or running (`#resyncSoon`); `#resyncAgain`: another is wanted after it. */
  #resyncing = false;
  #resyncAgain = false;
  #resyncTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    readonly backend: StoreBackend,
    logger: Logger,
  ) {
    this.#log = logger.child({ component: "store" });
  }

  get bus(): ClusterBus {
    return this.backend.bus;
  }

  bind<T>(table: TableName, binding: TableBinding<T>): void {
    if (this.#bindings.has(table)) throw new Error(`table ${table} is bound twice`);
    this.#bindings.set(table, binding as TableBinding<unknown>);
    this.#seen.set(table, new Map());
  }

  /** Fills every bound cache from the database, then follows the other gateways' changes. */
  async load(): Promise<void> {
    // Listening first: what other gateways write while the snapshot is read is applied after it.
    let buffered: RowChange[] | null = [];
    this.bus.on("change", (change) => (buffered ? buffered.push(change) : this.#dispatch(change)));
    // Notifications may have been missed: reload, and keep trying until a reload succeeds (a
    // change no reload brings in would leave this gateway routing on stale state for good).
    this.bus.on("reconnected", () => this.#resyncSoon(0));
    this.bus.on("missed", () => this.#resyncSoon(0));
    const snapshot = await this.backend.snapshot();
    for (const [table, binding] of this.#bindings) {
      const rows = snapshot.tables.get(table) ?? [];
      const parsed: Array<{ key: string; version: number; doc: unknown }> = [];
      for (const row of rows) {
        const result = binding.schema.safeParse(row.doc);
        if (result.success) parsed.push({ key: row.key, version: row.version, doc: result.data });
        else if (binding.strict) throw new Error(`The stored ${table} row '${row.key}' is not valid: ${result.error.message}`);
        else this.#log.warn({ table, key: row.key, error: result.error.message }, "a stored row is not valid; ignored");
      }
      if (binding.order) parsed.sort((a, b) => binding.order!(a.doc, b.doc) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      for (const row of parsed) this.#dispatch({ table, key: row.key, version: row.version, doc: row.doc }, true);
    }
    const pending = buffered;
    buffered = null;
    for (const change of pending) this.#dispatch(change);
  }

  /**
   * Reloads after `delayMs`; on failure again later, backing off, until one succeeds. A reason that
   * comes while a reload runs gets one more after it (that reload may have read before its change).
   */
  #resyncSoon(delayMs: number): void {
    if (this.#closed) return;
    if (this.#resyncing) {
      this.#resyncAgain = true;
      return;
    }
    this.#resyncing = true;
    this.#resyncAgain = false;
    this.#resyncTimer = setTimeout(() => {
      this.resync().then(
        () => {
          this.#resyncing = false;
          if (this.#resyncAgain) this.#resyncSoon(0);
        },
        (err: unknown) => {
          const next = Math.min(RESYNC_RETRY_MAX_MS, Math.max(RESYNC_RETRY_MS, delayMs * 2));
          this.#log.warn({ err, retry_ms: next }, "reloading the shared state failed; trying again");
          this.#resyncing = false;
          this.#resyncSoon(next);
        },
      );
    }, delayMs);
    this.#resyncTimer.unref();
  }

  /** Stops a pending reload, and any retry (the gateway is closing). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#resyncTimer);
  }

  /**
   * After an outage of the notifications: reads everything again and applies what changed,
   * deleting what is gone (what this gateway wrote after the reload began stays).
   */
  async resync(): Promise<void> {
    const snapshot = await this.backend.snapshot();
    let changed = 0;
    for (const [table] of this.#bindings) {
      const rows = snapshot.tables.get(table) ?? [];
      const present = new Set<string>();
      for (const row of rows) {
        present.add(row.key);
        if (this.#dispatch({ table, key: row.key, version: row.version, doc: row.doc }, false, true)) changed++;
      }
      for (const [key, seen] of this.#seen.get(table)!) {
        if (seen.deletedAt === undefined && !present.has(key) && seen.version < snapshot.version) {
          if (this.#dispatch({ table, key, version: snapshot.version, doc: null }, false, true)) changed++;
        }
      }
    }
    this.#log.info({ changed }, "shared state reloaded");
  }

  /**
   * Writes through the backend (one transaction) and applies the result here at once. Returns, per
   * op, whether it changed anything (false: an insert on a taken key, an update of no row).
   */
  async write(ops: readonly WriteOp[], options?: { readonly leader?: boolean }): Promise<boolean[]> {
    const changes = await this.backend.write(ops, options);
    for (const change of changes) if (change) this.#dispatch(change);
    return changes.map((c) => c !== null);
  }

  /** Reads one row again (a heartbeat from a node registered elsewhere a moment ago). */
  async refresh(table: TableName, key: string): Promise<void> {
    const row = await this.backend.get(table, key);
    if (row) this.#dispatch({ table, key, version: row.version, doc: row.doc });
  }

  /** Applies a change when it is newer than what the cache holds; true when it did. */
  #dispatch(change: RowChange, loading = false, reloaded = false): boolean {
    const binding = this.#bindings.get(change.table);
    if (!binding) return false;
    const seen = this.#seen.get(change.table)!;
    const known = seen.get(change.key);
    if (known && known.version >= change.version) return false;
    let doc: unknown;
    if (change.doc !== null && change.doc !== undefined) {
      // A loaded row was parsed already.
      const result = loading ? { success: true as const, data: change.doc } : binding.schema.safeParse(change.doc);
      if (!result.success) {
        this.#log.warn({ table: change.table, key: change.key, error: result.error.message }, "a changed row is not valid; ignored");
        return false;
      }
      doc = result.data;
    }
    seen.set(change.key, doc === undefined ? { version: change.version, deletedAt: Date.now() } : { version: change.version });
    if (++this.#applied % 1_000 === 0) this.#forgetTombstones();
    binding.apply(change.key, doc, reloaded);
    return true;
  }

  #forgetTombstones(): void {
    const cutoff = Date.now() - TOMBSTONE_MS;
    for (const seen of this.#seen.values()) {
      for (const [key, s] of seen) if (s.deletedAt !== undefined && s.deletedAt < cutoff) seen.delete(key);
    }
  }
}
