import type { ModelRecord } from "@omnigate/shared/models";
import type { EngineHealth } from "@omnigate/shared/node-protocol";
import type { RuntimeType } from "@omnigate/shared/runtimes";
import type { CachedModel } from "../cache/types.js";

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
