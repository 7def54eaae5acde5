/**
 * omnigate's TTS engine for the `onnx_runtime` runtime: one process per voice, started and supervised
 * by the agent like llama-server. It loads the voice once with sherpa-onnx-node (sherpa-onnx's C API
 * and onnxruntime, from the npm platform package) and then synthesizes each request over HTTP on
 * 127.0.0.1 (protocol.ts), instead of sherpa-onnx-offline-tts's process and model load per request.
 *
 *   node dist/tts-engine/main.js --vits-model=… --vits-tokens=… [--vits-data-dir=…] --port=N
 *   node dist/tts-engine/main.js --version     (the agent's start-up probe: does sherpa-onnx load here?)
 *
 * Exit codes: 0 on SIGTERM/SIGINT, 1 when the voice does not load, 2 on bad arguments. sherpa-onnx
 * itself exits (255) on some malformed voices, with its reason on stderr.
 */
import { performance } from "node:perf_hooks";
import { parseEngineArgs, USAGE, UsageError, type EngineArgs } from "./engine-args.js";
import { loadSherpa, type Sherpa } from "./sherpa.js";
import { createTtsServer } from "./tts-http.js";

function fail(code: number, message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function sherpaOrExit(): Sherpa {
  try {
    return loadSherpa();
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).trim().split("\n")[0];
    return fail(1, `sherpa-onnx-node does not load on this machine (${process.platform}-${process.arch}): ${first}`);
  }
}

function argsOrExit(): EngineArgs {
  try {
    return parseEngineArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) fail(2, `${err.message}\n${USAGE}`);
    throw err;
  }
}

async function main(): Promise<void> {
  const args = argsOrExit();
  if (args.mode === "help") {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const sherpa = sherpaOrExit();
  const version = `sherpa-onnx ${sherpa.version} (onnxruntime ${sherpa.onnxruntimeVersion})`;
  if (args.mode === "version") {
    process.stdout.write(`${version}\n`);
    return;
  }

  const started = performance.now();
  const tts = await sherpa.OfflineTts.createAsync(args.config).catch((err: unknown) =>
    fail(1, `could not load the voice: ${err instanceof Error ? err.message : String(err)} (sherpa-onnx's reason, if any, is above)`),
  );
  process.stdout.write(`${version}: voice loaded in ${Math.round(performance.now() - started)} ms, ${tts.sampleRate} Hz, ${tts.numSpeakers} speaker(s)\n`);

  const server = createTtsServer(tts, sherpa.version);
  server.once("error", (err) => fail(1, `cannot listen on ${args.host}:${args.port}: ${err.message}`));
  server.listen(args.port, args.host, () => process.stdout.write(`listening on http://${args.host}:${args.port}\n`));

  const stop = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

await main();
