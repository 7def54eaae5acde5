// The data plane over real HTTP: gateway (port 0) → stand-in agent processes (test fixture).
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { OpenAIErrorBody } from "@omnigate/shared/errors";
import { FakeAgent } from "@omnigate/testkit/fake-agent";
import { TestScope } from "@omnigate/testkit/scope";
import { sseData, startGateway, type TestGateway } from "./data-plane-harness.js";

const scope = new TestScope();
let gw: TestGateway;
let a: FakeAgent;

beforeAll(async () => {
  a = await FakeAgent.start(scope, "a");
  gw = await startGateway(scope);
  for (const [name, runtime] of [
    ["llm", "llama_cpp"],
    ["asr", "whisper"],
    ["img", "stable_diffusion"],
    ["tts", "onnx_runtime"],
    ["cold", "llama_cpp"],
  ] as const) {
    await gw.addModel(name, runtime);
  }
  await gw.addNode(a, [{ name: "llm" }, { name: "asr" }, { name: "img" }, { name: "tts" }, { name: "cold", state: "starting" }]);
});

afterAll(async () => {
  await scope.cleanup();
});

async function post(path: string, body: string | Buffer, headers: Record<string, string> = { "content-type": "application/json" }) {
  const res = await request(`${gw.url}${path}`, { method: "POST", body, headers: { ...gw.auth, ...headers } });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

describe("forwarding", () => {
  it("forwards the exact bytes of a JSON body with the node secret and a request id on both hops", async () => {
    // Odd spacing and key order: a re-serialisation would change the hash.
    const body = '{ "messages":[{"role":"user","content":"hé"}],   "model":"llm", "extra": {"z":1,"a":2} }';
    const res = await post("/v1/chat/completions", body);
    expect(res.status).toBe(200);
    const echo = JSON.parse(res.text);
    expect(echo.node).toBe("a");
    expect(echo.path).toBe("/v1/chat/completions");
    expect(echo.sha256).toBe(createHash("sha256").update(body).digest("hex"));
    expect(echo.request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers["x-request-id"]).toBe(echo.request_id);
  });

  it("keeps a client's X-Request-Id and replaces one that is not a plain token", async () => {
    const body = JSON.stringify({ model: "llm", input: "x" });
    const kept = await post("/v1/embeddings", body, { "content-type": "application/json", "x-request-id": "client-id-42" });
    expect(JSON.parse(kept.text).request_id).toBe("client-id-42");
    expect(kept.headers["x-request-id"]).toBe("client-id-42");
    const replaced = await post("/v1/embeddings", body, { "content-type": "application/json", "x-request-id": "bad id\twith tab" });
    expect(JSON.parse(replaced.text).request_id).not.toBe("bad id\twith tab");
    expect(replaced.headers["x-request-id"]).toBe(JSON.parse(replaced.text).request_id);
  });

  it("routes every JSON endpoint of the runtime table to the agent's same path", async () => {
    for (const [path, body] of [
      ["/v1/completions", { model: "llm", prompt: "hi" }],
      ["/v1/embeddings", { model: "llm", input: ["a", "b"] }],
      ["/v1/audio/speech", { model: "tts", input: "hello", voice: "alloy" }],
      ["/v1/images/generations", { model: "img", prompt: "a cat", size: "64x64" }],
    ] as const) {
      const res = await post(path, JSON.stringify(body));
      expect(res.status, path).toBe(200);
      expect(JSON.parse(res.text).path).toBe(path);
    }
  });

  it("forwards a multipart upload byte for byte, boundary included", async () => {
    const form = new FormData();
    form.append("model", "asr");
    form.append("response_format", "json");
    form.append("file", new Blob([Buffer.alloc(50_000, 7)], { type: "audio/wav" }), "a.wav");
    const encoded = new Response(form);
    const contentType = encoded.headers.get("content-type")!;
    const bytes = Buffer.from(await encoded.arrayBuffer());
    for (const path of ["/v1/audio/transcriptions", "/v1/audio/translations"]) {
      const res = await post(path, bytes, { "content-type": contentType });
      expect(res.status, res.text).toBe(200);
      const echo = JSON.parse(res.text);
      expect(echo.path).toBe(path);
      expect(echo.content_type).toBe(contentType);
      expect(echo.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    }
  });

  it("takes an image as `image` or `image[]` on edits and variations", async () => {
    for (const [path, field] of [
      ["/v1/images/edits", "image"],
      ["/v1/images/edits", "image[]"],
      ["/v1/images/variations", "image"],
      ["/v1/images/variations", "image[]"],
    ] as const) {
      const form = new FormData();
      form.append("model", "img");
      form.append("prompt", "make it blue");
      form.append(field, new Blob([Buffer.from("png")], { type: "image/png" }), "x.png");
      const encoded = new Response(form);
      const res = await post(path, Buffer.from(await encoded.arrayBuffer()), { "content-type": encoded.headers.get("content-type")! });
      expect(res.status, `${path} ${field}: ${res.text}`).toBe(200);
    }
  });

  it("passes an SSE stream through chunk by chunk: the first chunk arrives while the agent still holds the rest", async () => {
    await a.config({ mode: "hold", chunks: 3, holdAfter: 1 });
    try {
      const res = await request(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { ...gw.auth, "content-type": "application/json" },
        body: JSON.stringify({ model: "llm", stream: true, messages: [{ role: "user", content: "hi" }] }),
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
      expect(res.headers["content-encoding"]).toBeUndefined();
      expect(res.headers["x-accel-buffering"]).toBe("no");
      const it = res.body[Symbol.asyncIterator]();
      const first = await it.next();
      // The agent is holding chunk 1 until released: what arrived is chunk 0 alone.
      expect(sseData(Buffer.from(first.value as Buffer).toString())).toHaveLength(1);
      await a.release();
      let rest = "";
      for (let r = await it.next(); !r.done; r = await it.next()) rest += Buffer.from(r.value as Buffer).toString();
      expect(sseData(rest)).toEqual([expect.stringContaining("c1 "), expect.stringContaining("c2 "), "[DONE]"]);
    } finally {
      await a.config({ mode: "ok", chunks: 4 });
    }
  });
});

describe("readiness before routing", () => {
  it("answers 404 for an unknown model and for a capability the model lacks", async () => {
    const unknown = await post("/v1/chat/completions", JSON.stringify({ model: "nope", messages: [{ role: "user" }] }));
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.text).error.code).toBe("model_not_found");
    const wrong = await post("/v1/audio/speech", JSON.stringify({ model: "llm", input: "hi" }));
    expect(wrong.status).toBe(404);
    expect(JSON.parse(wrong.text).error).toMatchObject({ code: "model_capability_unsupported", param: "model" });
    expect(JSON.parse(wrong.text).error.message).toContain("text-to-speech");
  });

  it("answers 503 model_not_ready with Retry-After and what the node reports", async () => {
    const res = await post("/v1/chat/completions", JSON.stringify({ model: "cold", messages: [{ role: "user" }] }));
    expect(res.status).toBe(503);
    expect(res.headers["retry-after"]).toBeDefined();
    const body = OpenAIErrorBody.parse(JSON.parse(res.text));
    expect(body.error.code).toBe("model_not_ready");
    expect(body.error.message).toContain("starting");
  });
});

describe("metrics", () => {
  it("counts requests by model, endpoint and status, and exposes the in-flight and node gauges", async () => {
    await post("/v1/chat/completions", JSON.stringify({ model: "llm", messages: [{ role: "user" }] }));
    await post("/v1/chat/completions", JSON.stringify({ model: "x".repeat(300), messages: [{ role: "user" }] }));
    const res = await request(`${gw.url}/metrics`, { headers: gw.auth });
    const text = await res.body.text();
    expect(text).toMatch(/omnigate_requests_total\{model="llm",endpoint="chat",status="200"\} [1-9]/);
    // A name that is not a registered model never becomes a label.
    expect(text).toMatch(/omnigate_requests_total\{model="",endpoint="chat",status="400"\} [1-9]/);
    expect(text).not.toContain("xxxxxxxxxx");
    expect(text).toMatch(/omnigate_time_to_first_byte_seconds_count\{model="llm",endpoint="chat"\} [1-9]/);
    expect(text).toMatch(/omnigate_node_up\{node="[0-9a-f-]+",hostname="test-host"\} 1/);
    expect(text).toContain("omnigate_model_state{");
    expect(text).toContain("process_resident_memory_bytes");
  });

  it("times the first token of a stream at its first data event, not at a `: ping` comment", async () => {
    const bucket = async (metric: string) => {
      const text = await (await request(`${gw.url}/metrics`, { headers: gw.auth })).body.text();
      const m = new RegExp(`${metric}_bucket\\{le="0.5",model="llm",endpoint="chat"\\} (\\d+)`).exec(text);
      return Number(m?.[1] ?? 0);
    };
    const [ttfb0, ttft0] = [await bucket("omnigate_time_to_first_byte_seconds"), await bucket("omnigate_time_to_first_token_seconds")];
    // The agent sends `: ping` at once, then holds the data until released well after 0.5 s.
    await a.config({ mode: "hold", holdAfter: 0, pingFirst: true });
    try {
      const answer = post("/v1/chat/completions", JSON.stringify({ model: "llm", stream: true, messages: [{ role: "user" }] }));
      const deadline = Date.now() + 5_000;
      while ((await a.stats()).in_flight === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 800));
      await a.release();
      const res = await answer;
      expect(res.text.startsWith(": ping")).toBe(true);
      expect(sseData(res.text).length).toBeGreaterThan(0);
    } finally {
      await a.config({ mode: "ok", holdAfter: 1, pingFirst: false });
    }
    // The ping was the first byte (fast); the first token came after the hold (slow).
    expect(await bucket("omnigate_time_to_first_byte_seconds")).toBe(ttfb0 + 1);
    expect(await bucket("omnigate_time_to_first_token_seconds")).toBe(ttft0);
  });
});

describe("one entrance: the gateway's listener", () => {
  it("refuses a missing, unknown or wrong-kind credential before reading the body, with a request id", async () => {
    const body = JSON.stringify({ model: "llm", messages: [{ role: "user", content: "x" }] });
    const before = (await a.stats()).requests;
    for (const [authorization, status, code] of [
      [undefined, 401, "missing_api_key"],
      ["Bearer og-not-a-key-of-this-gateway", 401, "invalid_api_key"],
      ["Bearer og-node-token-for-data-plane-tests", 403, "insufficient_permissions"],
    ] as const) {
      const res = await request(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json", "x-request-id": `refused-${status}`, ...(authorization ? { authorization } : {}) },
      });
      expect(res.statusCode).toBe(status);
      expect(res.headers["x-request-id"]).toBe(`refused-${status}`);
      expect(OpenAIErrorBody.parse(await res.body.json()).error.code).toBe(code);
    }
    expect((await a.stats()).requests).toBe(before);
  });

  it("serves only the exact endpoint paths; anything else under /v1 is the app's (auth, then 404)", async () => {
    const body = JSON.stringify({ model: "llm", messages: [{ role: "user", content: "x" }] });
    const slash = await post("/v1/chat/completions/", body);
    expect(slash.status).toBe(404);
    expect(JSON.parse(slash.text).error.code).toBe("not_found");
    const get = await request(`${gw.url}/v1/chat/completions`, { headers: gw.auth });
    expect(get.statusCode).toBe(404);
    await get.body.text();
    const anonymous = await request(`${gw.url}/v1/chat/completions/`, { method: "POST", body });
    expect(anonymous.statusCode).toBe(401);
    await anonymous.body.text();
  });
});
