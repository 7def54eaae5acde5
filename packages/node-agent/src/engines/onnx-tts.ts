import { findAndProbe, probeBinary } from "./binary.js";
import { buildEngineEnv } from "./child-env.js";
import { probeOptions, type EngineConfig } from "./engine-env.js";
import { EngineSetupError } from "./engine-errors.js";
import { extraArgs } from "./model-files.js";
import { ttsCliPlan } from "./onnx-tts-cli.js";
import { TTS_ENGINE_ENTRY, ttsServerPlan } from "./onnx-tts-server.js";
import { voiceArgs } from "./onnx-tts-voice.js";
import type { EngineAdapter, ProbeResult } from "./types.js";

const CLI = "sherpa-onnx-offline-tts";

/**
 * Whether the built-in engine runs here: `node <engine> --version` loads sherpa-onnx-node and its
 * platform package's native libraries, in a child with the engines' environment, as a voice will.
 */
function probeBuiltIn(config: EngineConfig): Promise<ProbeResult> {
  const { timeoutMs, envPass } = probeOptions(config);
  return probeBinary(process.execPath, [TTS_ENGINE_ENTRY, "--version"], timeoutMs, buildEngineEnv(envPass));
}

/**
 * sherpa-onnx text-to-speech (runtime `onnx_runtime`). By default the built-in engine: one process
 * per voice over sherpa-onnx-node, which `pnpm install` brings. With OMNIGATE_TTS_BIN set, that
 * sherpa-onnx-offline-tts instead, one process per request; and it on PATH when sherpa-onnx-node
 * does not load on this machine.
 */
export function createOnnxTtsAdapter(config: EngineConfig): EngineAdapter {
  let found: { kind: "engine" } | { kind: "cli"; binary: string } | undefined;
  const options = probeOptions(config);
  return {
    runtime: "onnx_runtime",
    async probe() {
      found = undefined;
      if (config.OMNIGATE_TTS_BIN?.trim()) {
        const cli = await findAndProbe(config.OMNIGATE_TTS_BIN, [CLI], "OMNIGATE_TTS_BIN", options);
        if (cli.ok) found = { kind: "cli", binary: cli.binary };
        return cli;
      }
      const builtIn = await probeBuiltIn(config);
      if (builtIn.ok) {
        found = { kind: "engine" };
        return { ok: true, binary: TTS_ENGINE_ENTRY, detail: builtIn.detail };
      }
      const cli = await findAndProbe(undefined, [CLI], "OMNIGATE_TTS_BIN", options);
      if (cli.ok) {
        found = { kind: "cli", binary: cli.binary };
        return { ...cli, detail: `${CLI} fallback (the built-in engine: ${builtIn.reason})` };
      }
      return { ok: false, reason: `the built-in engine: ${builtIn.reason}; ${cli.reason}` };
    },
    plan(model, files) {
      if (!found) throw new EngineSetupError(`neither the built-in TTS engine nor ${CLI} runs on this node`);
      const args = [...voiceArgs(model, files), ...extraArgs(config.OMNIGATE_TTS_ARGS, "OMNIGATE_TTS_ARGS", model)];
      if (found.kind === "cli") return ttsCliPlan(model, [found.binary, ...args], config.OMNIGATE_ONESHOT_CONCURRENCY);
      return ttsServerPlan(model, [process.execPath, TTS_ENGINE_ENTRY], args);
    },
  };
}
