import { write } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import type { DownloadSink } from "../../hub/hub-download.js";
import { HubBadResponseError } from "../../hub/hub-errors.js";

/** Recycled write buffers of one download, shared by its lanes (each holds at most a few at once). */
export class BufferPool {
  private readonly idle: Buffer[] = [];

  constructor(readonly bufferBytes: number) {}

  take(): Buffer {
    return this.idle.pop() ?? Buffer.allocUnsafeSlow(this.bufferBytes);
  }

  give(buf: Buffer): void {
    this.idle.push(buf);
  }
}

export interface RangeWriterHooks {
  /** Bytes accepted (progress). */
  onBytes(delta: number): void;
  /** `[offset, offset + length)` is on disk now. */
  onWritten(offset: number, length: number): void;
  /** A single stream only: the server sends the file from its first byte again; so must the file (and its progress). */
  onRestart?(): Promise<void>;
}

/**
 * Where one lane's bytes go: `[start, end)` of the `.incomplete` file. Each chunk is copied into one
 * of a few recycled buffers; one positioned write at a time runs on libuv's thread pool, so the
 * kernel's copy into the page cache runs on another core while this thread receives. A write starts
 * as soon as the previous one ends, with whatever has arrived: an idle link leaves nothing unwritten.
 *
 * Why copies (measured, BENCHMARKS.md "Pull"): keeping socket chunks by reference until written made
 * them outlive V8's young generation, and the garbage collector then cost more than the memcpy.
 */
export class RangeWriter implements DownloadSink {
  /** Accepted bytes end here: the offset the next request resumes from. */
  private pos: number;
  /** The offset of the next write. */
  private onDisk: number;
  /** Full buffers waiting for the disk, in file order; `current` is being filled. */
  private queue: Array<{ buf: Buffer; len: number }> = [];
  private current: Buffer | undefined;
  private filled = 0;
  private readonly own: Buffer[] = [];
  private free: Buffer[] = [];
  private writing = false;
  /** The rest of a chunk waiting for a free buffer: flush() waits for it too. */
  private copying: Promise<void> | undefined;
  private failure: Error | undefined;
  private space: Deferred | undefined;
  private idle: Deferred[] = [];
  private closed = false;

  constructor(
    private readonly fh: FileHandle,
    private start: number,
    readonly end: number,
    private readonly pool: BufferPool,
    private readonly maxBuffers: number,
    private readonly hooks: RangeWriterHooks,
  ) {
    this.pos = this.onDisk = start;
  }

  get bytes(): number {
    return this.pos;
  }

  write(chunk: Buffer): void | Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error("the download writer is closed");
    if (chunk.length === 0) return;
    let data = chunk;
    if (this.pos + data.length > this.end) {
      // Never past the range: the bytes after it belong to another lane's chunk.
      const room = this.end - this.pos;
      if (room <= 0) throw new HubBadResponseError(`the server sent more than the ${this.end - this.start} bytes asked for at offset ${this.start}`);
      data = chunk.subarray(0, room);
    }
    this.pos += data.length;
    this.hooks.onBytes(data.length);
    const wait = this.copyIn(data, 0);
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
        const buf = this.free.pop() ?? (this.own.length < this.maxBuffers ? this.lease() : undefined);
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

  private lease(): Buffer {
    const buf = this.pool.take();
    this.own.push(buf);
    return buf;
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
    const at = this.onDisk;
    this.writing = true;
    void this.writeAll(buf, len, at).then(
      () => {
        this.onDisk = at + len;
        this.writing = false;
        this.free.push(buf);
        this.hooks.onWritten(at, len);
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

  /**
   * One positioned write, continued after short writes (rare on files, but allowed). The callback
   * API on the handle's descriptor: FileHandle.write() measured 3-10 times the main-thread cost per
   * call (a promise request object each time), on the thread that receives.
   */
  private async writeAll(buf: Buffer, len: number, at: number): Promise<void> {
    let done = 0;
    while (done < len) {
      const bytesWritten = await new Promise<number>((resolve, reject) =>
        write(this.fh.fd, buf, done, len - done, at + done, (err, n) => (err ? reject(err) : resolve(n))),
      );
      if (bytesWritten <= 0) throw new Error("disk write made no progress");
      done += bytesWritten;
    }
  }

  /** Resolves when every accepted byte is on disk (and the writer is idle). */
  async flush(): Promise<void> {
    if (this.copying) await this.copying;
    if (this.failure) throw this.failure;
    if (!this.writing && this.queue.length === 0 && !(this.current && this.filled > 0)) return;
    const done = new Promise<void>((resolve, reject) => this.idle.push({ promise: Promise.resolve(), resolve, reject }));
    this.pump();
    return done;
  }

  async restart(): Promise<void> {
    if (!this.hooks.onRestart) throw new HubBadResponseError("the server answered a range request with the whole file");
    await this.flush();
    await this.hooks.onRestart();
    this.start = this.pos = this.onDisk = 0;
  }

  /**
   * Writes what was accepted (the next attempt resumes after it), then hands the buffers back.
   * Safe to call twice and after a failure; a write still running is waited for.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush().catch(() => {});
    while (this.writing) await new Promise((r) => setImmediate(r));
    for (const buf of this.own) this.pool.give(buf);
    this.own.length = 0;
    this.free = [];
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

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  // A waiter that never comes (the caller gave up) must not turn a failure into an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}
