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

/** Size of a write buffer: one write call carries at most this much (4 MiB measured no faster, +7 MiB RSS). */
const WRITE_BUF = 2 << 20;
/** Write buffers per sink (8 MiB received but not yet on disk, at most): then the network side waits. */
const WRITE_BUFS = 4;

/**
 * The `.incomplete` file of one blob. Every chunk is hashed on arrival (no second read) and copied
 * into one of a few recycled 2 MiB buffers; one write at a time runs on libuv's thread pool, so
 * the kernel's copy into the page cache runs on another core while this thread receives and
 * hashes the next chunks. A write starts as soon as the previous one ends, with whatever has
 * arrived: an idle link leaves nothing unwritten, a slow disk gets full 2 MiB writes.
 *
 * Why these choices (measured on a 2-core box, BENCHMARKS.md "Pull"): a writer thread that hashed
 * and wrote cost a message per batch and a third busy thread on cores already shared with the
 * sender; keeping socket chunks by reference until written made them outlive the young
 * generation, and the garbage collector then took ~0.4 s per GiB, several times the memcpy.
 */
export class BlobSink implements DownloadSink {
  private accepted = 0;
  /** Bytes on disk: the offset of the next write. */
  private onDisk = 0;
  /** Full buffers waiting for the disk, in file order; `current` is being filled. */
  private queue: Array<{ buf: Buffer; len: number }> = [];
  private current: Buffer | undefined;
  private filled = 0;
  private free: Buffer[] = [];
  private allocated = 0;
  private writing = false;
  /** The rest of a chunk waiting for a free buffer: flush() and friends wait for it too. */
  private copying: Promise<void> | undefined;
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
    this.onBytes(chunk.length);
    const wait = this.copyIn(chunk, 0);
    if (!wait) return;
    const copying = wait.finally(() => {
      if (this.copying === copying) this.copying = undefined;
    });
    this.copying = copying;
    return copying;
  }

  private copyIn(chunk: Buffer, from: number): void | Promise<void> {
    let off = from;
    while (off < chunk.length) {
      if (!this.current) {
        const buf = this.free.pop() ?? (this.allocated < WRITE_BUFS ? (this.allocated++, Buffer.allocUnsafeSlow(WRITE_BUF)) : undefined);
        if (!buf) {
          this.pump();
          this.space ??= deferred();
          const rest = off;
          return this.space.promise.then(() => this.copyIn(chunk, rest));
        }
        this.current = buf;
        this.filled = 0;
      }
      const n = chunk.copy(this.current, this.filled, off);
      this.filled += n;
      off += n;
      if (this.filled === this.current.length) {
        this.queue.push({ buf: this.current, len: this.filled });
        this.current = undefined;
      }
    }
    this.pump();
  }

  /** Starts the next write when none is running: the oldest full buffer, else what has arrived. */
  private pump(): void {
    if (this.writing || this.failure) return;
    let next = this.queue.shift();
    if (!next && this.current && this.filled > 0) {
      next = { buf: this.current, len: this.filled };
      this.current = undefined;
    }
    if (!next) {
      for (const w of this.idle.splice(0)) w.resolve();
      return;
    }
    const { buf, len } = next;
    this.writing = true;
    void this.writeAll(buf, len).then(
      () => {
        this.onDisk += len;
        this.writing = false;
        this.free.push(buf);
        if (this.space) {
          const s = this.space;
          this.space = undefined;
          s.resolve();
        }
        this.pump();
      },
      (err: unknown) => {
        this.writing = false;
        this.fail(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  /** One write, continued after short writes (rare on files, but allowed). */
  private async writeAll(buf: Buffer, len: number): Promise<void> {
    let done = 0;
    while (done < len) {
      const { bytesWritten } = await this.fh.write(buf, done, len - done, this.onDisk + done);
      if (bytesWritten <= 0) throw new Error("disk write made no progress");
      done += bytesWritten;
    }
  }

  /** Resolves when every accepted byte is on disk (and the writer is idle). */
  private async whenIdle(): Promise<void> {
    if (this.copying) await this.copying;
    if (this.failure) throw this.failure;
    if (!this.writing && this.queue.length === 0 && !(this.current && this.filled > 0)) return;
    const done = new Promise<void>((resolve, reject) => this.idle.push({ resolve, reject }));
    this.pump();
    return done;
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
    while (this.writing) await new Promise((r) => setImmediate(r));
    await this.fh.close();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.queue = [];
    this.current = undefined;
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
