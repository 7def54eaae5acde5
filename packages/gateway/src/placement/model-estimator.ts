import { EventEmitter } from "node:events";
import { defaultFilesFor } from "@omnigate/shared/default-files";
import { parseGgufHeader, type GgufHeader } from "@omnigate/shared/gguf";
import { ggufMemoryProfile, type MemoryProfile } from "@omnigate/shared/memory-estimate";
import type { ModelRecord } from "@omnigate/shared/models";
import { selectFiles } from "@omnigate/shared/repo-glob";
import type { Logger } from "../logger.js";
import type { ModelEstimate, PlacementStore } from "../store/placement-store.js";
import { HubReadError, type HubReader } from "./hub-reader.js";

export interface ModelEstimatorEvents {
  /** A model's estimate arrived, or its pending reason changed. */
  change: [model: string];
}

const RETRY_BASE_MS = 2_000;
const RETRY_MAX_MS = 60_000;

interface Pending {
  readonly record: ModelRecord;
  reason: string;
  attempts: number;
  timer: NodeJS.Timeout | undefined;
  abort: AbortController;
}

/**
 * Each model's memory estimate, read once per registration from the hub before any node downloads
 * (the files the runtime will load, their GGUF headers over `Range`), then stored. A hub that
 * cannot be reached leaves the model pending, retried with backoff, the reason shown to operators.
 */
export class ModelEstimator extends EventEmitter<ModelEstimatorEvents> {
  readonly #estimates: Map<string, ModelEstimate>;
  readonly #pending = new Map<string, Pending>();
  readonly #log: Logger;
  #closed = false;

  constructor(
    private readonly hub: HubReader,
    private readonly store: PlacementStore,
    logger: Logger,
  ) {
    super();
    this.#estimates = store.loadEstimates();
    this.#log = logger.child({ component: "estimate" });
  }

  get(model: string): ModelEstimate | undefined {
    return this.#estimates.get(model);
  }

  /** Why the model has no estimate yet; undefined once it has one (or was never asked for). */
  pendingReason(model: string): string | undefined {
    return this.#pending.get(model)?.reason;
  }

  /** Starts estimating a model that has no estimate (registration, or a restart before it finished). */
  ensure(record: ModelRecord): void {
    if (this.#closed || this.#estimates.has(record.name) || this.#pending.has(record.name)) return;
    const p: Pending = { record, reason: "memory estimate pending: reading the model's files from the hub", attempts: 0, timer: undefined, abort: new AbortController() };
    this.#pending.set(record.name, p);
    void this.#attempt(p);
  }

  /** The model was deleted: stop, and forget its estimate. */
  forget(model: string): void {
    const p = this.#pending.get(model);
    if (p) {
      p.abort.abort();
      if (p.timer) clearTimeout(p.timer);
      this.#pending.delete(model);
    }
    if (this.#estimates.delete(model)) this.store.saveEstimate(model, undefined);
  }

  close(): void {
    this.#closed = true;
    for (const model of [...this.#pending.keys()]) {
      const p = this.#pending.get(model)!;
      p.abort.abort();
      if (p.timer) clearTimeout(p.timer);
    }
    this.#pending.clear();
  }

  async #attempt(p: Pending): Promise<void> {
    const { record } = p;
    try {
      const estimate = await this.#read(record, p.abort.signal);
      if (this.#pending.get(record.name) !== p) return;
      this.#pending.delete(record.name);
      this.#estimates.set(record.name, estimate);
      this.store.saveEstimate(record.name, estimate);
      this.#log.info({ model: record.name, commit: estimate.commit, files: estimate.files.map((f) => f.path), profile: estimate.profile.kind }, "memory estimate read");
      this.emit("change", record.name);
    } catch (err) {
      if (this.#pending.get(record.name) !== p || p.abort.signal.aborted) return;
      p.attempts++;
      const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (p.attempts - 1));
      const why = err instanceof Error ? err.message : String(err);
      const retry = `${Math.round(delay / 1000)} s`;
      // The hub down is waited out; the hub saying no (no such repo, no file to serve) needs the
      // operator, and is only looked at again in case the repo changes.
      p.reason =
        err instanceof HubReadError && err.transient
          ? `memory estimate pending: ${why}; retrying in ${retry} (or give resources.memory_mib)`
          : `cannot be placed: ${why} (checked again in ${retry})`;
      this.#log.warn({ model: record.name, error: why, attempt: p.attempts, retry_in_ms: delay }, "memory estimate failed; will retry");
      this.emit("change", record.name);
      p.timer = setTimeout(() => {
        p.timer = undefined;
        void this.#attempt(p);
      }, delay);
      p.timer.unref();
    }
  }

  async #read(record: ModelRecord, signal: AbortSignal): Promise<ModelEstimate> {
    const commit = await this.hub.resolveCommit(record.repo, record.revision, signal);
    const listing = await this.hub.listFiles(record.repo, commit, signal);
    let files = listing;
    if (record.files.length > 0) {
      const selection = selectFiles(listing, record.files);
      if (selection.unmatched.length > 0) throw new Error(`no file of ${record.repo}@${record.revision} matches ${selection.unmatched.join(", ")}`);
      files = selection.selected;
    } else {
      const pick = defaultFilesFor(record.runtime);
      if (pick) {
        let chosen: Set<string>;
        try {
          chosen = new Set(pick(listing.map((f) => f.path)));
        } catch (err) {
          throw new Error(`'${record.repo}' at revision '${record.revision}' cannot be served without 'files': ${err instanceof Error ? err.message : String(err)}`);
        }
        files = listing.filter((f) => chosen.has(f.path));
      }
    }
    let profile: MemoryProfile = { kind: "files", bytes: files.reduce((sum, f) => sum + f.size, 0) };
    if (record.runtime === "llama_cpp") {
      const headers: GgufHeader[] = [];
      for (const f of files.filter((x) => /\.gguf$/i.test(x.path))) {
        headers.push(await parseGgufHeader(await this.hub.ggufSource(record.repo, commit, f.path, signal), { maxArrayItems: 512 }));
      }
      if (headers.length > 0) profile = ggufMemoryProfile(headers);
    }
    return { commit, files: files.map((f) => ({ path: f.path, size: f.size })), profile };
  }
}
