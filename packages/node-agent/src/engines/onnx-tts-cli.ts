import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ModelRecord } from "@omnigate/shared/models";
import { EngineRequestError } from "./engine-errors.js";
import { requireEncodable, speechReply } from "./onnx-tts-audio.js";
import type { EngineCall, EngineReply, OneShotContext, OneShotPlan } from "./types.js";
import { speakerId } from "./onnx-tts-voice.js";

const ENGINE = "sherpa-onnx-offline-tts";

/**
 * OpenAI `speed` → sherpa's length scale (1/speed: larger is slower), per model family. Left out at
 * 1.0, so builds without the flag still speak at the default speed.
 */
function speedArgs(base: readonly string[], speed: number): string[] {
  if (speed === 1) return [];
  const family = base.some((a) => a.startsWith("--kokoro-model=")) ? "kokoro" : "vits";
  return [`--${family}-length-scale=${Math.round((1 / speed) * 1000) / 1000}`];
}

async function speak(model: ModelRecord, base: readonly string[], call: EngineCall, context: OneShotContext, signal: AbortSignal): Promise<EngineReply> {
  if (call.capability !== "speech") throw new EngineRequestError("invalid_request", `${ENGINE} does not serve ${call.capability}.`);
  const { body } = call;
  requireEncodable(body.response_format, context);
  const sid = speakerId(model, body.voice);
  const tmp = await context.tempDir();
  let wav: Buffer;
  try {
    const wavPath = join(tmp.path, "out.wav");
    // The text is one argv element after "--": never parsed as a flag, never seen by a shell.
    const argv = [...base, `--sid=${sid}`, ...speedArgs(base, body.speed), `--output-filename=${wavPath}`, "--", body.input];
    const result = await context.run(argv, { cwd: tmp.path, signal });
    if (result.code !== 0) {
      throw new EngineRequestError("engine_error", `${ENGINE} exited with ${result.signal ?? result.code}: ${result.tail || "(no output)"}`);
    }
    try {
      wav = await readFile(wavPath);
    } catch {
      throw new EngineRequestError("engine_error", `${ENGINE} finished but wrote no audio: ${result.tail}`);
    }
  } finally {
    await tmp.cleanup();
  }
  return speechReply(wav, body.response_format, ENGINE, context, signal);
}

/**
 * sherpa-onnx's `sherpa-onnx-offline-tts`, one process per request: it loads the voice for every
 * request. Used when OMNIGATE_TTS_BIN names it, or when sherpa-onnx-node does not load here.
 * `base` is the binary, the voice flags and the configured extra arguments.
 */
export function ttsCliPlan(model: ModelRecord, base: readonly string[], concurrency: number): OneShotPlan {
  return { kind: "oneshot", concurrency, run: (call, context, signal) => speak(model, base, call, context, signal) };
}
