import { createHash, type Hash } from "node:crypto";
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

/** Bytes buffered while a write is in flight before the network side is asked to wait. */
const HIGH_WATER = 16 << 20;
/** iovecs per writev (IOV_MAX is 1024 on Linux). */
const MAX_IOV = 512;

/**
 * The `.incomplete` file of one blob: every chunk is hashed as it arrives (no second read) and
 * written at its offset. Chunks that arrive while a write is in flight are gathered into the next
 * writev, so disk and network overlap without unbounded buffering (≤ HIGH_WATER in memory).
 */
export class BlobSink implements DownloadSink {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private written = 0;
  private inFlight: Promise<void> | undefined;
  private failure: unknown;
  private accepted = 0;

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
    const fh = await open(path, "a+").then(async (h) => {
      await h.close();
      return open(path, "r+");
    });
    try {
      const sink = new BlobSink(fh, new BlobHasher(kind, size), onBytes);
      const existing = (await fh.stat()).size;
      if (existing > size) await fh.truncate(0);
      else if (existing > 0) {
        const primed = await feed(fh, sink.hasher, existing, signal);
        sink.written = sink.accepted = primed;
        onBytes(primed);
      }
      return sink;
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  get bytes(): number {
    return this.accepted;
  }

  write(chunk: Buffer): void | Promise<void> {
    if (this.failure) throw this.failure;
    if (chunk.length === 0) return;
    this.hasher.update(chunk);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.accepted += chunk.length;
    this.onBytes(chunk.length);
    if (!this.inFlight) this.startWrite();
    else if (this.pendingBytes >= HIGH_WATER) return this.inFlight;
  }

  private startWrite(): void {
    const batch = this.pending.splice(0, MAX_IOV);
    const bytes = batch.reduce((n, b) => n + b.length, 0);
    this.pendingBytes -= bytes;
    const p = this.writeBatch(batch, bytes, this.written);
    this.inFlight = p;
    void p.then(() => {
      if (this.inFlight === p) this.inFlight = undefined;
      if (!this.failure && this.pending.length > 0 && !this.inFlight) this.startWrite();
    });
  }

  /** Never rejects: a failure is kept and thrown from the next write or flush. */
  private async writeBatch(batch: Buffer[], bytes: number, position: number): Promise<void> {
    try {
      let done = 0;
      // writev may write less than asked (rare, but disks fill); finish the batch.
      while (done < bytes) {
        const { bytesWritten } = await this.fh.writev(sliceFrom(batch, done), position + done);
        if (bytesWritten === 0) throw new Error("disk write made no progress");
        done += bytesWritten;
      }
      this.written += bytes;
    } catch (err) {
      this.failure = err;
    }
  }

  async flush(): Promise<void> {
    while (this.inFlight || (this.pending.length > 0 && !this.failure)) {
      if (!this.inFlight) this.startWrite();
      await this.inFlight;
    }
    if (this.failure) throw this.failure;
  }

  async restart(): Promise<void> {
    await this.flush();
    await this.fh.truncate(0);
    this.hasher.reset();
    this.onBytes(-this.accepted);
    this.accepted = this.written = 0;
  }

  /** Flushes; then `bytes` equals the file's length. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.fh.close();
    }
  }

  digest(): string {
    return this.hasher.digest();
  }
}

function sliceFrom(batch: Buffer[], offset: number): Buffer[] {
  if (offset === 0) return batch;
  const out: Buffer[] = [];
  let skip = offset;
  for (const b of batch) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}
