import { fileURLToPath } from "node:url";
import type { ModelRecord } from "@omnigate/shared/models";
import { TTS_ENGINE_PATHS, type SynthesizeRequest } from "../tts-engine/protocol.js";
import { EngineRequestError } from "./engine-errors.js";
import { answersOk, connectionFailure, engineRequest, engineStatusError, readBytes } from "./engine-http.js";
import { requireEncodable, speechReply } from "./onnx-tts-audio.js";
import { speakerId } from "./onnx-tts-voice.js";
import type { EngineCall, EngineReply, OneShotContext, ServerPlan, ServerTarget } from "./types.js";

const ENGINE = "the TTS engine (sherpa-onnx-node)";

/**
 * The engine program, as built. Resolved from this file's folder, which is src/engines in tests and
 * dist/engines when the agent runs: both are two levels below the package, and only dist has it.
 */
export const TTS_ENGINE_ENTRY = fileURLToPath(new URL("../../dist/tts-engine/main.js", import.meta.url));

async function synthesize(model: ModelRecord, call: EngineCall, target: ServerTarget, signal: AbortSignal, context: OneShotContext): Promise<EngineReply> {
  if (call.capability !== "speech") throw new EngineRequestError("invalid_request", `${ENGINE} does not serve ${call.capability}.`);
  const { body } = call;
  requireEncodable(body.response_format, context);
  const request: SynthesizeRequest = { text: body.input, sid: speakerId(model, body.voice), speed: body.speed };
  let res;
  let wav: Buffer;
  try {
    res = await engineRequest(target, {
      method: "POST",
      path: TTS_ENGINE_PATHS.synthesize,
      body: JSON.stringify(request),
      headers: { "content-type": "application/json" },
      signal,
    });
    wav = await readBytes(res.body);
  } catch (err) {
    throw connectionFailure(err, ENGINE);
  }
  if (res.statusCode !== 200) throw engineStatusError(ENGINE, res.statusCode, wav.toString("utf8"));
  return speechReply(wav, body.response_format, ENGINE, context, signal);
}

/**
 * A voice served by the built-in engine (src/tts-engine): one process that loads the voice once,
 * then synthesizes each request. `engine` is the node binary and the engine program; `args` the
 * voice flags and the configured extra arguments.
 */
export function ttsServerPlan(model: ModelRecord, engine: readonly string[], args: readonly string[]): ServerPlan {
  return {
    kind: "server",
    name: "tts-engine",
    // Ours come last so configured args can never move the engine off 127.0.0.1.
    argv: (port) => [...engine, ...args, "--host=127.0.0.1", `--port=${port}`],
    // The voice loads before the port opens: refused until then, then /health 200.
    isReady: (target, signal) => answersOk(target, TTS_ENGINE_PATHS.health, signal),
    capacity: async () => 1,
    // The engine synthesizes one request at a time: queue in the agent, where the load is counted.
    concurrency: 1,
    forward: (call, target, signal, context) => synthesize(model, call, target, signal, context),
  };
}
