import { Worker } from "node:worker_threads";
import type { HashKind } from "./blob-hash.js";

/**
 * The thread that hashes downloads. Each job follows one `.incomplete` file: the download says how
 * far the file is on disk without a gap (`advance`), and the worker reads that part back from the
 * page cache and hashes it, in order, while the sockets keep receiving on the main thread. Several
 * jobs share the thread a block at a time, so a long resume re-read does not stall another file.
 *
 * Reading back costs ~0.16 CPU-s/GiB of sys time (a copy out of the page cache) against the
 * ~0.55 s/GiB of sha256 itself, and needs no data messages: the main thread posts offsets only.
 * Measured against hashing on the receiving thread in BENCHMARKS.md ("Pull").
 *
 * Plain JavaScript evaluated as the worker's script: a module file would not exist when vitest
 * runs the TypeScript sources, and the code is small. Protocol:
 *   open {id, path, kind, size}   advance {id, to}   finish {id}   cancel {id}
 *   → digest {id, bytes, digest} | failed {id, message, code}
 */
const HASH_WORKER_SOURCE = String.raw`
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const fs = require("node:fs");
const BLOCK = 4 << 20;
const buf = Buffer.allocUnsafe(BLOCK);
const jobs = new Map();
let pumping = false;

function fail(id, job, err) {
  jobs.delete(id);
  if (job.fd >= 0) try { fs.closeSync(job.fd); } catch {}
  parentPort.postMessage({ op: "failed", id, message: String((err && err.message) || err), code: err && err.code });
}

function step(id, job) {
  if (job.pos < job.to) {
    const n = fs.readSync(job.fd, buf, 0, Math.min(BLOCK, job.to - job.pos), job.pos);
    if (n === 0) throw Object.assign(new Error("the file ended at " + job.pos + " bytes while " + job.to + " were on disk"), { code: "ESHORT" });
    job.hash.update(buf.subarray(0, n));
    job.pos += n;
  }
  if (job.finishing && job.pos >= job.size) {
    jobs.delete(id);
    fs.closeSync(job.fd);
    parentPort.postMessage({ op: "digest", id, bytes: job.pos, digest: job.hash.digest("hex") });
  }
}

// One block per job per turn, then back to the event loop so new messages are seen.
function pump() {
  pumping = false;
  let more = false;
  for (const [id, job] of jobs) {
    try {
      step(id, job);
      if (jobs.has(id) && (job.pos < job.to || (job.finishing && job.pos >= job.size))) more = true;
    } catch (err) {
      fail(id, job, err);
    }
  }
  if (more) schedule();
}
function schedule() {
  if (!pumping) { pumping = true; setImmediate(pump); }
}

parentPort.on("message", (m) => {
  if (m.op === "open") {
    const job = { fd: -1, hash: createHash(m.kind === "sha256" ? "sha256" : "sha1"), pos: 0, to: 0, size: m.size, finishing: false };
    if (m.kind === "git-sha1") job.hash.update("blob " + m.size + "\0");
    jobs.set(m.id, job);
    try { job.fd = fs.openSync(m.path, "r"); } catch (err) { return fail(m.id, job, err); }
  } else {
    const job = jobs.get(m.id);
    if (!job) return;
    if (m.op === "advance") job.to = Math.min(Math.max(job.to, m.to), job.size);
    else if (m.op === "finish") job.finishing = true;
    else if (m.op === "cancel") { jobs.delete(m.id); try { fs.closeSync(job.fd); } catch {} return; }
  }
  schedule();
});
`;

/** The hashing thread hears of a job's growth in steps of at least this much. */
const ADVANCE_STEP = 8 << 20;

type Reply = { op: "digest"; id: number; bytes: number; digest: string } | { op: "failed"; id: number; message: string; code?: string };

/** One file being hashed by the worker. */
export interface HashJob {
  /** Bytes `[0, to)` are on disk: hash them. Never goes back (a restart is a new job). */
  advance(to: number): void;
  /** The digest once every byte up to the size is hashed; call after the last advance. */
  result(): Promise<{ bytes: number; digest: string }>;
  /** Drops the job (abort, restart); its result() rejects if awaited. */
  cancel(): void;
}

/**
 * The cache's hashing thread, started on first use. It keeps the process alive only while a job
 * runs; close() ends it.
 */
export class HashWorker {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: { bytes: number; digest: string }) => void; reject: (e: Error) => void }>();
  private active = 0;
  private closed = false;

  start(path: string, kind: HashKind, size: number): HashJob {
    if (this.closed) throw new Error("the model cache is closed");
    const worker = this.ensure();
    const id = this.nextId++;
    let done = false;
    let posted = 0;
    const settle = (): void => {
      if (done) return;
      done = true;
      if (--this.active === 0) this.worker?.unref();
    };
    this.active++;
    worker.ref();
    const result = new Promise<{ bytes: number; digest: string }>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    result.then(settle, settle);
    // A caller that cancels never awaits: its rejection must not go unhandled.
    result.catch(() => {});
    worker.postMessage({ op: "open", id, path, kind, size });
    return {
      advance: (to) => {
        // In steps (a message each), and the end: the thread reads 4 MiB at a time anyway.
        if (done || to <= posted || (to < posted + ADVANCE_STEP && to < size)) return;
        posted = to;
        worker.postMessage({ op: "advance", id, to });
      },
      result: () => {
        if (!done) worker.postMessage({ op: "finish", id });
        return result;
      },
      cancel: () => {
        if (done) return;
        worker.postMessage({ op: "cancel", id });
        const p = this.pending.get(id);
        this.pending.delete(id);
        p?.reject(Object.assign(new Error("hashing cancelled"), { name: "AbortError" }));
      },
    };
  }

  /** Starts the thread ahead of its first job (it takes tens of ms), e.g. while the hub is asked what to fetch. */
  warm(): void {
    if (!this.closed) this.ensure();
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(HASH_WORKER_SOURCE, {
      eval: true,
      // It reads into one 4 MiB buffer and hashes: a small heap keeps the agent's RSS down.
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 16 },
    });
    w.unref();
    w.on("message", (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.op === "digest") p.resolve({ bytes: m.bytes, digest: m.digest });
      else p.reject(Object.assign(new Error(`hashing the download failed: ${m.message}`), m.code ? { code: m.code } : {}));
    });
    // A dead worker fails every job in flight; the next job starts a new one.
    const die = (err: Error): void => {
      if (this.worker === w) this.worker = undefined;
      for (const [, p] of this.pending) p.reject(err);
      this.pending.clear();
    };
    w.on("error", die);
    w.on("exit", (code) => die(new Error(`the hashing thread exited (${code})`)));
    this.worker = w;
    return w;
  }
}
