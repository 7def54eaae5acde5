import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ModelRecord } from "@omnigate/shared/models";
import type { SpeechResponseFormat } from "@omnigate/shared/openai";
import type { CachedModel } from "../cache/types.js";
import { ProbedBinary } from "./binary.js";
import { probeOptions, type EngineConfig } from "./engine-env.js";
import { EngineRequestError, modelLabel } from "./engine-errors.js";
import { extraArgs, filePath, filesMatching, folderOf, requireFile } from "./model-files.js";
import type { EngineAdapter, EngineCall, EngineReply, OneShotContext, OneShotPlan } from "./types.js";
import { parseWav } from "./wav.js";

const ENGINE = "sherpa-onnx-offline-tts";

/** ffmpeg output per OpenAI format: muxer, codec args, content type. */
const TRANSCODE: Record<Exclude<SpeechResponseFormat, "wav" | "pcm">, { args: string[]; ext: string; type: string }> = {
  mp3: { args: ["-f", "mp3"], ext: "mp3", type: "audio/mpeg" },
  opus: { args: ["-c:a", "libopus", "-f", "ogg"], ext: "ogg", type: "audio/ogg" },
  aac: { args: ["-c:a", "aac", "-f", "adts"], ext: "aac", type: "audio/aac" },
  flac: { args: ["-f", "flac"], ext: "flac", type: "audio/flac" },
};

/** The model flags: Kokoro when the repo has voices.bin, VITS (piper, etc.) otherwise. */
function modelArgs(model: ModelRecord, files: CachedModel): string[] {
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

/**
 * OpenAI `speed` → sherpa's length scale (1/speed: larger is slower), per model family. Left out at
 * 1.0, so builds without the flag still speak at the default speed.
 */
function speedArgs(base: readonly string[], speed: number): string[] {
  if (speed === 1) return [];
  const family = base.some((a) => a.startsWith("--kokoro-model=")) ? "kokoro" : "vits";
  return [`--${family}-length-scale=${Math.round((1 / speed) * 1000) / 1000}`];
}

async function transcode(wavPath: string, format: keyof typeof TRANSCODE, context: OneShotContext, dir: string, signal: AbortSignal): Promise<EngineReply> {
  const spec = TRANSCODE[format];
  const out = join(dir, `out.${spec.ext}`);
  const result = await context.run([context.ffmpeg!, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", wavPath, ...spec.args, out], { cwd: dir, signal });
  if (result.code !== 0) {
    throw new EngineRequestError("engine_error", `ffmpeg could not encode ${format}: ${result.tail || `exit ${result.signal ?? result.code}`}`);
  }
  return { kind: "bytes", status: 200, contentType: spec.type, body: await readFile(out) };
}

async function speak(
  model: ModelRecord,
  base: readonly string[],
  call: EngineCall,
  context: OneShotContext,
  signal: AbortSignal,
): Promise<EngineReply> {
  if (call.capability !== "speech") throw new EngineRequestError("invalid_request", `${ENGINE} does not serve ${call.capability}.`);
  const { body } = call;
  const format = body.response_format;
  // Checked before synthesis: no work is wasted on an answer we cannot encode.
  if (format !== "wav" && format !== "pcm" && !context.ffmpeg) {
    throw new EngineRequestError(
      "unsupported_response_format",
      `response_format '${format}' needs ffmpeg, which this node does not have; ask for 'wav' or 'pcm'.`,
      "response_format",
    );
  }
  const sid = speakerId(model, body.voice);
  const tmp = await context.tempDir();
  try {
    const wavPath = join(tmp.path, "out.wav");
    // The text is one argv element after "--": never parsed as a flag, never seen by a shell.
    const argv = [...base, `--sid=${sid}`, ...speedArgs(base, body.speed), `--output-filename=${wavPath}`, "--", body.input];
    const result = await context.run(argv, { cwd: tmp.path, signal });
    if (result.code !== 0) {
      throw new EngineRequestError("engine_error", `${ENGINE} exited with ${result.signal ?? result.code}: ${result.tail || "(no output)"}`);
    }
    let wav: Buffer;
    try {
      wav = await readFile(wavPath);
    } catch {
      throw new EngineRequestError("engine_error", `${ENGINE} finished but wrote no audio: ${result.tail}`);
    }
    if (format === "wav") return { kind: "bytes", status: 200, contentType: "audio/wav", body: wav };
    if (format === "pcm") {
      let info;
      try {
        info = parseWav(wav);
      } catch (err) {
        throw new EngineRequestError("engine_error", `${ENGINE} wrote an unreadable WAV: ${(err as Error).message}`);
      }
      return {
        kind: "bytes",
        status: 200,
        contentType: "audio/pcm",
        body: info.pcm,
        headers: { "x-sample-rate": String(info.sampleRate), "x-channels": String(info.channels), "x-bits-per-sample": String(info.bitsPerSample) },
      };
    }
    return await transcode(wavPath, format, context, tmp.path, signal);
  } finally {
    await tmp.cleanup();
  }
}

/** sherpa-onnx's `sherpa-onnx-offline-tts` (runtime `onnx_runtime`), one process per request. */
export function createOnnxTtsAdapter(config: EngineConfig): EngineAdapter {
  const binary = new ProbedBinary(ENGINE, config.OMNIGATE_TTS_BIN, "OMNIGATE_TTS_BIN", probeOptions(config));
  return {
    runtime: "onnx_runtime",
    probe: () => binary.probe(),
    plan(model, files): OneShotPlan {
      const base = [binary.path(), ...modelArgs(model, files), ...extraArgs(config.OMNIGATE_TTS_ARGS, "OMNIGATE_TTS_ARGS", model)];
      return {
        kind: "oneshot",
        concurrency: config.OMNIGATE_ONESHOT_CONCURRENCY,
        run: (call, context, signal) => speak(model, base, call, context, signal),
      };
    },
  };
}
