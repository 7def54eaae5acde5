import { EventEmitter } from "node:events";
import { defaultFilesFor } from "@omnigate/shared/default-files";
import { parseGgufHeader, type GgufHeader } from "@omnigate/shared/gguf";
import { ggufMemoryProfile, type MemoryProfile } from "@omnigate/shared/memory-estimate";
import type { ModelRecord } from "@omnigate/shared/models";
import { selectFiles } from "@omnigate/shared/repo-glob";
import type { Logger } from "../logger.js";
import { ModelEstimate } from "../store/placement-store.js";
import type { SharedState } from "../store/shared-state.js";
import { NotLeaderError } from "../store/store-contract.js";
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
 * (the files the runtime will load, their GGUF headers over `Range`), then stored and shared. The
 * leader reads them (one hub read per model in the cluster); every gateway gets them through the
 * shared state. A hub that cannot be reached leaves the model pending, retried with backoff, the
 * reason shown to operators.
 */
export class ModelEstimator extends EventEmitter<ModelEstimatorEvents> {
  readonly #estimates = new Map<string, ModelEstimate>();
  readonly #pending = new Map<string, Pending>();
  readonly #log: Logger;
  #closed = false;

  constructor(
    private readonly hub: HubReader,
    private readonly state: SharedState,
    logger: Logger,
  ) {
    super();
    this.#log = logger.child({ component: "estimate" });
    state.bind("estimates", {
      schema: ModelEstimate,
      apply: (model, estimate) => {
        if (estimate) this.#estimates.set(model, estimate);
        else if (!this.#estimates.delete(model)) return;
        // An estimate that arrived from the leader ends this gateway's own attempt, if it had one.
        if (estimate) this.#stop(model);
        this.emit("change", model);
      },
    });
  }

  get(model: string): ModelEstimate | undefined {
    return this.#estimates.get(model);
  }

  /** Why the model has no estimate yet; undefined once it has one (or was never asked for). */
  pendingReason(model: string): string | undefined {
    return this.#pending.get(model)?.reason;
  }

  /** On the leader: starts estimating a model that has no estimate (registration, a restart or a new leader before it finished). */
  ensure(record: ModelRecord): void {
    if (this.#closed || !this.state.bus.isLeader || this.#estimates.has(record.name) || this.#pending.has(record.name)) return;
    const p: Pending = { record, reason: "memory estimate pending: reading the model's files from the hub", attempts: 0, timer: undefined, abort: new AbortController() };
    this.#pending.set(record.name, p);
    void this.#attempt(p);
  }

  /** The model was deleted: stop, and (the leader) forget its estimate. */
  forget(model: string): void {
    this.#stop(model);
    if (!this.#estimates.has(model) || !this.state.bus.isLeader) return;
    this.state.write([{ op: "delete", table: "estimates", key: model }], { leader: true }).catch((err: unknown) => {
      this.#log.debug({ err, model }, "a deleted model's estimate was not deleted; the next leader's reload keeps it harmlessly");
    });
  }

  #stop(model: string): void {
    const p = this.#pending.get(model);
    if (!p) return;
    p.abort.abort();
    if (p.timer) clearTimeout(p.timer);
    this.#pending.delete(model);
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
      // Shared with every gateway; the write applies it here too (and ends the pending attempt).
      await this.state.write([{ op: "put", table: "estimates", key: record.name, doc: estimate }], { leader: true });
      this.#pending.delete(record.name);
      this.#log.info({ model: record.name, commit: estimate.commit, files: estimate.files.map((f) => f.path), profile: estimate.profile.kind }, "memory estimate read");
    } catch (err) {
      if (this.#pending.get(record.name) !== p || p.abort.signal.aborted) return;
      // No longer the leader: the new one reads it.
      if (err instanceof NotLeaderError) return this.#stop(record.name);
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
