import { EventEmitter } from "node:events";
import type { DownloadProgress, ModelRecord, ModelState, NodeModelStatus } from "@omnigate/shared/models";
import type { LoadedModels } from "@omnigate/shared/node-protocol";
import { kindOf } from "@omnigate/shared/runtimes";
import { backoffDelay } from "../backoff.js";
import type { CachedModel, ModelCache } from "../cache/types.js";
import type { Logger } from "../logger.js";
import type { EngineState, ModelServer } from "../supervisor/types.js";
import type { HeldModelsStore } from "./held-models-store.js";
import { defaultFilesFor } from "@omnigate/shared/default-files";
import { cacheRef, sameSpec } from "./model-spec.js";

/** Well under NodeModelStatus.error's 4096 limit: the message, not a log. */
const MAX_ERROR_CHARS = 1_000;

export interface ReconcilerOptions {
  readonly cache: ModelCache;
  readonly server: ModelServer;
  readonly logger: Logger;
  /** Remembers held models across restarts (cleanup of models deleted while the agent was down). */
  readonly store?: HeldModelsStore;
  /** Retry of a failed model: first delay and cap. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** Progress alone (no state change) is announced at most this often. */
  readonly progressIntervalMs?: number;
}

export interface ReconcilerEvents {
  /** Something a heartbeat reports changed: a state, progress, an error, a model came or went. */
  change: [];
}

export interface DeleteResult {
  /** False when the node did not have the model. */
  readonly deleted: boolean;
  /** Set when the engine stopped but the cache entries could not be removed. */
  readonly error?: string;
}

/** One model this node is working on or serving. */
interface Managed {
  readonly record: ModelRecord;
  state: ModelState;
  progress: DownloadProgress | undefined;
  error: string | undefined;
  readonly abort: AbortController;
  cached: CachedModel | undefined;
  engineStarted: boolean;
  /** Consecutive failures, for the retry backoff. */
  failures: number;
  retryTimer: NodeJS.Timeout | undefined;
  /** The pull/start attempt in progress; deletion waits for it to let go of the cache. */
  running: Promise<void> | undefined;
  deletion: Promise<DeleteResult> | undefined;
  lastProgressAt: number;
}

/**
 * Drives the node's models toward the gateway's desired set:
 * pending → downloading → verifying → starting → ready, `failed` retried with backoff, and
 * `deleting` (abort the pull, stop the engine, remove cache entries not still wanted) for a model no
 * longer desired, deleted through the agent API, or changed in place (then started anew).
 */
export class Reconciler extends EventEmitter<ReconcilerEvents> {
  readonly #cache: ModelCache;
  readonly #server: ModelServer;
  readonly #log: Logger;
  readonly #store: HeldModelsStore | undefined;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #progressIntervalMs: number;
  #desired = new Map<string, ModelRecord>();
  readonly #models = new Map<string, Managed>();
  /** Deleted through the agent API at epoch N: ignored in desired sets fetched before N. */
  readonly #tombstones = new Map<string, number>();
  #epoch = 0;
  /**
   * Held by a previous run, or whose removal failed: removed once a desired set shows they are no
   * longer wanted.
   */
  #leftovers: ModelRecord[] = [];
  #leftoverCleanup: Promise<void> | undefined;
  #closed = false;

  constructor(options: ReconcilerOptions) {
    super();
    this.#cache = options.cache;
    this.#server = options.server;
    this.#log = options.logger;
    this.#store = options.store;
    this.#retryBaseMs = options.retryBaseMs ?? 2_000;
    this.#retryMaxMs = options.retryMaxMs ?? 300_000;
    this.#progressIntervalMs = options.progressIntervalMs ?? 1_000;
  }

  /** Reads what a previous run held (call once, before the first desired set). */
  async restore(): Promise<void> {
    if (!this.#store) return;
    try {
      this.#leftovers = await this.#store.load();
    } catch (err) {
      this.#log.warn({ err }, "cannot read the held-models file; models deleted while the agent was down may leave cache files behind");
    }
  }

  /** Taken before fetching a desired set and handed back with it (see `deleteModel`). */
  snapshot(): number {
    return this.#epoch;
  }

  /** The gateway's desired model set, fetched at `snapshot`. */
  setDesired(models: readonly ModelRecord[], snapshot: number = this.#epoch): void {
    if (this.#closed) return;
    for (const [name, epoch] of this.#tombstones) if (epoch <= snapshot) this.#tombstones.delete(name);
    // A heartbeat sent before a DELETE reached us may still list the model: it stays deleted.
    this.#desired = new Map(models.filter((m) => !this.#tombstones.has(m.name)).map((m) => [m.name, m]));
    if (this.#leftovers.length > 0 && !this.#leftoverCleanup) {
      this.#leftoverCleanup = this.#cleanLeftovers().finally(() => (this.#leftoverCleanup = undefined));
    }
    this.#reconcile();
  }

  /**
   * `DELETE /api/models/{name}`: stops and deletes the model now, whatever the desired set says,
   * until a desired set fetched after this call is applied. Resolves once the cache entries are gone.
   */
  async deleteModel(name: string): Promise<DeleteResult> {
    this.#epoch++;
    this.#tombstones.set(name, this.#epoch);
    this.#desired.delete(name);
    const managed = this.#models.get(name);
    if (managed) return this.#beginDelete(managed);
    const leftovers = this.#leftovers.filter((r) => r.name === name);
    if (leftovers.length === 0) return { deleted: false };
    let error: string | undefined;
    for (const record of leftovers) {
      const failed = await this.#removeFromCache(record);
      if (failed) error = failed;
      else this.#leftovers = this.#leftovers.filter((r) => r !== record);
    }
    await this.#persist();
    return error ? { deleted: true, error } : { deleted: true };
  }

  /** Each model's state for the heartbeat. */
  statuses(): NodeModelStatus[] {
    return [...this.#models.values()].map((m) => {
      const load = m.engineStarted ? this.#server.load(m.record.name) : undefined;
      const status: NodeModelStatus = {
        name: m.record.name,
        state: m.state,
        in_flight: load?.inFlight ?? 0,
        capacity: Math.max(1, load?.capacity ?? 1),
      };
      if (m.progress && (m.state === "downloading" || m.state === "verifying")) status.progress = m.progress;
      if (m.error && m.state === "failed") status.error = m.error;
      return status;
    });
  }

  /** The seed's `loaded_models`: names of ready models by kind. */
  loadedModels(): LoadedModels {
    const loaded: LoadedModels = { llm: [], asr: [], tts: [], image: [] };
    for (const m of this.#models.values()) if (m.state === "ready") loaded[kindOf(m.record.runtime)].push(m.record.name);
    return loaded;
  }

  /** Stops pulls and retries; leaves engines to `ModelServer.close()` and cache files in place. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const m of this.#models.values()) {
      m.abort.abort();
      if (m.retryTimer) clearTimeout(m.retryTimer);
    }
    await Promise.allSettled([...this.#models.values()].flatMap((m) => [m.running, m.deletion]));
    await this.#leftoverCleanup;
    await this.#store?.flush();
  }

  #reconcile(): void {
    if (this.#closed) return;
    for (const m of this.#models.values()) {
      if (m.deletion) continue;
      const wanted = this.#desired.get(m.record.name);
      if (!wanted || !sameSpec(wanted, m.record)) {
        if (wanted) this.#log.info({ model: m.record.name }, "model changed in place; replacing it");
        void this.#beginDelete(m);
      }
    }
    let added = false;
    for (const record of this.#desired.values()) {
      if (this.#models.has(record.name)) continue;
      this.#models.set(record.name, {
        record,
        state: "pending",
        progress: undefined,
        error: undefined,
        abort: new AbortController(),
        cached: undefined,
        engineStarted: false,
        failures: 0,
        retryTimer: undefined,
        running: undefined,
        deletion: undefined,
        lastProgressAt: 0,
      });
      added = true;
    }
    if (!added) return;
    void this.#persist();
    this.emit("change");
    for (const m of this.#models.values()) if (m.state === "pending" && !m.running && !m.deletion) this.#attempt(m);
  }

  #attempt(m: Managed): void {
    m.running = this.#run(m).finally(() => {
      m.running = undefined;
    });
  }

  async #run(m: Managed): Promise<void> {
    const { signal } = m.abort;
    const name = m.record.name;
    try {
      if (!m.cached) {
        this.#log.info({ model: name, repo: m.record.repo, revision: m.record.revision }, "pulling model");
        const defaultFiles = defaultFilesFor(m.record.runtime);
        const cached = await this.#cache.pull(cacheRef(m.record), {
          signal,
          ...(defaultFiles ? { defaultFiles } : {}),
          onProgress: (p) => this.#onProgress(m, p),
          onVerifying: () => this.#set(m, "verifying"),
        });
        if (signal.aborted || this.#stale(m)) return;
        m.cached = cached;
      }
      this.#set(m, "starting");
      m.engineStarted = true;
      this.#server.start(m.record, m.cached, (s) => this.#onEngineState(m, s));
    } catch (err) {
      if (signal.aborted || this.#stale(m)) return;
      this.#fail(m, err instanceof Error ? err.message : String(err));
    }
  }

  /** True once the model is being deleted or replaced: its late callbacks change nothing. */
  #stale(m: Managed): boolean {
    return this.#closed || m.deletion !== undefined || this.#models.get(m.record.name) !== m;
  }

  #onProgress(m: Managed, progress: DownloadProgress): void {
    if (this.#stale(m)) return;
    const entering = m.state !== "downloading";
    m.state = "downloading";
    m.progress = progress;
    const now = Date.now();
    if (entering || now - m.lastProgressAt >= this.#progressIntervalMs || progress.percent >= 100) {
      m.lastProgressAt = now;
      this.emit("change");
    }
  }

  #onEngineState(m: Managed, s: EngineState): void {
    if (this.#stale(m)) return;
    if (s.state === "failed") return this.#fail(m, s.error);
    if (s.state === "ready") {
      m.failures = 0;
      if (m.state !== "ready") this.#log.info({ model: m.record.name }, "model ready");
    }
    this.#set(m, s.state);
  }

  #set(m: Managed, state: ModelState): void {
    if (this.#stale(m) || m.state === state) return;
    m.state = state;
    if (state !== "failed") m.error = undefined;
    if (state !== "downloading" && state !== "verifying") m.progress = undefined;
    this.emit("change");
  }

  #fail(m: Managed, error: string): void {
    m.failures++;
    const delay = backoffDelay(m.failures, { baseMs: this.#retryBaseMs, maxMs: this.#retryMaxMs });
    this.#log.warn({ model: m.record.name, error, attempt: m.failures, retry_in_ms: delay }, "model failed; will retry");
    m.state = "failed";
    // The heartbeat schema caps `error`; an engine's stderr tail can be longer.
    m.error = error.length > MAX_ERROR_CHARS ? `${error.slice(0, MAX_ERROR_CHARS - 1)}…` : error;
    m.progress = undefined;
    this.emit("change");
    if (m.retryTimer) clearTimeout(m.retryTimer);
    m.retryTimer = setTimeout(() => {
      m.retryTimer = undefined;
      void this.#retry(m);
    }, delay);
  }

  async #retry(m: Managed): Promise<void> {
    if (this.#stale(m) || m.running) return;
    if (m.engineStarted) {
      // A fresh engine: the supervisor gave up on the old one.
      m.engineStarted = false;
      await this.#server.stop(m.record.name);
      if (this.#stale(m)) return;
    }
    this.#set(m, "pending");
    this.#attempt(m);
  }

  #beginDelete(m: Managed): Promise<DeleteResult> {
    if (m.deletion) return m.deletion;
    const name = m.record.name;
    m.abort.abort();
    if (m.retryTimer) clearTimeout(m.retryTimer);
    m.retryTimer = undefined;
    m.state = "deleting";
    m.progress = undefined;
    m.error = undefined;
    this.emit("change");
    this.#log.info({ model: name }, "deleting model");
    m.deletion = (async (): Promise<DeleteResult> => {
      // Let an aborted pull settle first, so nothing writes into the cache while it is cleaned.
      await m.running?.catch(() => undefined);
      await this.#server.stop(name);
      const error = await this.#removeFromCache(m.record);
      // Files that could not be removed stay on the books: retried with the next desired set.
      if (error) this.#leftovers.push(m.record);
      if (this.#models.get(name) === m) this.#models.delete(name);
      await this.#persist();
      this.emit("change");
      // A replacement (same name, new spec) starts only now, on a clean slate.
      this.#reconcile();
      return error ? { deleted: true, error } : { deleted: true };
    })();
    return m.deletion;
  }

  /** Returns an error message, or undefined when the entries are gone. */
  async #removeFromCache(record: ModelRecord): Promise<string | undefined> {
    const stillWanted = this.#stillWanted(record);
    try {
      await this.#cache.remove(cacheRef(record), stillWanted.map(cacheRef));
      return undefined;
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.#log.error({ model: record.name, error }, "could not remove the model's cache entries");
      return `the engine stopped but the cache entries could not be removed: ${error}`;
    }
  }

  /** Every other model this node wants or holds: their files stay, even when shared with `record`. */
  #stillWanted(record: ModelRecord): ModelRecord[] {
    const out: ModelRecord[] = [...this.#desired.values()].filter((r) => r !== record);
    for (const m of this.#models.values()) if (!m.deletion && m.record !== record && !out.includes(m.record)) out.push(m.record);
    return out;
  }

  /** Leftovers the gateway no longer wants (deleted while this node was down, or removal failed). */
  async #cleanLeftovers(): Promise<void> {
    for (const record of [...this.#leftovers]) {
      const wanted = this.#desired.get(record.name);
      if (!wanted || !sameSpec(wanted, record)) {
        this.#log.info({ model: record.name }, "removing cache entries of a model no longer wanted");
        // Still failing: left for the next desired set.
        if (await this.#removeFromCache(record)) continue;
      }
      // Dropped only once handled: a crash halfway leaves the rest for the next start.
      this.#leftovers = this.#leftovers.filter((r) => r !== record);
      await this.#persist();
    }
  }

  #persist(): Promise<void> {
    if (!this.#store) return Promise.resolve();
    // Deleting models stay listed until gone: a crash mid-delete still cleans up on the next start.
    const held = [...this.#models.values()].map((m) => m.record);
    for (const r of this.#leftovers) if (!held.some((h) => h.name === r.name && sameSpec(h, r))) held.push(r);
    return this.#store.save(held).catch((err: unknown) => {
      this.#log.warn({ err }, "cannot write the held-models file");
    });
  }
}
