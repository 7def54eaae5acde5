import { createHash, type Hash } from "node:crypto";
import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import type { DownloadSink } from "../hub/hub-download.js";

/** LFS etags are sha256 of the content; other files' etags are git blob sha1s. */
export type HashKind = "sha256" | "git-sha1";

export function hashKindOf(etag: string): HashKind {
  return etag.length === 64 ? "sha256" : "git-sha1";
}

/** The hash an etag is, over content of a known size (git's blob header needs the size up front). */
export class BlobHasher {
  private hash!: Hash;
  constructor(
    readonly kind: HashKind,
    private readonly size: number,
  ) {
    this.reset();
  }
  reset(): void {
    this.hash = createHash(this.kind === "sha256" ? "sha256" : "sha1");
    if (this.kind === "git-sha1") this.hash.update(`blob ${this.size}\0`);
  }
  update(chunk: Buffer): void {
    this.hash.update(chunk);
  }
  digest(): string {
    return this.hash.digest("hex");
  }
}

/** Hashes a whole file (verify, and blobs not yet stamped); one sequential read. */
export async function hashFile(path: string, kind: HashKind, size: number, signal?: AbortSignal): Promise<string> {
  const hasher = new BlobHasher(kind, size);
  const fh = await open(path, "r");
  try {
    await feed(fh, hasher, Number.MAX_SAFE_INTEGER, signal);
  } finally {
    await fh.close();
  }
  return hasher.digest();
}

const READ_CHUNK = 4 << 20;

async function feed(fh: FileHandle, hasher: BlobHasher, limit: number, signal?: AbortSignal): Promise<number> {
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  let pos = 0;
  while (pos < limit) {
    signal?.throwIfAborted();
    const { bytesRead } = await fh.read(buf, 0, Math.min(READ_CHUNK, limit - pos), pos);
    if (bytesRead === 0) break;
    hasher.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return pos;
}

/** Bytes received but not yet on disk, at most: then the network side waits for the disk. */
const MAX_IN_FLIGHT = 16 << 20;
/** One writev carries at most this much (a quarter of the window, so receiving overlaps writing)… */
const WRITE_MAX = 4 << 20;
/** …and at most this many buffers (Linux IOV_MAX is 1024). */
const MAX_IOV = 1024;

/**
 * The `.incomplete` file of one blob. Every chunk is hashed on arrival (no second read) and queued
 * as is (no copy); queued chunks go to disk in one `writev` at a time on libuv's thread pool, so
 * the kernel's copy into the page cache runs on another core while this thread receives and
 * hashes the next chunks. At most MAX_IN_FLIGHT bytes wait for the disk (a pull never buffers a
 * file), and an idle link leaves nothing unwritten: a write starts as soon as the last one ends.
 *
 * Measured on a 2-core box (BENCHMARKS.md, "Pull"): a writer thread that hashed and wrote 1 MiB
 * batches cost a memcpy, a message per batch and a third busy thread on cores already shared with
 * the sender, and pulled at ~0.5× the speed of this design.
 *
 * Chunks are kept by reference until written: callers hand over buffers they will not reuse
 * (node:http body chunks are fresh allocations).
 */
export class BlobSink implements DownloadSink {
  private accepted = 0;
  /** Bytes on disk: the offset of the next write. */
  private onDisk = 0;
  private queue: Buffer[] = [];
  private queued = 0;
  private writing = 0;
  private failure: Error | undefined;
  private space: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } | undefined;
  private idle: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    private readonly hasher: BlobHasher,
    private readonly onBytes: (delta: number) => void,
  ) {}

  /**
   * Opens (or creates) the file and resumes it: the bytes already there are hashed once so the
   * running hash covers the whole file. A file longer than `size` cannot be a prefix: started over.
   */
  static async open(path: string, kind: HashKind, size: number, onBytes: (delta: number) => void, signal?: AbortSignal): Promise<BlobSink> {
    signal?.throwIfAborted();
    const fh = await open(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      const hasher = new BlobHasher(kind, size);
      let existing = (await fh.stat()).size;
      if (existing > size) {
        await fh.truncate(0);
        existing = 0;
      }
      const sink = new BlobSink(fh, hasher, onBytes);
      const primed = await feed(fh, hasher, existing, signal);
      sink.accepted = sink.onDisk = primed;
      onBytes(primed);
      return sink;
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
  }

  get bytes(): number {
    return this.accepted;
  }

  write(chunk: Buffer): void | Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error("the download sink is closed");
    if (chunk.length === 0) return;
    this.hasher.update(chunk);
    this.accepted += chunk.length;
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.onBytes(chunk.length);
    this.pump();
    if (this.queued + this.writing < MAX_IN_FLIGHT) return;
    this.space ??= deferred();
    return this.space.promise;
  }

  /** Starts the next write when none is running: what is queued, up to WRITE_MAX bytes, in one call. */
  private pump(): void {
    if (this.writing > 0 || this.failure) return;
    if (this.queue.length === 0) {
      for (const w of this.idle.splice(0)) w.resolve();
      return;
    }
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && n < MAX_IOV && bytes < WRITE_MAX) bytes += this.queue[n++]!.length;
    const batch = this.queue.splice(0, n);
    this.queued -= bytes;
    this.writing = bytes;
    void this.writeAll(batch, bytes).then(
      () => {
        this.onDisk += bytes;
        this.writing = 0;
        this.pump();
        if (this.space && this.queued + this.writing < MAX_IN_FLIGHT) {
          const s = this.space;
          this.space = undefined;
          s.resolve();
        }
      },
      (err: unknown) => {
        this.writing = 0;
        this.fail(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  /** One writev, continued after short writes (rare on files, but allowed). */
  private async writeAll(batch: Buffer[], bytes: number): Promise<void> {
    let done = 0;
    let bufs = batch;
    while (done < bytes) {
      const { bytesWritten } = await this.fh.writev(bufs, this.onDisk + done);
      if (bytesWritten <= 0) throw new Error("disk write made no progress");
      done += bytesWritten;
      if (done < bytes) bufs = dropPrefix(bufs, bytesWritten);
    }
  }

  /** Resolves when every accepted byte is on disk (and the writer is idle). */
  private whenIdle(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.writing === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.idle.push({ resolve, reject }));
  }

  async flush(): Promise<void> {
    await this.whenIdle();
  }

  async restart(): Promise<void> {
    await this.whenIdle();
    await this.fh.truncate(0);
    this.onBytes(-this.accepted);
    this.accepted = this.onDisk = 0;
    this.hasher.reset();
  }

  /** Everything written; the digest of the whole file and its length. The sink stays open. */
  async finish(): Promise<{ bytes: number; digest: string }> {
    await this.whenIdle();
    return { bytes: this.onDisk, digest: this.hasher.digest() };
  }

  /**
   * Closes the file; safe to call twice and after a failure. Bytes received before an abort are
   * written first: the next pull resumes after them. A write still running is waited for, so the
   * descriptor is never closed under it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.whenIdle().catch(() => {});
    while (this.writing > 0) await new Promise((r) => setImmediate(r));
    await this.fh.close();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.queue = [];
    this.queued = 0;
    this.space?.reject(err);
    this.space = undefined;
    for (const w of this.idle.splice(0)) w.reject(err);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  // A waiter that never comes (the caller gave up) must not turn a failure into an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** The buffers after the first `n` bytes of `bufs`. */
function dropPrefix(bufs: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (n >= bufs[i]!.length) n -= bufs[i++]!.length;
  return [bufs[i]!.subarray(n), ...bufs.slice(i + 1)];
}
