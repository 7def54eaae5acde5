// The real llama.cpp engine end to end: a real `llama-server` (OMNIGATE_LLAMA_SERVER_BIN; CI builds
// one with tools/build-llama-server.sh) serving a tiny random-weight GGUF written by the test,
// supervised by the model server and reached through the agent's OpenAI routes over HTTP.
// Start, health wait, chat, completion, streaming, client abort, crash and restart.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyLlamaGguf } from "@omnigate/testkit/gguf-writer";
import { EngineModelServer } from "../src/supervisor/engine-model-server.js";
import { TestScope } from "@omnigate/testkit/scope";
import { waitFor } from "@omnigate/testkit/wait";
import { AGENT_AUTH, FAST, StateLog, cachedModel, captureLogger, isAlive, modelRecord, standinConfig, startApp } from "./helpers/engine-harness.js";

const bin = process.env.OMNIGATE_LLAMA_SERVER_BIN;

describe.skipIf(!bin)("real llama-server through the agent", () => {
  const scope = new TestScope();
  let server: EngineModelServer;
  let app: { url: string; close: () => Promise<void> };
  let log: StateLog;
  const captured = captureLogger();
  const messages = [{ role: "user", content: "Tell me a story." }];
  const post = (path: string, body: unknown, init: RequestInit = {}) =>
    fetch(`${app.url}${path}`, { method: "POST", headers: { ...AGENT_AUTH, "content-type": "application/json" }, body: JSON.stringify(body), ...init });

  beforeAll(async () => {
    const dir = await scope.tempDir();
    const files = await cachedModel(dir, { "tiny-llama.gguf": Buffer.alloc(0) });
    await writeTinyLlamaGguf(join(files.snapshotDir, "tiny-llama.gguf"));
    server = new EngineModelServer({
      // One slot, and context shift so a generation without max_tokens never ends: the abort test
      // then proves the engine itself let go of the aborted request.
      config: standinConfig({ OMNIGATE_LLAMA_SERVER_BIN: bin!, OMNIGATE_LLAMA_ARGS: "-np 1 -c 512 --context-shift" }),
      stateDir: join(dir, "state"),
      logger: captured.logger,
      timing: { ...FAST, readyTimeoutMs: 120_000 },
    });
    await server.init();
    log = new StateLog();
    server.start(modelRecord("tiny-llama", "llama_cpp", [...files.files]), files, log.onState);
    app = await startApp(server);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await server?.close();
    await scope.cleanup();
  });

  it("starts the engine and waits for /health before reporting ready", async () => {
    expect(server.supportedRuntimes).toContain("llama_cpp");
    await log.waitFor("ready", 120_000);
    expect(log.names()).toEqual(["starting", "ready"]);
    expect(server.load("tiny-llama")).toEqual({ inFlight: 0, capacity: 1 });
  }, 130_000);

  it("answers a chat completion", async () => {
    const res = await post("/v1/chat/completions", { model: "tiny-llama", messages, max_tokens: 8 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { model: string; object: string; choices: { message: { role: string; content: string } }[]; usage: { completion_tokens: number } };
    expect(body.object).toBe("chat.completion");
    expect(body.model).toBe("tiny-llama");
    expect(body.choices[0]!.message.role).toBe("assistant");
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
  });

  it("answers a text completion", async () => {
    const res = await post("/v1/completions", { model: "tiny-llama", prompt: "Once upon a time", max_tokens: 6 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; choices: { text: string }[] };
    expect(body.object).toBe("text_completion");
    expect(typeof body.choices[0]!.text).toBe("string");
  });

  it("streams chunks through to [DONE]", async () => {
    const res = await post("/v1/chat/completions", { model: "tiny-llama", messages, max_tokens: 8, stream: true });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = (await res.text()).split("\n\n").filter((e) => e.startsWith("data: "));
    expect(events.at(-1)).toBe("data: [DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as { object: string });
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    await waitFor(() => server.load("tiny-llama")!.inFlight === 0, { timeoutMs: 2000, what: "the lease to be released" });
  });

  it("aborts the engine request when the client goes away mid-stream", async () => {
    const controller = new AbortController();
    // Endless (no token limit, EOS ignored, context shifted): only the abort can end it.
    const res = await post("/v1/completions", { model: "tiny-llama", prompt: "a", max_tokens: -1, ignore_eos: true, stream: true }, { signal: controller.signal });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value ?? []).toString("utf8"), "the first bytes of a stream").toMatch(/^data: /);
    expect(server.load("tiny-llama")!.inFlight).toBe(1);
    controller.abort();
    await waitFor(() => server.load("tiny-llama")!.inFlight === 0, { timeoutMs: 10_000, what: "the lease to be released" });
    // llama-server itself logs the cancellation of the task whose client went away.
    await waitFor(() => captured.messages().some((m) => /cancel task/.test(m)), { timeoutMs: 10_000, what: "llama-server to cancel the task" });
    const next = await post("/v1/completions", { model: "tiny-llama", prompt: "b", max_tokens: 2 }, { signal: AbortSignal.timeout(20_000) });
    expect(next.status).toBe(200);
  }, 40_000);

  it("restarts the engine after it crashes and serves again", async () => {
    const pid = server.engines()[0]!.pid!;
    process.kill(pid, "SIGKILL");
    await log.waitFor("starting", 10_000, 2);
    const during = await post("/v1/chat/completions", { model: "tiny-llama", messages, max_tokens: 2 });
    expect([200, 503]).toContain(during.status);
    await log.waitFor("ready", 120_000, 2);
    expect(log.names()).toEqual(["starting", "ready", "starting", "ready"]);
    expect(await isAlive(pid)).toBe(false);
    expect(server.engines()[0]).toMatchObject({ up: true, restarts: 1 });
    expect(server.engines()[0]!.pid).not.toBe(pid);
    const res = await post("/v1/chat/completions", { model: "tiny-llama", messages, max_tokens: 4 });
    expect(res.status).toBe(200);
  }, 130_000);
});
