// The stand-ins themselves speak the engines' protocols (docs/engines.md): what other suites (and the
// gateway's end-to-end tests and benchmarks) rely on when they use them in place of the real engines.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TestScope } from "@omnigate/testkit/scope";
import { standin } from "@omnigate/testkit/stand-ins";
import type { TestProcess } from "@omnigate/testkit/test-process";
import { freePort } from "../src/supervisor/free-port.js";

const scope = new TestScope();
afterEach(() => scope.cleanup());

/** Runs a stand-in as its executable, as the agent does. */
function run(bin: string, args: string[], env: Record<string, string> = {}): TestProcess {
  return scope.spawn(bin, { name: bin, args, env, direct: true });
}

async function status(url: string): Promise<number | "refused"> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return "refused";
  }
}

/** Polls `url` until `until` is seen; returns every distinct answer in order. */
async function watch(url: string, until: number, timeoutMs = 10_000): Promise<(number | "refused")[]> {
  const seen: (number | "refused")[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const s = await status(url);
    if (seen.at(-1) !== s) seen.push(s);
    if (s === until) return seen;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never saw ${until} at ${url} (saw ${seen.join(", ")})`);
}

describe("engine stand-ins", () => {
  it("llama-server: port open while loading, /health 503 'Loading model', then 200", async () => {
    const dir = await scope.tempDir();
    await writeFile(join(dir, "m.gguf"), "GGUF");
    const port = await freePort();
    run(standin("llama-server"), ["-m", join(dir, "m.gguf"), "--host", "127.0.0.1", "--port", String(port)], { STANDIN_LOAD_MS: "1500" });
    const seen = await watch(`http://127.0.0.1:${port}/health`, 200);
    expect(seen.filter((s) => s !== "refused")).toEqual([503, 200]);
    const props = (await (await fetch(`http://127.0.0.1:${port}/props`)).json()) as { total_slots: number };
    expect(props.total_slots).toBe(4);
  });

  it("whisper-server: connection refused until the model is loaded, then /health 200", async () => {
    const dir = await scope.tempDir();
    await writeFile(join(dir, "ggml-tiny.bin"), "ggml");
    const port = await freePort();
    run(standin("whisper-server"), ["-m", join(dir, "ggml-tiny.bin"), "--host", "127.0.0.1", "--port", String(port)], { STANDIN_LOAD_MS: "1000" });
    expect(await watch(`http://127.0.0.1:${port}/health`, 200)).toEqual(["refused", 200]);
  });

  it("sd-server: no /health; /v1/models answers once loaded", async () => {
    const dir = await scope.tempDir();
    await writeFile(join(dir, "sd.safetensors"), "st");
    const port = await freePort();
    run(standin("sd-server"), ["-m", join(dir, "sd.safetensors"), "-l", "127.0.0.1", "--listen-port", String(port)]);
    await watch(`http://127.0.0.1:${port}/v1/models`, 200);
    expect(await status(`http://127.0.0.1:${port}/health`)).toBe(404);
  });

  it("refuse unknown flags and missing model files like the real binaries", async () => {
    const dir = await scope.tempDir();
    await writeFile(join(dir, "m.gguf"), "GGUF");
    const bogus = run(standin("llama-server"), ["-m", join(dir, "m.gguf"), "--port", "1", "--no-such-flag"]);
    expect((await bogus.exited).code).toBe(1);
    expect((await bogus.result()).stderr + bogus.stdout).toContain("invalid argument: --no-such-flag");
    const missing = run(standin("whisper-server"), ["-m", join(dir, "nope.bin"), "--port", "1"]);
    expect((await missing.exited).code).not.toBe(0);
    const tts = run(standin("sherpa-onnx-offline-tts"), [`--vits-model=${join(dir, "m.gguf")}`, `--vits-tokens=${join(dir, "m.gguf")}`, "two", "texts"]);
    expect((await tts.result()).code).toBe(1);
    expect(tts.stdout + tts.stderr).toMatch(/exactly one positional argument/);
    const sherpaStyle = run(standin("sherpa-onnx-offline-tts"), ["--vits-model", join(dir, "m.gguf"), "text"]);
    expect((await sherpaStyle.result()).code).toBe(1);
    expect(sherpaStyle.stdout + sherpaStyle.stderr).toMatch(/option format is --x=y/);
  });
});
