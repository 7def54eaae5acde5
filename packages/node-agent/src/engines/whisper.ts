import { FormData } from "undici";
import type { ModelRecord } from "@omnigate/shared/models";
import type { CachedModel } from "../cache/types.js";
import { decodeWithFfmpeg, sniffAudio, undecodable } from "./audio-input.js";
import { ProbedBinary } from "./binary.js";
import { probeOptions, type EngineConfig } from "./engine-env.js";
import { EngineRequestError, EngineSetupError } from "./engine-errors.js";
import { answersOk, connectionFailure, engineMessage, engineRequest, engineStatusError, readBytes } from "./engine-http.js";
import { extraArgs, filesMatching, requireFile } from "./model-files.js";
import type { EngineAdapter, EngineCall, EngineReply, OneShotContext, ServerPlan, ServerTarget } from "./types.js";

const ENGINE = "whisper-server";
/** Audio ffmpeg already made: never converted twice. */
const converted = new WeakSet<Buffer>();

type AudioCall = Extract<EngineCall, { capability: "transcription" | "translation" }>;

function modelFile(model: ModelRecord, files: CachedModel): string {
  const ggml = filesMatching(files, /^ggml-.*\.bin$/i);
  return requireFile(model, files, ggml.length > 0 ? ggml : filesMatching(files, /\.bin$/i), "ggml-*.bin whisper model");
}

/** One POST /inference; a 400 means the audio could not be read (1.9 answers a bare "Invalid request"). */
async function infer(call: AudioCall, target: ServerTarget, signal: AbortSignal) {
  const { fields, file } = call;
  const form = new FormData();
  form.append("file", new Blob([file.buffer], { type: file.mimetype || "application/octet-stream" }), file.originalname || "audio");
  form.append("response_format", fields.response_format);
  // OpenAI detects the language when none is named; whisper-server's default would be English.
  form.append("language", fields.language ?? "auto");
  form.append("translate", call.capability === "translation" ? "true" : "false");
  if (fields.temperature !== undefined) form.append("temperature", String(fields.temperature));
  if (fields.prompt !== undefined) form.append("prompt", fields.prompt);
  try {
    const res = await engineRequest(target, { method: "POST", path: "/inference", body: form, signal });
    const bytes = await readBytes(res.body);
    return { status: res.statusCode, contentType: String(res.headers["content-type"] ?? "application/json"), bytes };
  } catch (err) {
    throw connectionFailure(err, ENGINE);
  }
}

/**
 * whisper-server puts each segment on its own line; OpenAI's `text` is the segments run together
 * (" Hello.\n How are you?\n" → "Hello. How are you?").
 */
function openAIText(text: string): string {
  return text.split("\n").join("").trim();
}

function reply(call: AudioCall, res: { contentType: string; bytes: Buffer }): EngineReply {
  const format = call.fields.response_format;
  if (format === "json" || format === "verbose_json") {
    let parsed: { error?: unknown; text?: unknown };
    try {
      parsed = JSON.parse(res.bytes.toString("utf8")) as typeof parsed;
    } catch {
      throw new EngineRequestError("engine_error", `${ENGINE} answered ${format} that is not JSON.`);
    }
    // Older builds answer 200 with {"error": "..."} for unreadable audio.
    if (typeof parsed.error === "string" && parsed.text === undefined) {
      if (/audio|wav/i.test(parsed.error)) throw undecodable(`${ENGINE}: ${parsed.error}`);
      throw new EngineRequestError("engine_error", `${ENGINE} failed: ${parsed.error}.`);
    }
    if (typeof parsed.text === "string") parsed.text = openAIText(parsed.text);
    return { kind: "json", status: 200, body: parsed };
  }
  // whisper-server labels plain text as text/html.
  const contentType = format === "text" ? "text/plain; charset=utf-8" : res.contentType;
  return { kind: "bytes", status: 200, contentType, body: res.bytes };
}

function audioCall(call: EngineCall): AudioCall {
  if (call.capability !== "transcription" && call.capability !== "translation") {
    throw new EngineSetupError(`${ENGINE} does not serve ${call.capability}`);
  }
  return call;
}

/** The upload as 16 kHz WAV through ffmpeg (refused, naming the formats that work, without ffmpeg). */
async function viaFfmpeg(call: AudioCall, processes: OneShotContext, signal: AbortSignal): Promise<AudioCall> {
  const buffer = await decodeWithFfmpeg(call.file.buffer, sniffAudio(call.file.buffer), processes, signal);
  converted.add(buffer);
  return { ...call, file: { ...call.file, buffer, size: buffer.length, mimetype: "audio/wav", originalname: "audio.wav" } };
}

/**
 * Before the request queues for the engine: audio whisper-server cannot decode itself (M4A, WebM,
 * Ogg Opus…) is converted to WAV by ffmpeg, or refused when the node has no ffmpeg.
 */
async function prepare(received: EngineCall, processes: OneShotContext, signal: AbortSignal): Promise<EngineCall> {
  const call = audioCall(received);
  return sniffAudio(call.file.buffer).native ? call : viaFfmpeg(call, processes, signal);
}

/** A file whisper-server still turns down gets one more try through ffmpeg, when the node has it. */
async function forward(received: EngineCall, target: ServerTarget, signal: AbortSignal, processes: OneShotContext): Promise<EngineReply> {
  const call = audioCall(received);
  let res = await infer(call, target, signal);
  if (res.status === 400 && processes.ffmpeg && !converted.has(call.file.buffer)) {
    res = await infer(await viaFfmpeg(call, processes, signal), target, signal);
  }
  if (res.status === 400) throw undecodable(`${ENGINE}: ${engineMessage(res.bytes.toString("utf8"))}`);
  if (res.status !== 200) throw engineStatusError(ENGINE, res.status, res.bytes.toString("utf8"));
  return reply(call, res);
}

/** whisper.cpp's `whisper-server` (runtime `whisper`): transcription and translation. */
export function createWhisperAdapter(config: EngineConfig): EngineAdapter {
  const binary = new ProbedBinary(ENGINE, config.OMNIGATE_WHISPER_SERVER_BIN, "OMNIGATE_WHISPER_SERVER_BIN", probeOptions(config));
  return {
    runtime: "whisper",
    probe: () => binary.probe(),
    plan(model, files): ServerPlan {
      const bin = binary.path();
      const file = modelFile(model, files);
      const extra = extraArgs(config.OMNIGATE_WHISPER_ARGS, "OMNIGATE_WHISPER_ARGS", model);
      return {
        kind: "server",
        argv: (port) => [bin, ...extra, "-m", file, "--host", "127.0.0.1", "--port", String(port)],
        // The model loads before the port binds: refused connections until then, then /health 200.
        isReady: (target, signal) => answersOk(target, "/health", signal),
        capacity: async () => 1,
        // whisper-server runs one inference at a time behind a mutex: queue in the agent instead.
        concurrency: 1,
        prepare,
        forward,
      };
    },
  };
}
