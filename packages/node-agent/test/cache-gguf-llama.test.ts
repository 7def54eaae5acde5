import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyLlamaGguf } from "@omnigate/testkit/gguf-writer";
import { freePort } from "../src/supervisor/free-port.js";

/**
 * The GGUF writer's output is a model the real llama.cpp server loads, chats and streams with.
 * Runs whenever OMNIGATE_LLAMA_SERVER_BIN names a llama-server binary.
 */
const bin = process.env.OMNIGATE_LLAMA_SERVER_BIN;

describe.skipIf(!bin)("tiny llama GGUF in the real llama-server", () => {
  let dir: string;
  let child: ChildProcess | undefined;
  let base: string;
  let stderr = "";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "omnigate-llama-"));
    for (const [name, weightType] of [["f32", "f32"], ["f16", "f16"]] as const) {
      await writeTinyLlamaGguf(join(dir, `${name}.gguf`), { seed: 11, weightType });
    }
  });

  async function start(model: string): Promise<void> {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    stderr = "";
    child = spawn(bin!, ["-m", join(dir, model), "--host", "127.0.0.1", "--port", String(port), "-c", "256", "-t", "1"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`llama-server exited ${child.exitCode}: ${stderr}`);
      const ok = await fetch(`${base}/health`).then((r) => r.status === 200, () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`llama-server not healthy in 60 s: ${stderr}`);
  }

  async function stop(): Promise<void> {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    const timer = setTimeout(() => c.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }

  afterAll(async () => {
    await stop();
    await rm(dir, { recursive: true, force: true });
  });

  for (const model of ["f32.gguf", "f16.gguf"]) {
    it(`loads ${model}, answers a chat and streams one`, async () => {
      await start(model);
      try {
        const res = await fetch(`${base}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ messages: [{ role: "user", content: "Hello there" }], max_tokens: 8 }),
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { choices: { message: { content: string } }[]; usage: { completion_tokens: number } };
        expect(body.choices[0]?.message.content).toBeTypeOf("string");
        expect(body.usage.completion_tokens).toBeGreaterThan(0);

        const sse = await fetch(`${base}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ messages: [{ role: "user", content: "Hi" }], max_tokens: 6, stream: true }),
        });
        expect(sse.status).toBe(200);
        const text = await sse.text();
        const events = text.split("\n").filter((l) => l.startsWith("data: "));
        expect(events.length).toBeGreaterThan(2);
        expect(events.at(-1)).toBe("data: [DONE]");
      } finally {
        await stop();
      }
    }, 120_000);
  }
});
