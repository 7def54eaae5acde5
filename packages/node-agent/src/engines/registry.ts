import type { EngineConfig } from "./engine-env.js";
import { createLlamaCppAdapter } from "./llama-cpp.js";
import { createOnnxTtsAdapter } from "./onnx-tts.js";
import { createStableDiffusionAdapter } from "./stable-diffusion.js";
import type { EngineAdapter } from "./types.js";
import { createWhisperAdapter } from "./whisper.js";

/** Every engine the agent knows. Adding an engine = one adapter file and one line here. */
export const ENGINE_ADAPTERS: ReadonlyArray<(config: EngineConfig) => EngineAdapter> = [
  createLlamaCppAdapter,
  createWhisperAdapter,
  createStableDiffusionAdapter,
  createOnnxTtsAdapter,
];

export function createAdapters(config: EngineConfig): EngineAdapter[] {
  return ENGINE_ADAPTERS.map((create) => create(config));
}
