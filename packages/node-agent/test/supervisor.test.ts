// The engine supervisor with real processes (the llama-server stand-in and its fault knobs):
// restart with backoff, crash loop → failed, hang → timeout → failed, stop escalating to SIGKILL,
// idle unload that spares a stream and reloads lazily.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EngineReply } from "../src/engines/types.js";
import { EngineModelServer } from "../src/supervisor/engine-model-server.js";
import type { EngineTiming } from "../src/supervisor/types.js";
import { TestScope } from "@omnigate/testkit/scope";
import { waitFor } from "@omnigate/testkit/wait";
import { StateLog, cachedModel, isAlive, modelRecord, standinConfig, standinModelServer, testLogger, toneWav } from "./helpers/engine-harness.js";

const scope = new TestScope();
const servers: EngineModelServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await scope.cleanup();
});

async function llama(knobs: Record<string, string>, timing: Partial<EngineTiming> = {}) {
  const dir = await scope.tempDir();
  const server = standinModelServer(dir, { STANDIN_COUNTER_FILE: join(dir, "starts"), ...knobs }, timing);
  servers.push(server);
  await server.init();
  const files = await cachedModel(dir, { "model.gguf": "GGUF" });
  const model = modelRecord("tiny", "llama_cpp", ["model.gguf"]);
  const log = new StateLog();
  return { server, model, files, log, dir, start: () => server.start(model, files, log.onState) };
}

function pidOf(server: EngineModelServer): number | undefined {
  return server.engines()[0]?.pid;
}

async function chat(server: EngineModelServer, body: Record<string, unknown> = {}): Promise<EngineReply> {
  const opened = server.open("tiny", "chat");
  if (!opened.ok) throw new Error(opened.message);
  try {
    return await opened.lease.call(
      { capability: "chat", body: { model: "tiny", messages: [{ role: "user", content: "hi" }], ...body }, stream: body.stream === true },
      new AbortController().signal,
    );
  } finally {
    if (body.stream !== true) opened.lease.release();
  }
}

describe("engine supervisor", () => {
  it("reports starting → ready, with the engine's slots as capacity", async () => {
    const t = await llama({ STANDIN_LOAD_MS: "300" });
    t.start();
    expect(t.log.names()).toEqual(["starting"]);
    expect(t.server.open("tiny", "chat")).toMatchObject({ ok: false, code: "model_not_ready" });
    await t.log.waitFor("ready");
    expect(t.log.names()).toEqual(["starting", "ready"]);
    expect(t.server.load("tiny")).toEqual({ inFlight: 0, capacity: 4 });
    const [health] = t.server.engines();
    expect(health).toMatchObject({ model: "tiny", runtime: "llama_cpp", up: true, restarts: 0 });
    expect(await isAlive(health!.pid!)).toBe(true);
  });

  it("restarts a crashed engine with exponential backoff: starting at once, then ready again", async () => {
    const t = await llama(
      { STANDIN_CRASH_AFTER_MS: "700", STANDIN_CRASH_TIMES: "2", STANDIN_LOAD_MS: "50" },
      { backoffBaseMs: 400, backoffMaxMs: 5000 },
    );
    t.start();
    await t.log.waitFor("ready", 20_000, 3);
    expect(t.log.names()).toEqual(["starting", "ready", "starting", "ready", "starting", "ready"]);
    const s = t.log.states;
    // death → ready again includes the backoff: ≥ half of 400 ms the first time, ≥ half of 800 ms the second.
    expect(s[3]!.at - s[2]!.at).toBeGreaterThanOrEqual(200);
    expect(s[5]!.at - s[4]!.at).toBeGreaterThanOrEqual(400);
    expect(t.server.engines()[0]).toMatchObject({ restarts: 2, up: true });
    const reply = await chat(t.server);
    expect(reply.kind).toBe("bytes");
  });

  it("turns a crash loop into failed with the engine's last stderr lines", async () => {
    const t = await llama({ STANDIN_EXIT_AT_ONCE: "3" }, { crashLoopRestarts: 3, backoffBaseMs: 50 });
    t.start();
    const failed = await t.log.waitFor("failed");
    expect(t.log.names()).not.toContain("ready");
    expect(failed.state === "failed" && failed.error).toMatch(/crash loop/);
    expect(failed.state === "failed" && failed.error).toMatch(/failed to load model \(STANDIN_EXIT_AT_ONCE/);
    expect(t.server.engines()[0]).toMatchObject({ up: false, restarts: 3 });
    const opened = t.server.open("tiny", "chat");
    expect(opened).toMatchObject({ ok: false, code: "model_not_ready" });
    expect(!opened.ok && opened.message).toMatch(/failed on this node: crash loop/);
  });

  it("fails an engine that never becomes ready within the timeout, and kills it", async () => {
    const t = await llama({ STANDIN_HANG_AT_START: "1", STANDIN_PID_FILE: "" }, { readyTimeoutMs: 800 });
    t.start();
    await waitFor(() => pidOf(t.server) !== undefined, { timeoutMs: 5000, what: "the engine to spawn" });
    const pid = pidOf(t.server)!;
    const failed = await t.log.waitFor("failed");
    expect(failed.state === "failed" && failed.error).toMatch(/did not become ready within 1s/);
    expect(failed.state === "failed" && failed.error).toMatch(/loading model/);
    await waitFor(async () => !(await isAlive(pid)), { timeoutMs: 5000, what: "the hung engine to be gone" });
  });

  it("stops an engine that ignores SIGTERM with SIGKILL, and stop() does not throw", async () => {
    const t = await llama({ STANDIN_IGNORE_SIGTERM: "1" }, { stopTimeoutMs: 600 });
    t.start();
    await t.log.waitFor("ready");
    const pid = pidOf(t.server)!;
    const began = Date.now();
    await t.server.stop("tiny");
    expect(Date.now() - began).toBeGreaterThanOrEqual(550);
    expect(await isAlive(pid)).toBe(false);
    await expect(t.server.stop("tiny")).resolves.toBeUndefined();
    expect(t.server.engines()).toEqual([]);
    expect(t.server.open("tiny", "chat")).toMatchObject({ ok: false, code: "model_not_found" });
  });

  it("close() stops every engine and returns the same promise twice", async () => {
    const t = await llama({});
    t.start();
    const other = modelRecord("tiny-2", "llama_cpp", ["model.gguf"]);
    const log2 = new StateLog();
    t.server.start(other, t.files, log2.onState);
    await t.log.waitFor("ready");
    await log2.waitFor("ready");
    const pids = t.server.engines().map((e) => e.pid!);
    expect(pids).toHaveLength(2);
    const first = t.server.close();
    expect(t.server.close()).toBe(first);
    await first;
    for (const pid of pids) expect(await isAlive(pid)).toBe(false);
  });

  it("unloads an idle engine only after a long stream ends, then reloads it on the next request", async () => {
    const t = await llama({ STANDIN_CHUNKS: "12", STANDIN_CHUNK_INTERVAL_MS: "100" }, { idleUnloadMs: 300 });
    t.start();
    await t.log.waitFor("ready");
    const first = pidOf(t.server)!;
    const opened = t.server.open("tiny", "chat");
    if (!opened.ok) throw new Error(opened.message);
    const reply = await opened.lease.call(
      { capability: "chat", body: { model: "tiny", messages: [{ role: "user", content: "long" }], stream: true }, stream: true },
      new AbortController().signal,
    );
    expect(reply.kind).toBe("sse");
    if (reply.kind !== "sse") return;
    let text = "";
    for await (const chunk of reply.body) {
      text += String(chunk);
      // Well past the idle time, mid-stream: the engine must still be there.
      expect(t.server.load("tiny")!.inFlight).toBe(1);
    }
    expect(text).toContain("data: [DONE]");
    expect(await isAlive(first)).toBe(true);
    opened.lease.release();
    expect(t.server.load("tiny")!.inFlight).toBe(0);
    await waitFor(async () => !(await isAlive(first)), { timeoutMs: 5000, what: "the idle engine to be unloaded" });
    expect(t.server.engines()[0]).toMatchObject({ up: false });
    // Still servable: the gateway keeps routing here, and the next request brings it back.
    expect(t.log.names()).toEqual(["starting", "ready"]);
    const again = await chat(t.server);
    expect(again.kind).toBe("bytes");
    const second = pidOf(t.server)!;
    expect(second).not.toBe(first);
    expect(t.log.names()).toEqual(["starting", "ready"]);
    expect(t.server.engines()[0]).toMatchObject({ up: true, restarts: 0 });
  });

  it("reports failed at once for a model without a usable file or engine", async () => {
    const t = await llama({});
    const log = new StateLog();
    const empty = await cachedModel(t.dir, { "README.md": "no weights" });
    t.server.start(modelRecord("empty", "llama_cpp", ["README.md"]), empty, log.onState);
    const failed = await log.waitFor("failed");
    expect(failed.state === "failed" && failed.error).toMatch(/no first \.gguf file/);

    const noEngine = new EngineModelServer({
      config: standinConfig({ OMNIGATE_WHISPER_SERVER_BIN: "/nonexistent/whisper-server" }),
      stateDir: join(t.dir, "state2"),
      logger: testLogger(),
    });
    servers.push(noEngine);
    await noEngine.init();
    expect(noEngine.supportedRuntimes).not.toContain("whisper");
    expect(noEngine.supportedRuntimes).toContain("llama_cpp");
    const log2 = new StateLog();
    noEngine.start(modelRecord("asr", "whisper", ["ggml-tiny.bin"]), empty, log2.onState);
    const failed2 = await log2.waitFor("failed");
    expect(failed2.state === "failed" && failed2.error).toMatch(/no usable whisper-server on this node: OMNIGATE_WHISPER_SERVER_BIN/);
  });

  it("settles queued and running requests when the model is stopped (none left hanging)", async () => {
    const dir = await scope.tempDir();
    const server = standinModelServer(dir, { STANDIN_RESPONSE_DELAY_MS: "5000" });
    servers.push(server);
    await server.init();
    const log = new StateLog();
    server.start(modelRecord("asr", "whisper", ["ggml-tiny.bin"]), await cachedModel(dir, { "ggml-tiny.bin": "ggml" }), log.onState);
    await log.waitFor("ready");
    const file = { fieldname: "file", originalname: "a.wav", mimetype: "audio/wav", size: 0, buffer: toneWav(1) };
    // whisper-server runs one request at a time: the second waits in the agent's queue.
    const leases = [server.open("asr", "transcription"), server.open("asr", "transcription")];
    const calls = leases.map((opened) => {
      if (!opened.ok) throw new Error(opened.message);
      return opened.lease
        .call({ capability: "transcription", fields: { model: "asr", response_format: "json" }, file }, new AbortController().signal)
        .then(() => "answered", (err: unknown) => (err as { code?: string }).code ?? String(err))
        .finally(() => opened.lease.release());
    });
    expect(server.load("asr")!.inFlight).toBe(2);
    await new Promise((r) => setTimeout(r, 300));
    const began = Date.now();
    await server.stop("asr");
    const outcomes = await Promise.all(calls);
    expect(Date.now() - began).toBeLessThan(4000);
    expect(outcomes[1]).toBe("model_not_ready");
    expect(outcomes[0]).not.toBe("answered");
  });

  it("replaces a model's engine when started again, never running two at once", async () => {
    const t = await llama({});
    t.start();
    await t.log.waitFor("ready");
    const old = pidOf(t.server)!;
    const log2 = new StateLog();
    t.server.start(t.model, t.files, log2.onState);
    await log2.waitFor("ready");
    expect(await isAlive(old)).toBe(false);
    expect(pidOf(t.server)).not.toBe(old);
    expect(t.server.engines()).toHaveLength(1);
  });
});
