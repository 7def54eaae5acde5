import { z } from "zod";
import { splitArgs } from "@omnigate/shared/argv";

/** Engine arguments are checked at config load: bad quoting fails the agent's start, not a model later. */
function splittable(value: string): boolean {
  try {
    splitArgs(value);
    return true;
  } catch {
    return false;
  }
}
const UNSPLITTABLE = { message: "unterminated quote in engine arguments" };

/** Variables of the engines, their supervisor and the agent's data plane (issue 4). */
export const engineEnv = {
  // llama-server binary; unset = look up `llama-server` on PATH.
  OMNIGATE_LLAMA_SERVER_BIN: z.string().optional(),
  // whisper-server binary; unset = look up `whisper-server` on PATH.
  OMNIGATE_WHISPER_SERVER_BIN: z.string().optional(),
  // sd-server binary; unset = look up `sd-server` on PATH (sd-cli is the fallback).
  OMNIGATE_SD_SERVER_BIN: z.string().optional(),
  // sd-cli binary, used one process per request when no sd-server; unset = `sd-cli`, then `sd`, on PATH.
  OMNIGATE_SD_CLI_BIN: z.string().optional(),
  // sherpa-onnx-offline-tts binary: TTS then runs it once per request; unset = the built-in engine (sherpa-onnx-node).
  OMNIGATE_TTS_BIN: z.string().optional(),
  // Extra llama-server arguments for every model, split like a shell would (no expansion), e.g. "-ngl 99 -c 8192".
  OMNIGATE_LLAMA_ARGS: z.string().default("").refine(splittable, UNSPLITTABLE),
  // Extra whisper-server arguments for every model, e.g. "-t 8".
  OMNIGATE_WHISPER_ARGS: z.string().default("").refine(splittable, UNSPLITTABLE),
  // Extra sd-server / sd-cli arguments for every model, e.g. "--steps 20 --vae-tiling".
  OMNIGATE_SD_ARGS: z.string().default("").refine(splittable, UNSPLITTABLE),
  // Extra TTS arguments for every voice, in sherpa-onnx-offline-tts's form (the built-in engine takes them too), e.g. "--num-threads=4".
  OMNIGATE_TTS_ARGS: z.string().default("").refine(splittable, UNSPLITTABLE),
  // ffmpeg for TTS mp3/opus/aac/flac and for transcribing M4A, WebM, Ogg Opus; unset = `ffmpeg` on PATH; absent = those are a 400.
  OMNIGATE_FFMPEG_BIN: z.string().optional(),
  // nvidia-smi for the GPU list in registration/heartbeat; unset = PATH; absent = no GPUs reported.
  OMNIGATE_NVIDIA_SMI_BIN: z.string().optional(),
  // How long an engine may take to load its model before it counts as failed (big models load slowly).
  OMNIGATE_ENGINE_READY_TIMEOUT_S: z.coerce.number().min(0).max(86_400).default(600),
  // Grace between SIGTERM and SIGKILL when an engine is stopped.
  OMNIGATE_ENGINE_STOP_TIMEOUT_S: z.coerce.number().min(0).max(86_400).default(10),
  // How long `<binary> --help` may take when the agent checks at start that an engine runs.
  OMNIGATE_ENGINE_PROBE_TIMEOUT_S: z.coerce.number().min(0).max(86_400).default(15),
  // First wait before restarting a crashed engine; doubles per crash (with jitter).
  OMNIGATE_ENGINE_RESTART_BACKOFF_MS: z.coerce.number().int().min(0).max(3_600_000).default(1000),
  // Longest wait between restarts of a crashing engine.
  OMNIGATE_ENGINE_RESTART_BACKOFF_MAX_MS: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
  // Crashes within the window below that turn a model `failed` instead of restarting forever.
  OMNIGATE_ENGINE_CRASH_LOOP_RESTARTS: z.coerce.number().int().min(1).max(1000).default(5),
  // The crash-loop window.
  OMNIGATE_ENGINE_CRASH_LOOP_WINDOW_S: z.coerce.number().min(0).max(86_400).default(300),
  // Stop an engine idle this long (no request in flight) and restart it on the next request; 0 = never.
  OMNIGATE_IDLE_UNLOAD_S: z.coerce.number().min(0).max(86_400).default(0),
  // Requests run at once per one-shot model (sherpa-onnx-offline-tts, sd-cli): each is a process on the GPU.
  OMNIGATE_ONESHOT_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  // Longest wait for an engine's answer (headers, and between body chunks); 0 = none.
  OMNIGATE_ENGINE_REQUEST_TIMEOUT_S: z.coerce.number().min(0).max(86_400).default(600),
  // Engine output lines kept per engine for error messages (`failed: <last lines>`).
  OMNIGATE_ENGINE_LOG_LINES: z.coerce.number().int().min(1).max(10_000).default(50),
  // Extra environment variables passed to engines, comma-separated names or `PREFIX_*` (the rest is withheld).
  OMNIGATE_ENGINE_ENV_PASS: z.string().default(""),
  // Largest multipart file (audio, images) the agent accepts on /v1/*; beyond it → 413. Same name and default as the gateway's.
  OMNIGATE_MAX_UPLOAD_BYTES: z.coerce.number().int().min(1024).default(25 * 1024 * 1024),
  // Largest JSON body the agent accepts on /v1/*; beyond it → 413. Same name and default as the gateway's.
  OMNIGATE_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(10 * 1024 * 1024),
};

export const EngineEnv = z.object(engineEnv);
/** The engine slice of the agent config (the full `AgentConfig` satisfies it). */
export type EngineConfig = z.infer<typeof EngineEnv>;

/** Parses only the engine slice (tests, tools); the agent uses `loadConfig`. */
export function loadEngineConfig(env: Record<string, string | undefined> = {}): EngineConfig {
  return EngineEnv.parse(env);
}

/** How adapters probe their binaries under this config. */
export function probeOptions(config: EngineConfig): { timeoutMs: number; envPass: string } {
  return { timeoutMs: config.OMNIGATE_ENGINE_PROBE_TIMEOUT_S * 1000, envPass: config.OMNIGATE_ENGINE_ENV_PASS };
}
