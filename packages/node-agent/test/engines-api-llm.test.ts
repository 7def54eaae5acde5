// The agent's OpenAI data plane end to end over real HTTP, llama.cpp side: the router in an app on
// port 0, the model server, and the llama-server stand-in as the engine process.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TestScope } from "@omnigate/testkit/scope";
import { waitFor } from "@omnigate/testkit/wait";
import { AGENT_AUTH, StateLog, captureLogger, cachedModel, modelRecord, standinModelServer, startApp, testLogger } from "./helpers/engine-harness.js";

const scope = new TestScope();
const cleanups: (() => Promise<void>)[] = [];

/** A model server with the llama stand-in under `knobs`, its models ready, and an app in front. */
async function agent(
  knobs: Record<string, string>,
  models: { name: string; args?: string[] }[],
  limits?: { maxUploadBytes: number; maxBodyBytes: number },
  appLogger = testLogger(),
) {
  const dir = await scope.tempDir();
  const server = standinModelServer(dir, knobs);
  await server.init();
  const files = await cachedModel(dir, { "model.gguf": "GGUF" });
  const logs = models.map(({ name, args }) => {
    const log = new StateLog();
    server.start(modelRecord(name, "llama_cpp", ["model.gguf"], args ? { engine_args: args } : {}), files, log.onState);
    return log;
  });
  await Promise.all(logs.map((l) => l.waitFor("ready")));
  const app = await startApp(server, limits, appLogger);
  cleanups.push(async () => {
    await app.close();
    await server.close();
  });
  return { server, url: app.url, logs };
}

function post(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { method: "POST", ...init, headers: { ...AGENT_AUTH, "content-type": "application/json", ...init.headers }, body: JSON.stringify(body) });
}

const messages = [{ role: "user", content: "hello there" }];

afterAll(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
  await scope.cleanup();
});

describe("agent data plane: llama.cpp", () => {
  let a: Awaited<ReturnType<typeof agent>>;
  beforeAll(async () => {
    a = await agent({ STANDIN_CHUNKS: "6", STANDIN_CHUNK_INTERVAL_MS: "40" }, [{ name: "chat-model" }, { name: "embed-model", args: ["--embeddings"] }]);
  });
  afterEach(async () => {
    // In-flight counting is exact: whatever the outcome, nothing stays counted (the lease ends on
    // the response's 'close', a moment after the client has read the last byte).
    await waitFor(() => a.server.load("chat-model")!.inFlight === 0, { timeoutMs: 2000, what: "chat-model's leases to be released" });
  });

  it("answers a chat completion through the engine", async () => {
    const res = await post(`${a.url}/v1/chat/completions`, { model: "chat-model", messages });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; model: string; choices: { message: { content: string } }[] };
    expect(body.object).toBe("chat.completion");
    expect(body.model).toBe("chat-model");
    expect(body.choices[0]!.message.content.split(" ")).toHaveLength(6);
  });

  it("streams SSE through chunk by chunk, `: ping` comments included, up to [DONE]", async () => {
    const res = await post(`${a.url}/v1/chat/completions`, { model: "chat-model", messages, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const reads: string[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      reads.push(Buffer.from(value).toString("utf8"));
    }
    const text = reads.join("");
    // Unbuffered: the engine's 40 ms-apart chunks arrive as separate reads, not one blob at the end.
    expect(reads.length).toBeGreaterThanOrEqual(5);
    expect(text).toContain(": ping\n\n");
    const events = text.split("\n\n").filter((e) => e.startsWith("data: "));
    expect(events.at(-1)).toBe("data: [DONE]");
    const content = events
      .slice(0, -1)
      .map((e) => JSON.parse(e.slice(6)) as { choices: { delta: { content?: string | null } }[] })
      .map((c) => c.choices[0]!.delta.content ?? "")
      .join("");
    expect(content.trim().split(" ")).toHaveLength(6);
  });

  it("answers text completions, streamed or not", async () => {
    const res = await post(`${a.url}/v1/completions`, { model: "chat-model", prompt: "once upon", max_tokens: 3 });
    const body = (await res.json()) as { choices: { text: string; finish_reason: string }[] };
    expect(body.choices[0]!.text.split(" ")).toHaveLength(3);
    expect(body.choices[0]!.finish_reason).toBe("length");
    const streamed = await (await post(`${a.url}/v1/completions`, { model: "chat-model", prompt: "x", stream: true })).text();
    expect(streamed.trim().endsWith("data: [DONE]")).toBe(true);
  });

  it("serves embeddings from a model started with --embeddings, and says how to get them otherwise", async () => {
    const ok = await post(`${a.url}/v1/embeddings`, { model: "embed-model", input: ["a", "b"] });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { data: { embedding: number[]; index: number }[] };
    expect(body.data.map((d) => d.index)).toEqual([0, 1]);
    expect(body.data[0]!.embedding).toHaveLength(8);
    const refused = await post(`${a.url}/v1/embeddings`, { model: "chat-model", input: "a" });
    expect(refused.status).toBe(400);
    const err = (await refused.json()) as { error: { code: string; message: string } };
    expect(err.error.code).toBe("invalid_request");
    expect(err.error.message).toMatch(/engine_args \["--embeddings"\]/);
  });

  it("rejects bad requests with OpenAI errors naming the problem", async () => {
    const missing = await post(`${a.url}/v1/chat/completions`, { model: "chat-model" });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { param: string } }).error.param).toBe("messages");
    const badJson = await fetch(`${a.url}/v1/chat/completions`, { method: "POST", headers: { ...AGENT_AUTH, "content-type": "application/json" }, body: "{nope" });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { error: { code: string } }).error.code).toBe("invalid_json");
    const unknown = await post(`${a.url}/v1/chat/completions`, { model: "nobody", messages });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("model_not_found");
    const wrongCap = await post(`${a.url}/v1/audio/speech`, { model: "chat-model", input: "hi", response_format: "wav" });
    expect(wrongCap.status).toBe(404);
    const err = (await wrongCap.json()) as { error: { code: string; message: string } };
    expect(err.error).toMatchObject({ code: "model_capability_unsupported", message: "Model 'chat-model' does not support text-to-speech." });
  });

  it("aborts the engine request when the client goes away mid-stream", async () => {
    // 3 s between chunks: the agent must abort the engine request itself, not wait for the next chunk.
    const long = await agent({ STANDIN_CHUNKS: "20", STANDIN_CHUNK_INTERVAL_MS: "3000" }, [{ name: "one-slot", args: ["-np", "1"] }]);
    const controller = new AbortController();
    const res = await post(`${long.url}/v1/chat/completions`, { model: "one-slot", messages, stream: true }, { signal: controller.signal });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value ?? []).toString("utf8"), "the first bytes of a stream").toMatch(/^data: /);
    expect(long.server.load("one-slot")!.inFlight).toBe(1);
    controller.abort();
    await waitFor(() => long.server.load("one-slot")!.inFlight === 0, { timeoutMs: 5000, what: "the lease to be released" });
    // The engine has one slot and the stream would hold it for a minute: an answer well before the
    // next chunk is due proves the engine saw the abort and freed the slot.
    const next = await post(`${long.url}/v1/chat/completions`, { model: "one-slot", messages, max_tokens: 2 }, { signal: AbortSignal.timeout(2000) });
    expect(next.status).toBe(200);
  });

  it("holds the engine back while the client does not read, and delivers the whole stream once it does", async () => {
    // ~10 MB of events written by the engine at once: more than the sockets between engine, agent
    // and client buffer, so the agent must stop reading the engine until the client drains.
    const CHUNKS = 60_000;
    const big = await agent({ STANDIN_CHUNKS: String(CHUNKS), STANDIN_CHUNK_INTERVAL_MS: "0", STANDIN_PING_EVERY: "0" }, [{ name: "big" }]);
    const res = await post(`${big.url}/v1/completions`, { model: "big", prompt: "long", stream: true });
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(big.server.load("big")!.inFlight).toBe(1);
    const events = (await res.text()).split("\n\n").filter((e) => e.startsWith("data: "));
    // Every content event, the final one and [DONE], in order.
    expect(events).toHaveLength(CHUNKS + 2);
    expect(events.at(-1)).toBe("data: [DONE]");
    expect(JSON.parse(events.at(-2)!.slice(6))).toMatchObject({ choices: [{ finish_reason: "stop" }] });
    await waitFor(() => big.server.load("big")!.inFlight === 0, { timeoutMs: 2000, what: "the lease to be released" });
  });

  it("ends a stream with an error event when the engine dies mid-stream, then the engine restarts", async () => {
    const capture = captureLogger();
    const dying = await agent({ STANDIN_DIE_MID_STREAM: "2", STANDIN_CHUNK_INTERVAL_MS: "20" }, [{ name: "dying" }], undefined, capture.logger);
    const res = await post(`${dying.url}/v1/chat/completions`, { model: "dying", messages, stream: true }, {
      headers: { "content-type": "application/json", "x-request-id": "req-dying-1" },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('"content":');
    expect(text).not.toContain("[DONE]");
    const last = text.trim().split("\n\n").at(-1)!;
    expect(JSON.parse(last.replace(/^data: /, ""))).toMatchObject({ error: { code: "engine_error" } });
    // The agent's log line carries the gateway's request id, so one grep finds both hops.
    expect(capture.records()).toContainEqual(expect.objectContaining({ msg: "engine stream broke off", request_id: "req-dying-1" }));
    await waitFor(() => dying.server.load("dying")!.inFlight === 0, { timeoutMs: 2000, what: "the lease to be released" });
    await dying.logs[0]!.waitFor("ready", 10_000, 2);
    expect(dying.logs[0]!.names()).toEqual(["starting", "ready", "starting", "ready"]);
  });

  it("retries once on a fresh connection when the engine drops a kept-alive socket unanswered", async () => {
    const dropping = await agent({ STANDIN_DROP_REUSED_SOCKET: "1" }, [{ name: "dropper" }]);
    for (let i = 0; i < 5; i++) {
      const res = await post(`${dropping.url}/v1/chat/completions`, { model: "dropper", messages, max_tokens: 1 });
      expect(res.status).toBe(200);
    }
  });

  it("answers 503 model_not_ready with Retry-After while the engine loads", async () => {
    const dir = await scope.tempDir();
    const server = standinModelServer(dir, { STANDIN_HANG_AT_START: "1" });
    await server.init();
    server.start(modelRecord("loading", "llama_cpp", ["model.gguf"]), await cachedModel(dir, { "model.gguf": "GGUF" }), () => {});
    const app = await startApp(server);
    cleanups.push(async () => {
      await app.close();
      await server.close();
    });
    const res = await post(`${app.url}/v1/chat/completions`, { model: "loading", messages });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("2");
    const err = (await res.json()) as { error: { code: string; message: string } };
    expect(err.error.code).toBe("model_not_ready");
    expect(err.error.message).toMatch(/is starting on this node/);
  });

  it("answers 413 for a JSON body beyond the limit", async () => {
    const small = await agent({}, [{ name: "small" }], { maxUploadBytes: 1024, maxBodyBytes: 1024 });
    const res = await post(`${small.url}/v1/chat/completions`, { model: "small", messages: [{ role: "user", content: "x".repeat(5000) }] });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
  });
});
