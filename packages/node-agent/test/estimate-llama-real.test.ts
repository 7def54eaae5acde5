// The memory estimate against the real llama.cpp (OMNIGATE_LLAMA_SERVER_BIN; CI builds one with
// tools/build-llama-server.sh): GGUFs of several shapes written by the test — layer counts,
// widths, head counts with and without grouped-query attention, context sizes — are started with
// the exact argv the agent's llama_cpp adapter builds (its default context included), and the
// gateway's estimate for the same file and arguments must land within 10% of what llama-server
// logs: model buffer + KV cache + compute buffers.
import { spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { splitArgs } from "@omnigate/shared/argv";
import { parseGgufHeader } from "@omnigate/shared/gguf";
import { estimateBytes, ggufMemoryProfile, llamaSettingsFromArgs } from "@omnigate/shared/memory-estimate";
import { buildLlamaGguf, TINY_LLAMA_SHAPE, type LlamaShape } from "@omnigate/testkit/gguf-writer";
import { TestScope } from "@omnigate/testkit/scope";
import { loadEngineConfig } from "../src/engines/engine-env.js";
import { createLlamaCppAdapter } from "../src/engines/llama-cpp.js";
import { freePort } from "../src/supervisor/free-port.js";
import { cachedModel, modelRecord } from "./helpers/engine-harness.js";

const bin = process.env.OMNIGATE_LLAMA_SERVER_BIN;
const MIB = 1024 * 1024;

// This box's CPU repacks weights into a second buffer (AMX / CPU_REPACK) while the file stays
// mapped, so the log would show each weight twice; on a GPU node the weights sit in one device
// buffer. Repacking is turned off so every weight byte is logged once. `-lv 4` prints the buffers.
const NODE_ARGS = "--no-repack -lv 4";

const SHAPES: Array<{ what: string; shape: LlamaShape; engineArgs: string[] }> = [
  { what: "the tiny model at the agent's default context", shape: TINY_LLAMA_SHAPE, engineArgs: [] },
  { what: "4 layers, 256 wide, 8 heads, default context", shape: { embd: 256, ff: 768, layers: 4, heads: 8, headsKv: 8, vocab: 2000, contextLength: 2048 }, engineArgs: [] },
  { what: "6 layers, 512 wide, GQA 8/2, -c 2048", shape: { embd: 512, ff: 1536, layers: 6, heads: 8, headsKv: 2, vocab: 3000, contextLength: 2048 }, engineArgs: ["-c", "2048"] },
  { what: "6 layers, 384 wide, GQA 6/2, -c 8192", shape: { embd: 384, ff: 1408, layers: 6, heads: 6, headsKv: 2, vocab: 3000, contextLength: 8192 }, engineArgs: ["-c", "8192"] },
  { what: "16 layers, 128 wide, GQA 4/1, --ctx-size 16384", shape: { embd: 128, ff: 512, layers: 16, heads: 4, headsKv: 1, vocab: 1000, contextLength: 16384 }, engineArgs: ["--ctx-size", "16384"] },
];

/** Starts the argv, returns the MiB llama-server logs for model, KV cache and compute buffers. */
function loggedBuffers(argv: string[]): Promise<{ model: number; kv: number; compute: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`llama-server did not finish loading within 60 s:\n${out.slice(-2000)}`));
    }, 60_000);
    const sum = (re: RegExp) => [...out.matchAll(re)].reduce((s, m) => s + Number(m[1]), 0);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (!/compute buffer size/.test(out) || !/model loaded|listening on/.test(out)) return;
      clearTimeout(timer);
      child.kill("SIGKILL");
      resolve({
        model: sum(/model buffer size\s*=\s*([\d.]+) MiB/g),
        kv: sum(/KV buffer size\s*=\s*([\d.]+) MiB/g),
        compute: sum(/compute buffer size\s*=\s*([\d.]+) MiB/g),
      });
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (!/compute buffer size/.test(out)) reject(new Error(`llama-server exited ${code}:\n${out.slice(-2000)}`));
    });
  });
}

describe.skipIf(!bin)("the memory estimate against the real llama-server", () => {
  const scope = new TestScope();
  afterAll(() => scope.cleanup());

  it.each(SHAPES)("is within 10% for $what", async ({ shape, engineArgs }) => {
    const gguf = buildLlamaGguf(shape, { weightType: "f16" });
    const files = await cachedModel(await scope.tempDir(), { "model.gguf": gguf });

    // The argv exactly as the agent builds it: node args, the model's engine_args, the default -c.
    const adapter = createLlamaCppAdapter(loadEngineConfig({ OMNIGATE_LLAMA_SERVER_BIN: bin!, OMNIGATE_LLAMA_ARGS: NODE_ARGS }));
    expect((await adapter.probe()).ok).toBe(true);
    const model = modelRecord("shape", "llama_cpp", [...files.files], { engine_args: engineArgs });
    const plan = adapter.plan(model, files);
    if (plan.kind !== "server") throw new Error("llama_cpp runs a server");
    const real = await loggedBuffers(plan.argv(await freePort()));

    // The estimate as the gateway makes it: the header alone, the node's settings, then the model's.
    const header = await parseGgufHeader({ size: gguf.length, read: async (buf, off, len, pos) => gguf.copy(buf, off, pos, Math.min(gguf.length, pos + len)) });
    const settings = llamaSettingsFromArgs(engineArgs, llamaSettingsFromArgs(splitArgs(NODE_ARGS)));
    const estimate = estimateBytes(ggufMemoryProfile([header]), settings) / MIB;
    const logged = real.model + real.kv + real.compute;
    expect(real.model).toBeGreaterThan(0);
    expect(Math.abs(estimate - logged) / logged, `estimate ${estimate.toFixed(2)} MiB, llama-server ${logged.toFixed(2)} MiB (${JSON.stringify(real)})`).toBeLessThanOrEqual(0.1);
  }, 120_000);
});
