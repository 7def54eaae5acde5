import { FormData } from "undici";
import type { ModelRecord } from "@omnigate/shared/models";
import type { CachedModel } from "../cache/types.js";
import { ProbedBinary } from "./binary.js";
import { probeOptions, type EngineConfig } from "./engine-env.js";
import { EngineRequestError, EngineSetupError } from "./engine-errors.js";
import { answersOk, connectionFailure, engineMessage, engineRequest, engineStatusError, readBytes } from "./engine-http.js";
import { extraArgs, filesMatching, requireFile } from "./model-files.js";
import type { EngineAdapter, EngineCall, EngineReply, ServerPlan, ServerTarget } from "./types.js";

const ENGINE = "whisper-server";

function modelFile(model: ModelRecord, files: CachedModel): string {
  const ggml = filesMatching(files, /^ggml-.*\.bin$/i);
  return requireFile(model, files, ggml.length > 0 ? ggml : filesMatching(files, /\.bin$/i), "ggml-*.bin whisper model");
}

function badAudio(message: string): EngineRequestError {
  return new EngineRequestError(
    "invalid_request",
    `The audio file could not be decoded (${ENGINE}: ${message}); send WAV, FLAC, MP3 or Ogg Vorbis.`,
    "file",
  );
}

async function forward(call: EngineCall, target: ServerTarget, signal: AbortSignal): Promise<EngineReply> {
  if (call.capability !== "transcription" && call.capability !== "translation") {
    throw new EngineSetupError(`${ENGINE} does not serve ${call.capability}`);
  }
  const { fields, file } = call;
  const form = new FormData();
  form.append("file", new Blob([file.buffer], { type: file.mimetype || "application/octet-stream" }), file.originalname || "audio");
  form.append("response_format", fields.response_format);
  // OpenAI detects the language when none is named; whisper-server's default would be English.
  form.append("language", fields.language ?? "auto");
  form.append("translate", call.capability === "translation" ? "true" : "false");
  if (fields.temperature !== undefined) form.append("temperature", String(fields.temperature));
  if (fields.prompt !== undefined) form.append("prompt", fields.prompt);

  let res;
  let bytes: Buffer;
  try {
    res = await engineRequest(target, { method: "POST", path: "/inference", body: form, signal });
    bytes = await readBytes(res.body);
  } catch (err) {
    throw connectionFailure(err, ENGINE);
  }
  const text = bytes.toString("utf8");
  if (res.statusCode !== 200) {
    if (res.statusCode === 400 && /audio|wav/i.test(engineMessage(text))) throw badAudio(engineMessage(text));
    throw engineStatusError(ENGINE, res.statusCode, text);
  }
  const contentType = String(res.headers["content-type"] ?? "application/json");
  if (contentType.includes("json")) {
    // Older builds answer 200 with {"error": "..."} for unreadable audio.
    let parsed: { error?: unknown; text?: unknown } = {};
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      // not JSON after all: passed through as the engine sent it
    }
    if (typeof parsed.error === "string" && parsed.text === undefined) {
      if (/audio|wav/i.test(parsed.error)) throw badAudio(parsed.error);
      throw new EngineRequestError("engine_error", `${ENGINE} failed: ${parsed.error}.`);
    }
    return { kind: "bytes", status: 200, contentType: "application/json", body: bytes };
  }
  // whisper-server labels plain text as text/html.
  const fixed = fields.response_format === "text" ? "text/plain; charset=utf-8" : contentType;
  return { kind: "bytes", status: 200, contentType: fixed, body: bytes };
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
        forward,
      };
    },
  };
}
