import { createRequire } from "node:module";

/** What the engine hands sherpa-onnx-node's OfflineTts (its config, in the package's own names). */
export interface OfflineTtsConfig {
  model: {
    vits?: Record<string, string | number>;
    kokoro?: Record<string, string | number>;
    numThreads?: number;
    provider?: string;
    debug?: boolean;
  };
  maxNumSentences?: number;
  silenceScale?: number;
  ruleFsts?: string;
  ruleFars?: string;
}

export interface GeneratedAudio {
  readonly samples: Float32Array;
  readonly sampleRate: number;
}

/** A loaded voice. */
export interface OfflineTts {
  readonly sampleRate: number;
  readonly numSpeakers: number;
  /** Synthesizes on a worker thread, so the engine keeps answering /health meanwhile. */
  generateAsync(request: { text: string; sid: number; speed: number }): Promise<GeneratedAudio>;
}

/** The part of sherpa-onnx-node the engine uses (the package ships no type declarations). */
export interface Sherpa {
  readonly version: string;
  readonly onnxruntimeVersion: string;
  readonly OfflineTts: { createAsync(config: OfflineTtsConfig): Promise<OfflineTts> };
}

/**
 * Loads sherpa-onnx-node and, through it, its platform package's native addon and shared libraries
 * (sherpa-onnx's C API and onnxruntime). Throws when this platform has none or they do not load.
 */
export function loadSherpa(): Sherpa {
  const require = createRequire(import.meta.url);
  return require("sherpa-onnx-node") as Sherpa;
}
