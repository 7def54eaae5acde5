import { createHash, type Hash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import type { Worker } from "node:worker_threads";
import type { DownloadSink } from "../hub/hub-download.js";
import type { BlobWorkerPool } from "./blob-worker-pool.js";

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

/** Chunks are gathered into batches of this size for the writer thread. */
const BATCH = 1 << 20;
/** Batches in flight at most (8 MiB): then the network side waits for the writer. */
const MAX_BATCHES = 8;
/** A batch still not full after this long is written anyway. */
const SEND_AFTER_MS = 100;

type Reply =
  | { op: "opened"; bytes: number }
  | { op: "flushed"; bytes: number }
  | { op: "ack"; buf: ArrayBuffer }
  | { op: "restarted" }
  | { op: "closed" }
  | { op: "finished"; bytes: number; digest: string }
  | { op: "error"; message: string; code?: string };

/**
 * The `.incomplete` file of one blob, written by a writer thread (blob-worker-pool.ts) that hashes
 * every chunk as it arrives (no second read) and writes it at its offset. The main thread only
 * receives and hands chunks over (transferred when they own their memory), so network and
 * sha256 + disk overlap, with at most MAX_BATCHES × BATCH bytes in between.
 */
export class BlobSink implements DownloadSink {
  private accepted = 0;
  /** Batch buffers: `free` ones here, the others in the writer thread; `current` is being filled. */
  private free: ArrayBuffer[] = [];
  private allocated = 0;
  private current: Uint8Array | undefined;
  private filled = 0;
  private sendTimer: NodeJS.Timeout | undefined;
  private failure: Error | undefined;
  private readonly waiting: Array<{ op: Reply["op"]; resolve: (r: Reply) => void; reject: (e: Error) => void }> = [];
  private drained: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private drainedPromise: Promise<void> | undefined;
  private released = false;

  private constructor(
    private readonly pool: BlobWorkerPool,
    private readonly worker: Worker,
    private readonly onBytes: (delta: number) => void,
  ) {
    worker.on("message", (r: Reply) => this.onReply(r));
    worker.on("error", (err) => this.fail(err));
    worker.on("exit", () => this.fail(new Error("the download writer thread exited")));
  }

  /**
   * Opens (or creates) the file and resumes it: the bytes already there are hashed once (in the
   * writer thread) so the running hash covers the whole file. A file longer than `size` cannot be
   * a prefix: started over.
   */
  static async open(
    pool: BlobWorkerPool,
    path: string,
    kind: HashKind,
    size: number,
    onBytes: (delta: number) => void,
    signal?: AbortSignal,
  ): Promise<BlobSink> {
    const sink = new BlobSink(pool, pool.acquire(), onBytes);
    const onAbort = (): void => sink.fail(abortError(signal!));
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      signal?.throwIfAborted();
      const opened = await sink.request({ op: "open", path, kind, size }, "opened");
      sink.accepted = opened.bytes;
      onBytes(opened.bytes);
      return sink;
    } catch (err) {
      // Priming a large partial file may still be running in the thread: end it, not reuse it.
      sink.release(true);
      throw err;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  get bytes(): number {
    return this.accepted;
  }

  write(chunk: Buffer): void | Promise<void> {
    if (this.failure) throw this.failure;
    if (chunk.length === 0) return;
    this.accepted += chunk.length;
    this.onBytes(chunk.length);
    return this.copyIn(chunk);
  }

  /**
   * One memcpy into a recycled batch: cheaper than letting every socket chunk become garbage in
   * two isolates (peak RSS is a goal), and each message carries 1 MiB, not 64 KiB.
   */
  private copyIn(chunk: Buffer): void | Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      if (!this.current) {
        const buf = this.free.pop() ?? (this.allocated < MAX_BATCHES ? (this.allocated++, new ArrayBuffer(BATCH)) : undefined);
        if (!buf) {
          const rest = chunk.subarray(off);
          return this.waitForBatch().then(() => this.copyIn(rest));
        }
        this.current = new Uint8Array(buf);
        this.filled = 0;
        // A slow or stalled link must not leave received bytes in memory: a batch that does not
        // fill within SEND_AFTER_MS goes out partial (what a killed process loses stays small).
        this.sendTimer = setTimeout(() => this.send(), SEND_AFTER_MS);
        this.sendTimer.unref();
      }
      const take = Math.min(chunk.length - off, BATCH - this.filled);
      this.current.set(chunk.subarray(off, off + take), this.filled);
      this.filled += take;
      off += take;
      if (this.filled === BATCH) this.send();
    }
    // Every batch is with the writer: the network side waits until one comes back.
    if (!this.current && this.free.length === 0 && this.allocated >= MAX_BATCHES) return this.waitForBatch();
  }

  /** Hands the batch being filled to the writer thread. */
  private send(): void {
    clearTimeout(this.sendTimer);
    this.sendTimer = undefined;
    if (!this.current || this.filled === 0 || this.released) return;
    const buf = this.current.buffer as ArrayBuffer;
    this.worker.postMessage({ op: "data", buf, len: this.filled }, [buf]);
    this.current = undefined;
    this.filled = 0;
  }

  private waitForBatch(): Promise<void> {
    this.drainedPromise ??= new Promise<void>((resolve, reject) => (this.drained = { resolve, reject }));
    return this.drainedPromise;
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    this.send();
    await this.request({ op: "flush" }, "flushed");
  }

  async restart(): Promise<void> {
    await this.flush();
    await this.request({ op: "restart" }, "restarted");
    this.onBytes(-this.accepted);
    this.accepted = 0;
  }

  /** Everything written; the digest of the whole file and its length. The sink stays open. */
  async finish(): Promise<{ bytes: number; digest: string }> {
    if (this.failure) throw this.failure;
    this.send();
    const r = await this.request({ op: "finish" }, "finished");
    return { bytes: r.bytes, digest: r.digest };
  }

  /** Closes the file and returns the thread to the pool; safe to call twice and after a failure. */
  async close(): Promise<void> {
    if (this.released) return;
    if (this.failure) return this.release(true);
    this.send(); // bytes received before an abort are kept: the next pull resumes after them
    try {
      await this.request({ op: "close" }, "closed");
      this.release(false);
    } catch {
      this.release(true);
    }
  }

  private request<O extends Reply["op"]>(msg: Record<string, unknown>, op: O): Promise<Extract<Reply, { op: O }>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ op, resolve: resolve as (r: Reply) => void, reject });
      this.worker.postMessage(msg);
    });
  }

  private onReply(r: Reply): void {
    if (r.op === "ack") {
      this.free.push(r.buf);
      if (this.drained) {
        const d = this.drained;
        this.drained = this.drainedPromise = undefined;
        d.resolve();
      }
      return;
    }
    if (r.op === "error") {
      const err = Object.assign(new Error(r.message), { code: r.code });
      return this.fail(err);
    }
    const next = this.waiting.shift();
    if (next && next.op === r.op) next.resolve(r);
    else this.fail(new Error(`download writer thread answered ${r.op}, expected ${next?.op ?? "nothing"}`));
  }

  private fail(err: Error): void {
    if (this.released || this.failure) return;
    this.failure = err;
    for (const w of this.waiting.splice(0)) w.reject(err);
    this.drained?.reject(err);
    this.drained = this.drainedPromise = undefined;
  }

  private release(broken: boolean): void {
    if (this.released) return;
    clearTimeout(this.sendTimer);
    this.fail(new Error("the download sink is closed"));
    this.released = true;
    this.pool.release(this.worker, broken);
  }
}

function abortError(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  return Object.assign(new Error("the operation was aborted"), { name: "AbortError" });
}
