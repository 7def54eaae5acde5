import type PQueue from "p-queue";
import type { Logger } from "../../logger.js";
import type { HubClient, TreeFile } from "../../hub/hub-client.js";
import type { DownloadSink, HubDownloader } from "../../hub/hub-download.js";
import { HubBadResponseError, RangeNotHonouredError, RemoteFileChangedError, SignedUrlRefusedError, unwrap, type HubResult } from "../../hub/hub-errors.js";
import { abortReason } from "../../hub/hub-retry.js";
import { hashKindOf } from "./blob-hash.js";
import { ChunkQueue } from "./chunk-queue.js";
import type { HashJob, HashWorker } from "./hash-worker.js";
import { IncompleteBlob, type IncompletePaths } from "./incomplete-blob.js";
import type { ByteRange } from "./range-set.js";
import { BufferPool } from "./range-writer.js";

/** How files are fetched (the cache's env: OMNIGATE_DOWNLOAD_*). */
export interface DownloadTuning {
  /** Connections per file. */
  readonly connections: number;
  /** Files at least this big are fetched as parallel ranges; smaller ones as one stream. */
  readonly parallelMinBytes: number;
  /** The most one range request asks for; a killed download loses at most this per connection. */
  readonly chunkBytes: number;
  /** How often a parallel download fsyncs and records what survives a power cut. */
  readonly syncEveryMs: number;
}

export interface BlobDownloadDeps {
  readonly hub: HubClient;
  readonly downloader: HubDownloader;
  readonly hasher: HashWorker;
  /** One slot per connection, shared by every download of the cache. */
  readonly slots: PQueue;
  readonly tuning: DownloadTuning;
  readonly log: Logger;
}

export interface BlobDownload {
  readonly repo: string;
  readonly commit: string;
  readonly file: TreeFile;
  readonly paths: IncompletePaths;
  /** Where HEAD /resolve said the bytes are. */
  readonly url: string;
  /** Bytes arrived (progress). */
  readonly onBytes: (delta: number) => void;
  /** The bytes present were reset to this (a resume found them, or the file starts over). */
  readonly onReset: (bytes: number) => void;
  readonly signal: AbortSignal;
}

/**
 * Write buffers: one positioned write carries at most WRITE_BUF, and a lane (or the one stream)
 * holds at most WRITE_BUFS of them, received but not yet on disk, before its socket waits. Small
 * buffers written as soon as the previous write ends measured cheapest: the kernel copies into the
 * page cache from memory still in the CPU's cache (8 lanes x 2 x 1 MiB buffers cost 1.3-1.8 sys
 * CPU-s/GiB against 0.8-1.1 for 256 KiB, and writing only full buffers 1.9-2.2).
 */
const WRITE_BUF = 256 << 10;
const WRITE_BUFS = 4;
/** Restarts of one download because the server's copy changed, before giving up. */
const MAX_RESTARTS = 3;

/**
 * Brings a blob's `.incomplete` file to every byte and returns the sha256 (or git sha1) of the
 * whole file, computed by the hashing thread as the gap-free prefix grows. Big files are fetched
 * as ranges over several connections; a server that ignores ranges falls back to one stream; a
 * signed URL that expires is asked again from the hub; a file whose ETag changes starts over.
 */
export async function fetchBlob(deps: BlobDownloadDeps, job: BlobDownload): Promise<{ bytes: number; digest: string }> {
  const { file } = job;
  const { log } = deps;
  const blob = await IncompleteBlob.open(job.paths, { size: file.size, etag: file.etag }, log);
  let hash: HashJob | undefined;
  const rehash = (): void => {
    hash?.cancel();
    hash = deps.hasher.start(job.paths.file, hashKindOf(file.etag), file.size);
    hash.advance(blob.prefix);
  };
  blob.onPrefix = (to) => hash?.advance(to);
  const url = new DownloadUrl(job.url, log, () => resolveLocation(deps.hub, job.repo, job.commit, file, job.signal));
  try {
    job.onReset(blob.bytes);
    if (blob.bytes > 0) log.info({ repo: job.repo, path: file.path, have: blob.bytes, of: file.size }, "resuming download");
    let sequential = false;
    for (let restarts = 0; ; ) {
      rehash();
      try {
        const parallel = !sequential && (blob.mapped || (deps.tuning.connections > 1 && file.size >= deps.tuning.parallelMinBytes));
        if (parallel) await fetchRanges(deps, job, blob, url);
        else {
          await fetchStream(deps, job, blob, url, async () => {
            await blob.restart();
            job.onReset(0);
            rehash();
          });
        }
        const result = await hash!.result();
        await blob.completed();
        return result;
      } catch (err) {
        if (job.signal.aborted) throw abortReason(job.signal);
        if (err instanceof RemoteFileChangedError && restarts < MAX_RESTARTS) {
          restarts++;
          log.warn({ repo: job.repo, path: file.path, error: err.message }, "the file changed on the server, downloading it from the start");
          await blob.restart();
          job.onReset(0);
          continue;
        }
        if (err instanceof RangeNotHonouredError && !sequential) {
          sequential = true;
          log.info({ repo: job.repo, path: file.path, resumeAt: blob.prefix }, "the server ignores Range: one stream from here");
          await blob.toSequential();
          job.onReset(blob.bytes);
          continue;
        }
        throw err;
      }
    }
  } finally {
    hash?.cancel();
    await blob.close();
  }
}

/**
 * Parallel ranges: lanes take the lowest missing range each, one connection slot per request.
 * The first request goes alone: its answer says whether the server honours ranges at all (else
 * seven more connections would each start the whole file) and which ETag the bytes carry.
 */
async function fetchRanges(deps: BlobDownloadDeps, job: BlobDownload, blob: IncompleteBlob, url: DownloadUrl): Promise<void> {
  const { tuning } = deps;
  await blob.useMap(tuning.syncEveryMs);
  const queue = new ChunkQueue(blob.missing(), tuning.chunkBytes);
  const pool = new BufferPool(WRITE_BUF);
  const stop = new AbortController();
  const signal = AbortSignal.any([job.signal, stop.signal]);
  let answered!: () => void;
  const firstAnswer = new Promise<void>((resolve) => (answered = resolve));

  const lane = async (): Promise<void> => {
    try {
      for (;;) {
        const more = await deps.slots.add(async () => {
          signal.throwIfAborted();
          const range = queue.next();
          if (!range) return false;
          await fetchRange(deps, job, blob, url, range, pool, signal, answered);
          return true;
        });
        if (!more) return;
      }
    } catch (err) {
      // One lane failing for good stops the others: their bytes so far stay on disk and in the map.
      stop.abort(err);
      throw err;
    }
  };
  const first = lane();
  await Promise.race([firstAnswer, first.catch(() => {})]);
  const others = signal.aborted ? [] : Array.from({ length: Math.min(tuning.connections - 1, queue.pending) }, lane);
  // Every lane winds down (its bytes written, its range recorded) before the failure is told.
  await Promise.allSettled([first, ...others]);
  if (job.signal.aborted) throw abortReason(job.signal);
  if (stop.signal.aborted) throw abortReason(stop.signal);
}

async function fetchRange(
  deps: BlobDownloadDeps,
  job: BlobDownload,
  blob: IncompleteBlob,
  url: DownloadUrl,
  [start, end]: ByteRange,
  pool: BufferPool,
  signal: AbortSignal,
  onAnswer: () => void,
): Promise<void> {
  const { file } = job;
  const writer = blob.writer(start, end, pool, WRITE_BUFS, { onBytes: job.onBytes });
  try {
    await withFreshUrl(url, writer, (href) =>
      deps.downloader.download({ url: href, size: file.size, repo: job.repo, revision: job.commit, path: file.path, sink: writer, end, version: blob.version, onAnswer, signal }),
    );
  } finally {
    await writer.close();
    // Not awaited: the lane takes its next range while the map is written (one write at a time,
    // the last one awaited when the file closes).
    void blob.checkpoint().catch((err: unknown) => deps.log.warn({ path: file.path, error: String(err) }, "could not record the downloaded chunks"));
  }
}

/** One stream from the end of the prefix (small files, and servers that ignore Range). */
async function fetchStream(deps: BlobDownloadDeps, job: BlobDownload, blob: IncompleteBlob, url: DownloadUrl, onRestart: () => Promise<void>): Promise<void> {
  const { file } = job;
  const writer = blob.writer(blob.prefix, file.size, new BufferPool(WRITE_BUF), WRITE_BUFS, { onBytes: job.onBytes, onRestart });
  try {
    await deps.slots.add(() =>
      withFreshUrl(url, writer, (href) =>
        deps.downloader.download({ url: href, size: file.size, repo: job.repo, revision: job.commit, path: file.path, sink: writer, version: blob.version, signal: job.signal }),
      ),
    );
  } finally {
    await writer.close();
  }
}

/**
 * Runs a download, asking the hub for a fresh URL when the CDN refuses a signed one. Refused again
 * with no byte moved in between, the URL is not what is wrong: that fails.
 */
async function withFreshUrl(url: DownloadUrl, sink: DownloadSink, run: (href: string) => Promise<HubResult<void>>): Promise<void> {
  let refusedAt: number | undefined;
  for (;;) {
    const { href, generation } = url.current();
    const result = await run(href);
    if (result.ok) return;
    const err = result.error;
    if (!(err instanceof SignedUrlRefusedError)) throw err;
    if (refusedAt === sink.bytes) throw new SignedUrlRefusedError(err.path, err.status ?? 403, new URL(href).origin, true);
    refusedAt = sink.bytes;
    await url.refresh(generation);
  }
}

/** The download URL all lanes share; one refresh at a time, however many lanes saw it expire. */
class DownloadUrl {
  private generation = 0;
  private refreshing: Promise<void> | undefined;

  constructor(
    private href: string,
    private readonly log: Logger,
    private readonly resolve: () => Promise<string>,
  ) {}

  current(): { href: string; generation: number } {
    return { href: this.href, generation: this.generation };
  }

  /** A fresh URL from the hub, unless another lane already got one since `seen`. */
  async refresh(seen: number): Promise<void> {
    if (seen !== this.generation) return;
    this.refreshing ??= (async () => {
      this.log.info({ origin: new URL(this.href).origin }, "download URL refused (expired): asking the hub for a fresh one");
      try {
        this.href = await this.resolve();
        this.generation++;
      } finally {
        this.refreshing = undefined;
      }
    })();
    await this.refreshing;
  }
}

/** HEAD /resolve for a file of the listing: where its bytes are now; the metadata must agree. */
export async function resolveLocation(hub: HubClient, repo: string, commit: string, file: TreeFile, signal?: AbortSignal): Promise<string> {
  const meta = unwrap(await hub.headFile(repo, commit, file.path, signal));
  if (meta.etag !== file.etag || meta.size !== file.size) {
    throw new HubBadResponseError(
      `the hub's metadata for '${file.path}' (etag ${meta.etag}, ${meta.size} bytes) disagrees with its file list (etag ${file.etag}, ${file.size} bytes)`,
    );
  }
  return meta.location;
}
