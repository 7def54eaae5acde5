import type { ModelRecord } from "@omnigate/shared/models";
import type { CachedModel } from "../cache/types.js";
import { EngineRequestError, modelLabel } from "./engine-errors.js";
import { filePath, filesMatching, folderOf, requireFile } from "./model-files.js";

/**
 * A voice's files as sherpa-onnx-offline-tts flags (the built-in engine takes the same): Kokoro when
 * the repo has voices.bin, VITS (piper, coqui, icefall…) otherwise. espeak-ng-data/ (piper voices
 * phonemize with it) and lexicon.txt are passed when the repo has them.
 */
export function voiceArgs(model: ModelRecord, files: CachedModel): string[] {
  const onnx = requireFile(model, files, filesMatching(files, /\.onnx$/i), ".onnx model");
  const tokens = requireFile(model, files, filesMatching(files, /^tokens\.txt$/i), "tokens.txt");
  const dataDir = folderOf(files, "espeak-ng-data");
  const voices = filesMatching(files, /^voices\.bin$/i)[0];
  if (voices) {
    return [
      `--kokoro-model=${onnx}`,
      `--kokoro-voices=${filePath(files, voices)}`,
      `--kokoro-tokens=${tokens}`,
      ...(dataDir ? [`--kokoro-data-dir=${dataDir}`] : []),
    ];
  }
  const lexicon = filesMatching(files, /^lexicon\.txt$/i)[0];
  return [
    `--vits-model=${onnx}`,
    `--vits-tokens=${tokens}`,
    ...(lexicon ? [`--vits-lexicon=${filePath(files, lexicon)}`] : []),
    ...(dataDir ? [`--vits-data-dir=${dataDir}`] : []),
  ];
}

/**
 * OpenAI `voice` → speaker id. With a `voices` map the name must be in it; without one the model has
 * a single speaker (any name → 0) unless the voice is a number.
 */
export function speakerId(model: ModelRecord, voice: string | undefined): number {
  const voices = model.options.voices;
  if (voices && Object.keys(voices).length > 0) {
    if (voice === undefined) return Object.values(voices)[0]!;
    const sid = voices[voice];
    if (sid !== undefined) return sid;
    if (/^\d+$/.test(voice)) return Number(voice);
    throw new EngineRequestError(
      "invalid_request",
      `${modelLabel(model.name)} has no voice '${voice}'; use one of: ${Object.keys(voices).join(", ")}.`,
      "voice",
    );
  }
  return voice !== undefined && /^\d+$/.test(voice) ? Number(voice) : 0;
}
