import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import PQueue from "p-queue";
import type { Logger } from "../logger.js";
import { ETAG_RE, HubClient, type TreeFile } from "../hub/hub-client.js";
import { HubDownloader } from "../hub/hub-download.js";
import { EntryNotFoundError, unwrap } from "../hub/hub-errors.js";
import { DEFAULT_RETRY, abortReason, type RetryPolicy } from "../hub/hub-retry.js";
import { ensureFile, incompletePaths, type FetchDeps } from "./blob-fetch.js";
import { NoDefaultFilesError, NoMatchingFilesError, UnsafeInputError } from "./cache-errors.js";
import { isGlob, selectFiles } from "@omnigate/shared/repo-glob";
import { cachedCommit, linkedEtag, listSnapshot, readCachedModel } from "./cache-offline.js";
import { CacheLayout, checkRepo, checkRepoPath, checkRevision } from "./cache-paths.js";
import { removeModel } from "./cache-remove.js";
import { ensureFreeSpace } from "./disk-space.js";
import { HashWorker } from "./download/hash-worker.js";
import { presentBytes } from "./download/incomplete-blob.js";
import { ProgressTracker } from "./progress.js";
import type { CacheModelRef, CachedModel, DefaultFiles, ModelCache, PullOptions } from "./types.js";

export interface HfModelCacheOptions {
  /** The hub cache folder (`HF_HUB_CACHE`). */
  readonly cacheDir: string;
  readonly endpoint: string;
  readonly token?: string;
  /** `HF_HUB_OFFLINE`: never touch the network; serve what is cached. */
  readonly offline: boolean;
  /** Files downloaded at once, across every pull of this cache. */
  readonly concurrency: number;
  /** Connections per file fetched as parallel ranges. */
  readonly connections: number;
  /** Connections at once across every download of this cache. */
  readonly maxConnections: number;
  /** Files at least this big are fetched as parallel ranges. */
  readonly parallelMinBytes: number;
  /** The most one range request asks for. */
  readonly chunkBytes: number;
  readonly timeoutMs: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly lockStaleMs: number;
  /** Bytes kept free on the cache's filesystem. */
  readonly reserveBytes: number;
  readonly logger: Logger;
}

/**
 * How often a parallel download fsyncs its file and records that in its chunk map (for a resume
 * after a power cut). Linux writes dirty pages back once they are 30 s old anyway, so this costs
 * little beyond what any writer pays; more often, the fsync competes with the download for the disk.
 */
const SYNC_EVERY_MS = 30_000;

/**
 * The verified model cache in the huggingface_hub layout. One instance per agent: its p-queue
 * bounds concurrent downloads across all models. Safe to share the folder with other processes
 * (another agent, `pnpm agent pull`, huggingface_hub) thanks to per-blob locks.
 */
export class HfModelCache implements ModelCache {
  readonly layout: CacheLayout;
  readonly hub: HubClient;
  private readonly downloader: HubDownloader;
  private readonly hasher = new HashWorker();
  private readonly queue: PQueue;
  private readonly slots: PQueue;
  private readonly log: Logger;
  private readonly deps: FetchDeps;
  /** Pulls in flight per model, so remove() lets an aborted pull of it wind down before collecting. */
  private readonly active = new Map<string, Set<Promise<unknown>>>();

  constructor(readonly options: HfModelCacheOptions) {
    this.layout = new CacheLayout(options.cacheDir);
    this.log = options.logger.child({ component: "cache" });
    this.hub = new HubClient({
      endpoint: options.endpoint,
      token: options.token,
      timeoutMs: options.timeoutMs,
      retry: { ...DEFAULT_RETRY, ...options.retry },
      logger: options.logger,
    });
    this.downloader = new HubDownloader(this.hub);
    this.queue = new PQueue({ concurrency: options.concurrency });
    this.slots = new PQueue({ concurrency: options.maxConnections });
    const tuning = { connections: options.connections, parallelMinBytes: options.parallelMinBytes, chunkBytes: options.chunkBytes, syncEveryMs: SYNC_EVERY_MS };
    this.deps = {
      layout: this.layout,
      hub: this.hub,
      download: { hub: this.hub, downloader: this.downloader, hasher: this.hasher, slots: this.slots, tuning, log: this.log },
      lockStaleMs: options.lockStaleMs,
      log: this.log,
    };
  }

  /** Ends the download machinery (the connection pool, the hashing thread). In-flight pulls fail. */
  async close(): Promise<void> {
    this.queue.clear();
    this.slots.clear();
    await this.downloader.close();
    await this.hasher.close();
  }

  pull(model: CacheModelRef, options: PullOptions = {}): Promise<CachedModel> {
    return this.track(modelKey(model), this.doPull(model, options));
  }

  /** Every file of a repo revision (to choose a runtime's default files before pulling). */
  async listFiles(repo: string, revision = "main", signal?: AbortSignal): Promise<TreeFile[]> {
    checkRepo(repo);
    checkRevision(revision);
    if (this.options.offline) {
      // What the snapshot holds: a subset of the repo when it was pulled with patterns.
      const cached = await readCachedModel(this.layout, { repo, revision, files: [] }, true);
      return Promise.all(
        cached.files.map(async (path) => {
          const link = this.layout.snapshotFile(repo, cached.commit, path);
          const etag = (await linkedEtag(this.layout, repo, link)) ?? "";
          return { path, size: (await stat(link)).size, etag, lfs: etag.length === 64 };
        }),
      );
    }
    const commit = unwrap(await this.hub.resolveCommit(repo, revision, signal));
    return unwrap(await this.hub.listFiles(repo, commit, signal));
  }

  /** What is cached and valid for a model, without the network; NotCachedError when incomplete. */
  cached(model: CacheModelRef): Promise<CachedModel> {
    return readCachedModel(this.layout, model, this.options.offline);
  }

  /**
   * Call after aborting the model's pull: its own in-flight pull is awaited (so its partial files
   * are unlocked and collected); pulls of other models are not — their locks protect their blobs.
   */
  async remove(model: CacheModelRef, stillWanted: readonly CacheModelRef[]): Promise<void> {
    checkRepo(model.repo);
    const inFlight = [...(this.active.get(modelKey(model)) ?? [])];
    if (inFlight.length > 0) await Promise.allSettled(inFlight);
    await removeModel(this.layout, model, stillWanted, { lockStaleMs: this.options.lockStaleMs, log: this.log });
  }

  private async doPull(model: CacheModelRef, options: PullOptions): Promise<CachedModel> {
    const repo = checkRepo(model.repo);
    const revision = checkRevision(model.revision);
    let patterns = model.files.map((p) => checkRepoPath(p, "file pattern"));
    if (this.options.offline) {
      if (patterns.length === 0 && options.defaultFiles) {
        // Picked among the files present (a corrupt one the pick leaves out does not matter);
        // nothing cached falls through to readCachedModel's own offline error.
        const commit = await cachedCommit(this.layout, repo, revision);
        const present = commit ? await listSnapshot(this.layout.snapshotDir(repo, commit)) : [];
        if (present.length > 0) patterns = this.pickDefault(repo, revision, present, options.defaultFiles);
      }
      const cached = await readCachedModel(this.layout, { repo, revision, files: patterns }, true);
      options.onVerifying?.();
      return cached;
    }
    const outer = options.signal;
    outer?.throwIfAborted();
    this.hasher.warm();
    const commit = unwrap(await this.hub.resolveCommit(repo, revision, outer));
    const listing = unwrap(await this.hub.listFiles(repo, commit, outer));
    if (patterns.length === 0 && options.defaultFiles) {
      patterns = this.pickDefault(repo, revision, listing.map((f) => f.path), options.defaultFiles);
    }
    const files = this.select(repo, revision, commit, listing, patterns);
    await this.writeRef(repo, revision, commit);

    const total = files.reduce((n, f) => n + f.size, 0);
    const tracker = new ProgressTracker(total, options.onProgress);
    await ensureFreeSpace(this.layout.root, await this.bytesToFetch(repo, files), this.options.reserveBytes);
    tracker.markBaseline();

    // One failed file fails the pull: stop its siblings instead of finishing gigabytes in vain.
    const inner = new AbortController();
    const signal = outer ? AbortSignal.any([outer, inner.signal]) : inner.signal;
    // No `signal` option for p-queue: it would reject a running task at once, before the task
    // closed its file and released its lock. Queued tasks see the abort as they start instead.
    const results = await Promise.allSettled(
      files.map((file) =>
        this.queue.add(async () => {
          try {
            signal.throwIfAborted();
            await ensureFile(this.deps, { repo, commit, file, tracker, signal });
          } catch (err) {
            inner.abort(err);
            throw err;
          }
        }),
      ),
    );
    tracker.finish();
    if (outer?.aborted) throw abortReason(outer);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw inner.signal.aborted && inner.signal.reason instanceof Error ? inner.signal.reason : failed.reason;

    options.onVerifying?.();
    // Final gate: what we hand out is exactly what is linked and verified on disk now.
    const ready = await readCachedModel(this.layout, { repo, revision: commit, files: files.map((f) => f.path) }, false);
    this.log.info({ repo, revision, commit, files: ready.files.length, bytes: total }, "model cached");
    return ready;
  }

  /** The runtime's default pick among a repo's files, for a model that names none. */
  private pickDefault(repo: string, revision: string, paths: readonly string[], pick: DefaultFiles): string[] {
    let picked: string[];
    try {
      picked = pick(paths);
    } catch (err) {
      throw new NoDefaultFilesError(repo, revision, err instanceof Error ? err.message : String(err));
    }
    this.log.info({ repo, revision, files: picked, of: paths.length }, "no 'files' given: pulling the runtime's default pick");
    return picked.map((p) => checkRepoPath(p, "default file"));
  }

  /** The listing's files that `patterns` pick, every one checked to be safe to write. */
  private select(repo: string, revision: string, commit: string, listing: TreeFile[], patterns: readonly string[]): TreeFile[] {
    const { selected, unmatched } = selectFiles(listing, patterns);
    if (unmatched.length > 0) {
      const literal = unmatched.find((p) => !isGlob(p));
      if (literal !== undefined && unmatched.length === 1) throw new EntryNotFoundError(repo, revision, literal);
      throw new NoMatchingFilesError(repo, revision, unmatched);
    }
    if (selected.length === 0) throw new NoMatchingFilesError(repo, revision, ["*"]);
    for (const f of selected) {
      checkRepoPath(f.path, `the hub's file list for ${repo} has a file path`);
      if (!ETAG_RE.test(f.etag)) throw new UnsafeInputError(`the hub's file list for ${repo} has an unusable etag for '${f.path}': ${JSON.stringify(f.etag)}`);
      // Builds (and fences) the destination now, so nothing is downloaded for a file we cannot place.
      this.layout.snapshotFile(repo, commit, f.path);
    }
    return selected;
  }

  /** Bytes still to download: sizes of blobs not yet complete, minus resumable partials. */
  private async bytesToFetch(repo: string, files: readonly TreeFile[]): Promise<number> {
    let needed = 0;
    const seen = new Set<string>();
    for (const f of files) {
      if (seen.has(f.etag)) continue;
      seen.add(f.etag);
      const blob = await stat(this.layout.blobPath(repo, f.etag)).catch(() => undefined);
      if (blob?.size === f.size) continue;
      needed += f.size - (await presentBytes(incompletePaths(this.layout, repo, f.etag), f));
    }
    return needed;
  }

  /** `refs/<revision>` = commit, written atomically (before downloading, like huggingface_hub). */
  private async writeRef(repo: string, revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    const ref = this.layout.refPath(repo, revision);
    if ((await readFile(ref, "utf8").catch(() => undefined))?.trim() === commit) return;
    await mkdir(dirname(ref), { recursive: true });
    const tmp = `${ref}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, commit);
    await rename(tmp, ref);
  }

  private track<T>(key: string, p: Promise<T>): Promise<T> {
    const set = this.active.get(key) ?? new Set<Promise<unknown>>();
    this.active.set(key, set);
    set.add(p);
    const done = (): void => {
      set.delete(p);
      if (set.size === 0) this.active.delete(key);
    };
    p.then(done, done);
    return p;
  }
}

/** Identity of a model for the cache: repo, revision and file patterns. */
function modelKey(m: CacheModelRef): string {
  return JSON.stringify([m.repo, m.revision, [...m.files].sort()]);
}
