/**
 * Test doubles of the reconciler's two interfaces (ModelCache, ModelServer), for the reconciler's
 * unit test only. They keep real files in a temp dir, so "deleted" means gone from disk; every
 * behaviour a test relies on (gates, failures) is explicit and named.
 */
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DownloadProgress, ModelRecord } from "@omnigate/shared/models";
import type { EngineHealth } from "@omnigate/shared/node-protocol";
import type { RuntimeType } from "@omnigate/shared/runtimes";
import type { CachedModel, CacheModelRef, ModelCache, PullOptions } from "../../src/cache/types.js";
import type { EngineState, ModelServer } from "../../src/supervisor/types.js";

export function snapshotDirOf(root: string, ref: Pick<CacheModelRef, "repo" | "revision">): string {
  return join(root, ref.repo.replace("/", "--"), ref.revision.replaceAll("/", "_"));
}

/** A pull that waits until the test opens it (to observe `downloading`, or abort mid-pull). */
export class Gate {
  #open!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.#open = resolve));
  open(): void {
    this.#open();
  }
}

/** ModelCache double: writes each file's name as its content; honours abort and `stillWanted`. */
export class FolderModelCache implements ModelCache {
  readonly pulls: CacheModelRef[] = [];
  readonly removals: { model: CacheModelRef; stillWanted: readonly CacheModelRef[] }[] = [];
  /** Pulls that saw their signal abort. */
  aborted = 0;
  readonly #gates = new Map<string, Gate>();
  readonly #failures = new Map<string, string[]>();

  constructor(readonly root: string) {}

  /** The next pull of `repo` downloads half, then waits for `gate.open()`. */
  hold(repo: string): Gate {
    const gate = new Gate();
    this.#gates.set(repo, gate);
    return gate;
  }

  /** The next `times` pulls of `repo` fail with `message`. */
  failNext(repo: string, message: string, times = 1): void {
    this.#failures.set(repo, Array.from({ length: times }, () => message));
  }

  async pull(model: CacheModelRef, options: PullOptions = {}): Promise<CachedModel> {
    this.pulls.push(model);
    const failure = this.#failures.get(model.repo)?.shift();
    if (failure) throw new Error(failure);
    const total = model.files.length * 100;
    const progress = (bytes: number): DownloadProgress => ({ bytes, total, rate: 0, percent: total ? Math.round((bytes / total) * 1000) / 10 : 100 });
    options.onProgress?.(progress(total / 2));
    const gate = this.#gates.get(model.repo);
    if (gate) {
      this.#gates.delete(model.repo);
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          this.aborted++;
          reject(new Error("pull aborted"));
        };
        if (options.signal?.aborted) return onAbort();
        options.signal?.addEventListener("abort", onAbort, { once: true });
        void gate.opened.then(resolve);
      });
    }
    options.signal?.throwIfAborted();
    const dir = snapshotDirOf(this.root, model);
    for (const file of model.files) {
      await mkdir(join(dir, file, ".."), { recursive: true });
      await writeFile(join(dir, file), `${model.repo}@${model.revision}:${file}`);
    }
    options.onProgress?.(progress(total));
    options.onVerifying?.();
    return { commit: model.revision, snapshotDir: dir, files: [...model.files].sort() };
  }

  async remove(model: CacheModelRef, stillWanted: readonly CacheModelRef[]): Promise<void> {
    this.removals.push({ model, stillWanted });
    const dir = snapshotDirOf(this.root, model);
    for (const file of model.files) {
      const kept = stillWanted.some((w) => w.repo === model.repo && w.revision === model.revision && w.files.includes(file));
      if (!kept) await rm(join(dir, file), { force: true });
    }
  }

  has(model: CacheModelRef, file: string): boolean {
    return existsSync(join(snapshotDirOf(this.root, model), file));
  }
}

interface Running {
  model: ModelRecord;
  onState: (s: EngineState) => void;
}

/** ModelServer double: "starts" an engine by checking the files exist, then reports ready. */
export class RecordingModelServer implements ModelServer {
  readonly started: string[] = [];
  readonly stopped: string[] = [];
  readonly #running = new Map<string, Running>();
  readonly #startFailures = new Map<string, string[]>();

  constructor(readonly supportedRuntimes: readonly RuntimeType[] = ["llama_cpp", "whisper", "stable_diffusion", "onnx_runtime"]) {}

  /** The next `times` starts of `name` end in a crash loop reported as `failed: message`. */
  failNextStart(name: string, message: string, times = 1): void {
    this.#startFailures.set(name, Array.from({ length: times }, () => message));
  }

  start(model: ModelRecord, files: CachedModel, onState: (s: EngineState) => void): void {
    this.started.push(model.name);
    const entry: Running = { model, onState };
    this.#running.set(model.name, entry);
    const missing = files.files.filter((f) => !existsSync(join(files.snapshotDir, f)));
    const failure = this.#startFailures.get(model.name)?.shift();
    setImmediate(() => {
      if (this.#running.get(model.name) !== entry) return;
      onState({ state: "starting" });
      setImmediate(() => {
        if (this.#running.get(model.name) !== entry) return;
        if (missing.length) onState({ state: "failed", error: `missing files: ${missing.join(", ")}` });
        else if (failure) onState({ state: "failed", error: failure });
        else onState({ state: "ready" });
      });
    });
  }

  async stop(name: string): Promise<void> {
    this.stopped.push(name);
    this.#running.delete(name);
  }

  load(name: string): { inFlight: number; capacity: number } | undefined {
    return this.#running.has(name) ? { inFlight: 0, capacity: 4 } : undefined;
  }

  engines(): EngineHealth[] {
    return [...this.#running.values()].map((r) => ({ model: r.model.name, runtime: r.model.runtime, up: true, restarts: 0 }));
  }

  isRunning(name: string): boolean {
    return this.#running.has(name);
  }

  async close(): Promise<void> {
    this.#running.clear();
  }
}
