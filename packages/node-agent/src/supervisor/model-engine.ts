import { basename } from "node:path";
import PQueue from "p-queue";
import type { EngineHealth } from "@omnigate/shared/node-protocol";
import type { ModelRecord } from "@omnigate/shared/models";
import type { Logger } from "../logger.js";
import { EngineRequestError, modelLabel } from "../engines/engine-errors.js";
import { createEnginePool } from "../engines/engine-http.js";
import type { EngineCall, EnginePassThrough, EnginePlan, EngineReply, OneShotContext, ServerPlan, ServerTarget } from "../engines/types.js";
import { describeExit, EngineProcess, type ExitReason } from "./engine-process.js";
import { freePort } from "./free-port.js";
import type { PidFiles } from "./pid-files.js";
import { CrashLoopDetector, restartDelay } from "./restart-policy.js";
import type { EngineLease, EngineState, EngineTiming } from "./types.js";

/**
 * starting → ready; ready → starting (died) → ready; starting → failed (crash loop, ready timeout).
 * Idle unload: ready → unloading → unloaded → reloading → ready, all of which still count as
 * servable (the next request waits for the reload), so the gateway keeps routing here.
 */
type Phase = "starting" | "ready" | "unloading" | "unloaded" | "reloading" | "failed" | "stopped";

const SERVABLE: ReadonlySet<Phase> = new Set(["ready", "unloading", "unloaded", "reloading"]);
const ERROR_TAIL_LINES = 12;

export interface ModelEngineDeps {
  readonly timing: EngineTiming;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly pidFiles: PidFiles;
  readonly oneShot: OneShotContext;
  readonly onState: (state: EngineState) => void;
}

type LaunchOutcome = { kind: "ready" } | { kind: "exited"; reason: ExitReason } | { kind: "timeout" } | { kind: "stopped" };

/** Supervises the engine of one model, counts its requests in flight, and unloads it when idle. */
export class ModelEngine {
  private phase: Phase = "starting";
  private failure: string | undefined;
  private lastReported: string | undefined;
  private inFlightCount = 0;
  private restartCount = 0;
  private capacityValue: number;
  private proc: EngineProcess | undefined;
  private target: (ServerTarget & { close(): Promise<void> }) | undefined;
  private readonly queue: PQueue | undefined;
  private readonly stopController = new AbortController();
  private readonly waiters = new Set<{ resolve: (t: ServerTarget) => void; reject: (e: Error) => void }>();
  private wakeRequested = false;
  private wake: (() => void) | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(
    readonly model: ModelRecord,
    private readonly plan: EnginePlan | { readonly kind: "unplannable"; readonly error: string },
    private readonly deps: ModelEngineDeps,
  ) {
    this.log = deps.logger.child({ model: model.name, runtime: model.runtime });
    const concurrency = plan.kind === "unplannable" ? null : plan.concurrency;
    this.queue = concurrency ? new PQueue({ concurrency }) : undefined;
    this.capacityValue = concurrency ?? 1;
  }

  /** Begins supervising, after `after` (the previous engine of this name) has stopped. */
  start(after: Promise<void> = Promise.resolve()): void {
    this.report({ state: "starting" });
    const plan = this.plan;
    this.loop = after.then(async () => {
      if (this.stopController.signal.aborted) return;
      if (plan.kind === "unplannable") return this.fail(plan.error);
      if (plan.kind === "oneshot") {
        this.setReady();
        return;
      }
      await this.supervise(plan);
    });
    this.loop.catch((err: unknown) => {
      this.log.error({ err }, "engine supervisor failed");
      this.fail(`supervisor error: ${(err as Error).message}`);
    });
  }

  get servable(): boolean {
    return SERVABLE.has(this.phase);
  }

  /** Why the model cannot take a request now, or undefined when it can. */
  unavailable(): string | undefined {
    if (this.servable) return undefined;
    if (this.phase === "failed") return `${modelLabel(this.model.name)} failed on this node: ${this.failure}`;
    if (this.phase === "stopped") return `${modelLabel(this.model.name)} is being removed from this node.`;
    return `${modelLabel(this.model.name)} is starting on this node (its engine is loading); retry shortly.`;
  }

  load(): { inFlight: number; capacity: number } {
    return { inFlight: this.inFlightCount, capacity: this.capacityValue };
  }

  health(): EngineHealth {
    return {
      model: this.model.name,
      runtime: this.model.runtime,
      ...(this.proc?.pid !== undefined && this.proc.running ? { pid: this.proc.pid } : {}),
      up: this.plan.kind === "oneshot" ? this.phase === "ready" : this.phase === "ready" && !!this.proc?.running,
      restarts: this.restartCount,
    };
  }

  /**
   * Counts a request in flight until the lease's `release` (called once the response is over:
   * success, error or client abort). Its `call` waits for an idle-unloaded engine to come back, and
   * for the queue.
   */
  acquire(): EngineLease {
    this.inFlightCount++;
    this.clearIdleTimer();
    return new ModelLease(this);
  }

  /** A lease ended (ModelLease calls it once). */
  released(): void {
    this.inFlightCount--;
    if (this.inFlightCount === 0) this.armIdleTimer();
  }

  /** See EngineLease.passThrough. */
  passThrough(call: EngineCall): { target: ServerTarget; pass: EnginePassThrough } | undefined {
    const plan = this.plan;
    if (plan.kind !== "server" || !plan.passThrough || plan.prepare || this.queue || this.phase !== "ready" || !this.target) return undefined;
    const pass = plan.passThrough(call);
    return pass && { target: this.target, pass };
  }

  /** Stops the engine for good (SIGTERM → timeout → SIGKILL). Same promise when called twice; never throws. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopController.abort();
      // From here on every request — waiting, queued or new — is refused (queued ones when their
      // turn comes: p-queue's clear() would leave their promises pending forever).
      this.phase = "stopped";
      this.clearIdleTimer();
      this.wake?.();
      this.rejectWaiters(new EngineRequestError("model_not_ready", `${modelLabel(this.model.name)} is being removed from this node.`));
      await this.proc?.stop(this.deps.timing.stopTimeoutMs);
      await this.loop.catch(() => undefined);
      // The loop may have spawned while we were stopping the previous process (between its checks).
      await this.proc?.stop(this.deps.timing.stopTimeoutMs);
      await this.closeTarget();
    })().catch((err: unknown) => this.log.error({ err }, "error while stopping an engine"));
    return this.stopping;
  }

  /** A lease's call (ModelLease): through the queue, to the engine once it is up. */
  async run(received: EngineCall, signal: AbortSignal): Promise<EngineReply> {
    const plan = this.plan;
    const call = plan.kind === "server" && plan.prepare ? await plan.prepare(received, this.deps.oneShot, signal) : received;
    const task = async (): Promise<EngineReply> => {
      if (plan.kind === "oneshot") {
        if (this.phase !== "ready") throw new EngineRequestError("model_not_ready", this.unavailable() ?? "not ready");
        // Stopping the model kills its one-shot processes too (they run in their own process groups).
        const stopped = this.stopController.signal;
        try {
          return await plan.run(call, this.deps.oneShot, AbortSignal.any([signal, stopped]));
        } catch (err) {
          if (stopped.aborted && !signal.aborted) throw new EngineRequestError("model_not_ready", this.unavailable() ?? "stopped");
          throw err;
        }
      }
      if (plan.kind !== "server") throw new EngineRequestError("model_not_ready", this.unavailable() ?? "not ready");
      const target = await this.ready(signal);
      return plan.forward(call, target, signal, this.deps.oneShot);
    };
    if (!this.queue) return task();
    return this.queue.add(task, { signal });
  }

  /** The running engine, bringing an idle-unloaded one back first. */
  private ready(signal: AbortSignal): Promise<ServerTarget> {
    if (this.phase === "ready" && this.target) return Promise.resolve(this.target);
    if (!this.servable) return Promise.reject(new EngineRequestError("model_not_ready", this.unavailable() ?? "not ready"));
    this.wakeRequested = true;
    this.wake?.();
    return new Promise<ServerTarget>((resolve, reject) => {
      const waiter = {
        resolve: (t: ServerTarget) => {
          signal.removeEventListener("abort", onAbort);
          resolve(t);
        },
        reject: (e: Error) => {
          signal.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        this.waiters.delete(waiter);
        reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  private async supervise(plan: ServerPlan): Promise<void> {
    const { timing } = this.deps;
    const crashLoop = new CrashLoopDetector(timing.crashLoopRestarts, timing.crashLoopWindowMs);
    let consecutive = 0;
    while (!this.stopController.signal.aborted) {
      const launchedAt = Date.now();
      const outcome = await this.launch(plan);
      if (outcome.kind === "stopped") return;
      if (outcome.kind === "timeout") {
        const tail = this.proc?.tail.last(ERROR_TAIL_LINES) ?? "";
        await this.proc?.stop(timing.stopTimeoutMs);
        return this.fail(`engine did not become ready within ${Math.round(timing.readyTimeoutMs / 1000)}s${tail ? `; last output:\n${tail}` : ""}`);
      }
      let reason: ExitReason;
      if (outcome.kind === "ready") {
        this.setReady();
        reason = await this.proc!.exited;
        await this.closeTarget();
        if (this.stopController.signal.aborted) return;
        if (this.phase === "unloading") {
          // Idle unload, not a crash: wait for the next request (or stop) and reload quietly.
          this.phase = "unloaded";
          this.log.info("engine unloaded after being idle");
          await this.waitForWake();
          if (this.stopController.signal.aborted) return;
          this.phase = "reloading";
          continue;
        }
        // Stable for a while: a later crash starts the backoff from the beginning again.
        if (Date.now() - launchedAt > Math.max(timing.backoffMaxMs, 60_000)) consecutive = 0;
      } else {
        reason = outcome.reason;
      }
      // It died: not ready from this instant (immediate heartbeat), then restarted after a backoff.
      this.restartCount++;
      const tail = this.proc?.tail.last(ERROR_TAIL_LINES) ?? "";
      this.log.warn({ exit: describeExit(reason), tail }, "engine exited unexpectedly");
      this.phase = "starting";
      this.report({ state: "starting" });
      this.rejectWaiters(new EngineRequestError("model_not_ready", `${modelLabel(this.model.name)}'s engine exited (${describeExit(reason)}); it is restarting.`));
      if (crashLoop.record()) {
        return this.fail(
          `crash loop: the engine exited ${crashLoop.count} times within ${Math.round(timing.crashLoopWindowMs / 1000)}s (last: ${describeExit(reason)})${tail ? `; last output:\n${tail}` : ""}`,
        );
      }
      consecutive++;
      await this.sleep(restartDelay(consecutive, timing.backoffBaseMs, timing.backoffMaxMs));
    }
  }

  /** Spawns the engine on a free port and waits until it is ready, exits, times out or is stopped. */
  private async launch(plan: ServerPlan): Promise<LaunchOutcome> {
    const { timing, pidFiles } = this.deps;
    const signal = this.stopController.signal;
    const port = await freePort();
    if (signal.aborted) return { kind: "stopped" };
    const argv = plan.argv(port);
    const proc = EngineProcess.spawn(argv, {
      env: this.deps.env,
      tailLines: timing.logLines,
      logger: this.log.child({ component: "engine", engine: plan.name ?? basename(argv[0]!) }),
    });
    this.proc = proc;
    let exit: ExitReason | undefined;
    void proc.exited.then((r) => (exit = r));
    if (proc.pid !== undefined) {
      const file = await pidFiles.write(this.model.name, proc.pid, argv).catch((err: unknown) => {
        this.log.warn({ err }, "could not write the engine pid file");
        return undefined;
      });
      if (file) void proc.exited.then(() => pidFiles.remove(file));
      this.log.info({ pid: proc.pid, port }, "engine started");
    }
    const baseUrl = `http://127.0.0.1:${port}`;
    const pool = createEnginePool(baseUrl);
    // destroy, not close: a crashed engine's requests must fail now, not hold the pool open.
    const target = { baseUrl, pool, timeoutMs: timing.requestTimeoutMs, close: () => pool.destroy() };
    const deadline = Date.now() + timing.readyTimeoutMs;
    const poll = async (): Promise<LaunchOutcome | undefined> => {
      if (signal.aborted) return { kind: "stopped" };
      if (exit) return { kind: "exited", reason: exit };
      if (Date.now() >= deadline) return { kind: "timeout" };
      const ok = await plan.isReady(target, signal).catch(() => false);
      if (ok && !exit && !signal.aborted) return { kind: "ready" };
      await Promise.race([this.sleep(timing.readyPollMs), proc.exited]);
      return undefined;
    };
    let outcome: LaunchOutcome | undefined;
    while (!outcome) outcome = await poll();
    if (outcome.kind !== "ready") {
      await pool.destroy().catch(() => undefined);
      return outcome;
    }
    this.capacityValue = await plan.capacity(target, signal).catch(() => this.capacityValue);
    this.target = target;
    return outcome;
  }

  private setReady(): void {
    if (this.stopController.signal.aborted) return;
    this.phase = "ready";
    this.report({ state: "ready" });
    if (this.target) for (const w of [...this.waiters]) w.resolve(this.target);
    this.waiters.clear();
    if (this.inFlightCount === 0) this.armIdleTimer();
  }

  private fail(error: string): void {
    if (this.stopController.signal.aborted) return;
    this.phase = "failed";
    this.failure = error.slice(0, 4000);
    this.log.error({ error: this.failure }, "engine failed");
    this.report({ state: "failed", error: this.failure });
    this.rejectWaiters(new EngineRequestError("model_not_ready", this.unavailable()!));
  }

  private report(state: EngineState): void {
    if (this.stopController.signal.aborted) return;
    const key = state.state === "failed" ? `failed:${state.error}` : state.state;
    if (key === this.lastReported) return;
    this.lastReported = key;
    try {
      this.deps.onState(state);
    } catch (err) {
      this.log.error({ err }, "onState callback threw");
    }
  }

  private rejectWaiters(error: Error): void {
    for (const w of [...this.waiters]) w.reject(error);
    this.waiters.clear();
  }

  private armIdleTimer(): void {
    const idle = this.deps.timing.idleUnloadMs;
    if (idle <= 0 || this.plan.kind !== "server" || this.phase !== "ready") return;
    this.clearIdleTimer();
    this.idleTimer = setTimeout(() => this.unloadIfIdle(), idle);
    this.idleTimer.unref();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Never with a request in flight: a stream in progress holds its lease until it ends. */
  private unloadIfIdle(): void {
    this.idleTimer = undefined;
    if (this.inFlightCount > 0 || this.phase !== "ready" || !this.proc) return;
    this.phase = "unloading";
    this.wakeRequested = false;
    void this.proc.stop(this.deps.timing.stopTimeoutMs);
  }

  private waitForWake(): Promise<void> {
    if (this.wakeRequested || this.stopController.signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async closeTarget(): Promise<void> {
    const target = this.target;
    this.target = undefined;
    await target?.close().catch(() => undefined);
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.stopController.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

/** One request's hold on a model's engine (EngineLease), a plain object: every request takes one. */
class ModelLease implements EngineLease {
  #released = false;

  constructor(private readonly engine: ModelEngine) {}

  call(call: EngineCall, signal: AbortSignal): Promise<EngineReply> {
    return this.engine.run(call, signal);
  }

  passThrough(call: EngineCall): { target: ServerTarget; pass: EnginePassThrough } | undefined {
    return this.engine.passThrough(call);
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.engine.released();
  }
}
