import { join } from "node:path";
import type { ModelRecord } from "@omnigate/shared/models";
import type { EngineHealth } from "@omnigate/shared/node-protocol";
import { CAPABILITY_LABELS, RUNTIMES, RuntimeType, type Capability } from "@omnigate/shared/runtimes";
import type { CachedModel } from "../cache/types.js";
import type { Logger } from "../logger.js";
import { resolveBinary } from "../engines/binary.js";
import { buildEngineEnv } from "../engines/child-env.js";
import type { EngineConfig } from "../engines/engine-env.js";
import { modelLabel } from "../engines/engine-errors.js";
import { createAdapters } from "../engines/registry.js";
import type { EngineAdapter, EnginePlan, ProbeResult } from "../engines/types.js";
import { ModelEngine } from "./model-engine.js";
import { createOneShotContext } from "./one-shot-runner.js";
import { PidFiles } from "./pid-files.js";
import type { EngineState, EngineTiming, ModelDataPlane, ModelServer, OpenResult } from "./types.js";

export interface EngineModelServerOptions {
  /** The engine slice of the agent config (`loadConfig()`'s result satisfies it). */
  readonly config: EngineConfig;
  /** OMNIGATE_STATE_DIR: engine pid files live in `<stateDir>/engines`. */
  readonly stateDir: string;
  readonly logger: Logger;
  /** Default: every adapter of `engines/registry.ts`, built from `config`. */
  readonly adapters?: readonly EngineAdapter[];
  /** Overrides of the config-derived timing (tests). */
  readonly timing?: Partial<EngineTiming>;
  /** Where the engines' allow-listed environment is taken from. Default: process.env. */
  readonly environment?: NodeJS.ProcessEnv;
}

export function timingFromConfig(config: EngineConfig): EngineTiming {
  return {
    readyTimeoutMs: config.OMNIGATE_ENGINE_READY_TIMEOUT_S * 1000,
    stopTimeoutMs: config.OMNIGATE_ENGINE_STOP_TIMEOUT_S * 1000,
    backoffBaseMs: config.OMNIGATE_ENGINE_RESTART_BACKOFF_MS,
    backoffMaxMs: config.OMNIGATE_ENGINE_RESTART_BACKOFF_MAX_MS,
    crashLoopRestarts: config.OMNIGATE_ENGINE_CRASH_LOOP_RESTARTS,
    crashLoopWindowMs: config.OMNIGATE_ENGINE_CRASH_LOOP_WINDOW_S * 1000,
    idleUnloadMs: config.OMNIGATE_IDLE_UNLOAD_S * 1000,
    readyPollMs: 200,
    logLines: config.OMNIGATE_ENGINE_LOG_LINES,
    requestTimeoutMs: config.OMNIGATE_ENGINE_REQUEST_TIMEOUT_S * 1000,
  };
}

/**
 * The agent's engines: probes the binaries, supervises one engine per model, and hands requests to
 * them. `init()` (reap orphans, probe) must finish before `start`.
 */
export class EngineModelServer implements ModelServer, ModelDataPlane {
  private readonly adapters: ReadonlyMap<RuntimeType, EngineAdapter>;
  private readonly probes = new Map<RuntimeType, ProbeResult>();
  private readonly models = new Map<string, ModelEngine>();
  private readonly timing: EngineTiming;
  private readonly env: NodeJS.ProcessEnv;
  private readonly pidFiles: PidFiles;
  private readonly log: Logger;
  private ffmpeg: string | undefined;
  private initializing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: EngineModelServerOptions) {
    this.log = options.logger.child({ component: "engines" });
    const adapters = options.adapters ?? createAdapters(options.config);
    this.adapters = new Map(adapters.map((a) => [a.runtime, a]));
    this.timing = { ...timingFromConfig(options.config), ...options.timing };
    this.env = buildEngineEnv(options.config.OMNIGATE_ENGINE_ENV_PASS, options.environment);
    this.pidFiles = new PidFiles(join(options.stateDir, "engines"), this.log);
  }

  /** Stops engines a SIGKILLed predecessor left running, then probes every binary. Same promise twice. */
  init(): Promise<void> {
    this.initializing ??= (async () => {
      const reaped = await this.pidFiles.reap(this.timing.stopTimeoutMs);
      if (reaped > 0) this.log.warn({ reaped }, "stopped engines left over from a previous agent run");
      await Promise.all(
        [...this.adapters.values()].map(async (adapter) => {
          const result = await adapter.probe().catch((err: unknown) => ({ ok: false as const, reason: String(err) }));
          this.probes.set(adapter.runtime, result);
          if (result.ok) this.log.info({ runtime: adapter.runtime, binary: result.binary, detail: result.detail }, "engine found");
          else this.log.info({ runtime: adapter.runtime, reason: result.reason }, "engine unavailable");
        }),
      );
      const ffmpeg = await resolveBinary(this.options.config.OMNIGATE_FFMPEG_BIN, ["ffmpeg"], "OMNIGATE_FFMPEG_BIN");
      this.ffmpeg = ffmpeg.ok ? ffmpeg.path : undefined;
      // Said once at start, so an operator knows why some uploads and speech formats are refused.
      if (ffmpeg.ok) this.log.info({ ffmpeg: ffmpeg.path }, "ffmpeg found: transcription takes any audio it reads, speech any format");
      else this.log.info({ reason: ffmpeg.reason }, "no ffmpeg: transcription takes only WAV, MP3, FLAC and Ogg Vorbis, speech only wav and pcm");
    })();
    return this.initializing;
  }

  get supportedRuntimes(): readonly RuntimeType[] {
    return RuntimeTypes.filter((r) => this.probes.get(r)?.ok === true);
  }

  /** Each runtime's probe outcome (why a runtime is unsupported), for logs and diagnostics. */
  probeResults(): ReadonlyMap<RuntimeType, ProbeResult> {
    return this.probes;
  }

  start(model: ModelRecord, files: CachedModel, onState: (state: EngineState) => void): void {
    if (this.closing) {
      onState({ state: "failed", error: "the agent is shutting down" });
      return;
    }
    const previous = this.models.get(model.name);
    const engine = new ModelEngine(model, this.planFor(model, files), {
      timing: this.timing,
      env: this.env,
      logger: this.log,
      pidFiles: this.pidFiles,
      oneShot: createOneShotContext({
        env: this.env,
        logger: this.log.child({ model: model.name }),
        tailLines: this.timing.logLines,
        timeoutMs: this.timing.requestTimeoutMs,
        ffmpeg: this.ffmpeg,
      }),
      onState,
    });
    this.models.set(model.name, engine);
    // One engine per model at a time: the new one starts once the old one is gone (GPU memory).
    engine.start(previous?.stop());
  }

  async stop(name: string): Promise<void> {
    const engine = this.models.get(name);
    if (!engine) return;
    this.models.delete(name);
    await engine.stop();
  }

  load(name: string): { inFlight: number; capacity: number } | undefined {
    return this.models.get(name)?.load();
  }

  engines(): EngineHealth[] {
    return [...this.models.values()].map((e) => e.health());
  }

  open(name: string, capability: Capability): OpenResult {
    const engine = this.models.get(name);
    if (!engine) {
      return { ok: false, code: "model_not_found", message: `${modelLabel(name)} is not served by this node.` };
    }
    if (!engine.model.capabilities.includes(capability)) {
      return {
        ok: false,
        code: "model_capability_unsupported",
        message: `${modelLabel(name)} does not support ${CAPABILITY_LABELS[capability]}.`,
      };
    }
    const why = engine.unavailable();
    if (why) return { ok: false, code: "model_not_ready", message: why };
    return { ok: true, lease: engine.acquire() };
  }

  /** Stops every engine. Same promise when called twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const engines = [...this.models.values()];
      this.models.clear();
      await Promise.all(engines.map((e) => e.stop()));
    })();
    return this.closing;
  }

  private planFor(model: ModelRecord, files: CachedModel): EnginePlan | { kind: "unplannable"; error: string } {
    const probe = this.probes.get(model.runtime);
    const adapter = this.adapters.get(model.runtime);
    if (!adapter || !probe?.ok) {
      const why = probe && !probe.ok ? probe.reason : "not probed (init() not called)";
      return { kind: "unplannable", error: `no usable ${RUNTIMES[model.runtime].engine} on this node: ${why}` };
    }
    try {
      return adapter.plan(model, files);
    } catch (err) {
      return { kind: "unplannable", error: (err as Error).message };
    }
  }
}

const RuntimeTypes: readonly RuntimeType[] = RuntimeType.options;

/** Constructs the server and runs `init()`. */
export async function createModelServer(options: EngineModelServerOptions): Promise<EngineModelServer> {
  const server = new EngineModelServer(options);
  await server.init();
  return server;
}
