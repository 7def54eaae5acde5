import type { ModelRecord } from "@omnigate/shared/models";
import type { EngineHealth } from "@omnigate/shared/node-protocol";
import type { ErrorCode } from "@omnigate/shared/errors";
import type { Capability, RuntimeType } from "@omnigate/shared/runtimes";
import type { CachedModel } from "../cache/types.js";
import type { EngineCall, EnginePassThrough, EngineReply, ServerTarget } from "../engines/types.js";

/** An engine's lifecycle as the model state sees it. */
export type EngineState =
  | { readonly state: "starting" }
  | { readonly state: "ready" }
  | { readonly state: "failed"; readonly error: string };

/** Runs the engines that serve models (issue 4). The reconciler drives models through it. */
export interface ModelServer {
  /** Runtimes whose engine binary was found and starts (probed once, at agent start). */
  readonly supportedRuntimes: readonly RuntimeType[];
  /**
   * Starts serving `model` from its cached files. Returns at once; the engine's lifecycle
   * (starting → ready, died → starting → ready, crash loop → failed) is reported through `onState`
   * until `stop`.
   */
  start(model: ModelRecord, files: CachedModel, onState: (state: EngineState) => void): void;
  /** Stops the model's engine (SIGTERM → timeout → SIGKILL). Never throws; idempotent. */
  stop(name: string): Promise<void>;
  /** Requests in flight and how many the engine runs at once. */
  load(name: string): { inFlight: number; capacity: number } | undefined;
  engines(): EngineHealth[];
  /** Stops every engine. */
  close(): Promise<void>;
}

/** How engines are supervised (from config; tests shorten them). */
export interface EngineTiming {
  /** Longest wait for an engine to load its model before it is `failed`. */
  readonly readyTimeoutMs: number;
  /** SIGTERM → SIGKILL grace. */
  readonly stopTimeoutMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Exits within the window that make a crash loop. */
  readonly crashLoopRestarts: number;
  readonly crashLoopWindowMs: number;
  /** 0 = never unload. */
  readonly idleUnloadMs: number;
  /** Between readiness polls while an engine loads. */
  readonly readyPollMs: number;
  /** Output lines kept per engine. */
  readonly logLines: number;
  /** Engine request timeout (0 = none). */
  readonly requestTimeoutMs: number;
}

/** One request's hold on a model's engine: counted in flight from `open` until `release`. */
export interface EngineLease {
  /** Forwards the request (waiting for the queue, or for an idle-unloaded engine to come back). */
  call(call: EngineCall, signal: AbortSignal): Promise<EngineReply>;
  /**
   * The running engine and what to send it, when the call can go to it as it is right now: the
   * engine is up, takes the call as the client sent it and needs no queue or preparation. The
   * data plane then relays it (api/engine-relay.ts); otherwise it uses `call`.
   */
  passThrough(call: EngineCall): { readonly target: ServerTarget; readonly pass: EnginePassThrough } | undefined;
  /** Idempotent; call when the response is over (sent, failed, or the client went away). */
  release(): void;
}

export type OpenResult =
  | { readonly ok: true; readonly lease: EngineLease }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

/** What the agent's OpenAI routes need from the model server. */
export interface ModelDataPlane {
  /** 404 when this node does not hold the model (or it lacks the capability), 503 when not ready. */
  open(name: string, capability: Capability): OpenResult;
}
