import { Worker } from "node:worker_threads";

/**
 * The writer thread of a download: hashes each chunk and writes it at its offset, off the main
 * thread, so receiving (main) and sha256 + disk writes (here) run on two cores. Data arrives in
 * a fixed set of batch buffers that travel back and forth (transferred, never garbage).
 *
 * Plain JavaScript evaluated as the worker's script: a separate module file would not exist when
 * vitest runs the TypeScript sources, and this code is small. Protocol (replies come in order):
 *   open {path, kind, size}  → opened {bytes}    resume: hashes what the file already holds
 *   data {buf, len}          → ack {buf}         the buffer goes back for reuse
 *   flush                    → flushed {bytes}
 *   restart                  → restarted          truncate to 0, fresh hash
 *   finish                   → finished {bytes, digest}
 *   close                    → closed
 * A failing operation answers error {message, code} and ignores data until the next open.
 */
export const BLOB_WORKER_SOURCE = String.raw`
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const fs = require("node:fs");
let fd = -1, hash = null, pos = 0, failed = false, kind = "sha256", size = 0;
function fresh() {
  hash = createHash(kind === "sha256" ? "sha256" : "sha1");
  if (kind === "git-sha1") hash.update("blob " + size + "\0");
}
parentPort.on("message", (m) => {
  try {
    if (m.op === "open") {
      failed = false; kind = m.kind; size = m.size;
      fd = fs.openSync(m.path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
      let existing = fs.fstatSync(fd).size;
      if (existing > size) { fs.ftruncateSync(fd, 0); existing = 0; }
      fresh();
      const buf = Buffer.allocUnsafe(4 << 20);
      pos = 0;
      while (pos < existing) {
        const n = fs.readSync(fd, buf, 0, Math.min(buf.length, existing - pos), pos);
        if (n === 0) break;
        hash.update(buf.subarray(0, n));
        pos += n;
      }
      parentPort.postMessage({ op: "opened", bytes: pos });
    } else if (m.op === "data") {
      if (!failed) {
        const view = new Uint8Array(m.buf, 0, m.len);
        hash.update(view);
        let done = 0;
        while (done < m.len) done += fs.writeSync(fd, view, done, m.len - done, pos + done);
        pos += m.len;
      }
      parentPort.postMessage({ op: "ack", buf: m.buf }, [m.buf]);
    } else if (m.op === "flush") {
      if (!failed) parentPort.postMessage({ op: "flushed", bytes: pos });
    } else if (m.op === "restart") {
      fs.ftruncateSync(fd, 0); pos = 0; failed = false; fresh();
      parentPort.postMessage({ op: "restarted" });
    } else if (m.op === "finish") {
      parentPort.postMessage({ op: "finished", bytes: pos, digest: hash.digest("hex") });
    } else if (m.op === "close") {
      if (fd >= 0) fs.closeSync(fd);
      fd = -1; hash = null;
      parentPort.postMessage({ op: "closed" });
    }
  } catch (err) {
    failed = true;
    if (m.op === "data") parentPort.postMessage({ op: "ack", buf: m.buf }, [m.buf]);
    parentPort.postMessage({ op: "error", message: String(err && err.message || err), code: err && err.code });
  }
});
`;

/**
 * Writer threads, reused across downloads (at most `maxIdle` kept). Idle threads are unref'd so
 * they never keep a process alive; `close()` ends them all.
 */
export class BlobWorkerPool {
  private idle: Worker[] = [];
  private readonly busy = new Set<Worker>();
  private closed = false;

  constructor(private readonly maxIdle = 4) {}

  acquire(): Worker {
    if (this.closed) throw new Error("the model cache is closed");
    const w =
      this.idle.pop() ??
      new Worker(BLOB_WORKER_SOURCE, {
        eval: true,
        // It only hashes and writes transferred chunks: a small heap keeps the agent's RSS down.
        resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 16 },
      });
    w.ref();
    this.busy.add(w);
    return w;
  }

  /** Back to the pool, listeners removed; `broken` workers (aborted mid-operation) are ended. */
  release(w: Worker, broken = false): void {
    this.busy.delete(w);
    w.removeAllListeners("message");
    w.removeAllListeners("error");
    w.removeAllListeners("exit");
    if (broken || this.closed || this.idle.length >= this.maxIdle) {
      void w.terminate();
      return;
    }
    w.unref();
    this.idle.push(w);
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle, ...this.busy];
    this.idle = [];
    this.busy.clear();
    await Promise.all(all.map((w) => w.terminate()));
  }
}
