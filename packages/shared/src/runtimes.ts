import { z } from "zod";

/** The engines a node can run. Field values are the wire names: never rename them. */
export const RuntimeType = z.enum(["llama_cpp", "whisper", "stable_diffusion", "onnx_runtime"]);
export type RuntimeType = z.infer<typeof RuntimeType>;

/** What a model does, as the seed's `loaded_models` buckets name it. */
export const ModelKind = z.enum(["llm", "asr", "tts", "image"]);
export type ModelKind = z.infer<typeof ModelKind>;

export const Capability = z.enum([
  "chat",
  "completion",
  "embedding",
  "transcription",
  "translation",
  "speech",
  "image_generation",
  "image_edit",
  "image_variation",
]);
export type Capability = z.infer<typeof Capability>;

export interface RuntimeInfo {
  readonly kind: ModelKind;
  /** The engine, as messages name it: its binary's PATH name, or sherpa-onnx for TTS. */
  readonly engine: string;
  readonly capabilities: readonly Capability[];
}

/** The routing table: what each runtime is and serves (README "Runtimes and endpoints"). */
export const RUNTIMES: Readonly<Record<RuntimeType, RuntimeInfo>> = {
  llama_cpp: { kind: "llm", engine: "llama-server", capabilities: ["chat", "completion", "embedding"] },
  whisper: { kind: "asr", engine: "whisper-server", capabilities: ["transcription", "translation"] },
  onnx_runtime: { kind: "tts", engine: "sherpa-onnx", capabilities: ["speech"] },
  stable_diffusion: {
    kind: "image",
    engine: "sd-server",
    capabilities: ["image_generation", "image_edit", "image_variation"],
  },
};

/** The OpenAI endpoint each capability is served on. */
export const CAPABILITY_ENDPOINTS: Readonly<Record<Capability, string>> = {
  chat: "/v1/chat/completions",
  completion: "/v1/completions",
  embedding: "/v1/embeddings",
  transcription: "/v1/audio/transcriptions",
  translation: "/v1/audio/translations",
  speech: "/v1/audio/speech",
  image_generation: "/v1/images/generations",
  image_edit: "/v1/images/edits",
  image_variation: "/v1/images/variations",
};

/** Words for error messages: "Model 'x' does not support text-to-speech". */
export const CAPABILITY_LABELS: Readonly<Record<Capability, string>> = {
  chat: "chat completions",
  completion: "text completions",
  embedding: "embeddings",
  transcription: "audio transcription",
  translation: "audio translation",
  speech: "text-to-speech",
  image_generation: "image generation",
  image_edit: "image edits",
  image_variation: "image variations",
};

export function capabilitiesOf(runtime: RuntimeType): readonly Capability[] {
  return RUNTIMES[runtime].capabilities;
}

export function kindOf(runtime: RuntimeType): ModelKind {
  return RUNTIMES[runtime].kind;
}

// Which runtime a file points at, by name alone. `.gguf` is llama.cpp's format; stable-diffusion.cpp
// also reads gguf, so image models in gguf must name their runtime explicitly.
const FILE_RULES: ReadonlyArray<readonly [RegExp, RuntimeType]> = [
  [/(^|\/)ggml-[^/]*\.bin$/i, "whisper"],
  [/\.gguf$/i, "llama_cpp"],
  [/\.onnx$/i, "onnx_runtime"],
  [/\.(safetensors|ckpt)$/i, "stable_diffusion"],
];

/**
 * The runtimes a model's files suggest. Exactly one → inferred; none or several → the caller
 * must ask for an explicit `runtime` and name these choices.
 */
export function inferRuntimes(files: readonly string[]): RuntimeType[] {
  const found = new Set<RuntimeType>();
  for (const file of files) {
    const rule = FILE_RULES.find(([re]) => re.test(file));
    if (rule) found.add(rule[1]);
  }
  return [...found];
}
