// The agent's one entrance for inference over real HTTP: its listener (api/listener.ts, as agent.ts
// starts it) hands the nine exact endpoint paths to the data plane after the node-secret check, and
// everything else to the app. Each kind of request gets its own answer in the OpenAI error shape.
import OpenAI, { APIError, toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestScope } from "@omnigate/testkit/scope";
import { rawUpload, tricklingFetch } from "@omnigate/testkit/slow-upload";
import type { EngineModelServer } from "../src/supervisor/engine-model-server.js";
import { AGENT_AUTH, NODE_SECRET, StateLog, cachedModel, modelRecord, standinModelServer, startApp } from "./helpers/engine-harness.js";

const scope = new TestScope();
let server: EngineModelServer;
let url = "";

beforeAll(async () => {
  const dir = await scope.tempDir();
  server = standinModelServer(dir, { STANDIN_CHUNKS: "4", STANDIN_CHUNK_INTERVAL_MS: "5" });
  scope.defer(() => server.close());
  await server.init();
  const log = new StateLog();
  server.start(modelRecord("chat-model", "llama_cpp", ["model.gguf"]), await cachedModel(dir, { "model.gguf": "GGUF" }), log.onState);
  await log.waitFor("ready");
  const app = await startApp(server, { maxUploadBytes: 4096, maxBodyBytes: 2048 });
  scope.defer(app.close);
  url = app.url;
});

afterAll(() => scope.cleanup());

async function ask(path: string, body: string | undefined, headers: Record<string, string>, method = "POST"): Promise<{ status: number; type: string | null; code: string | undefined }> {
  const res = await fetch(`${url}${path}`, { method, headers: { ...AGENT_AUTH, ...headers }, ...(body !== undefined ? { body } : {}) });
  const type = res.headers.get("content-type");
  const text = await res.text();
  const code = type?.includes("json") ? (JSON.parse(text) as { error?: { code?: string } }).error?.code : undefined;
  return { status: res.status, type, code };
}

const JSON_TYPE = { "content-type": "application/json" };
const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: "chat-model", messages: [{ role: "user", content: "hi" }], ...extra });

const CASES: [string, string, string | undefined, Record<string, string>, number, string | undefined][] = [
  ["a chat completion", "/v1/chat/completions", chat(), JSON_TYPE, 200, undefined],
  ["a query string on the path", "/v1/chat/completions?api-version=1", chat(), JSON_TYPE, 200, undefined],
  ["invalid JSON", "/v1/chat/completions", "{nope", JSON_TYPE, 400, "invalid_json"],
  ["a JSON scalar (strict parsing)", "/v1/chat/completions", "42", JSON_TYPE, 400, "invalid_json"],
  ["a body beyond the limit", "/v1/chat/completions", chat({ pad: "x".repeat(4096) }), JSON_TYPE, 413, "payload_too_large"],
  ["a schema violation", "/v1/chat/completions", JSON.stringify({ model: "chat-model" }), JSON_TYPE, 400, "invalid_request"],
  ["an unknown model", "/v1/chat/completions", chat({ model: "nope" }), JSON_TYPE, 404, "model_not_found"],
  ["a capability the model lacks", "/v1/images/generations", JSON.stringify({ model: "chat-model", prompt: "a cat" }), JSON_TYPE, 404, "model_capability_unsupported"],
  ["a text/plain body", "/v1/chat/completions", chat(), { "content-type": "text/plain" }, 415, "unsupported_media_type"],
  ["a non-UTF-8 charset", "/v1/chat/completions", chat(), { "content-type": "application/json; charset=latin1" }, 415, "unsupported_media_type"],
  ["JSON to a multipart endpoint", "/v1/audio/transcriptions", chat(), JSON_TYPE, 415, "unsupported_media_type"],
  ["a truncated multipart form", "/v1/audio/transcriptions", '--b\r\nContent-Disposition: form-data; name="model"\r\n\r\nx', { "content-type": "multipart/form-data; boundary=b" }, 400, "invalid_multipart"],
  ["a trailing slash: not an endpoint", "/v1/chat/completions/", chat(), JSON_TYPE, 404, "not_found"],
];

describe("agent listener: the data plane's one entrance", () => {
  for (const [what, path, body, headers, status, code] of CASES) {
    it(`${what} → ${status}${code ? ` ${code}` : ""}`, async () => {
      const answer = await ask(path, body, headers);
      expect({ status: answer.status, code: answer.code }).toEqual({ status, code });
    });
  }

  it("streams a streamed completion as SSE", async () => {
    const answer = await ask("/v1/completions", JSON.stringify({ model: "chat-model", prompt: "hi", stream: true }), JSON_TYPE);
    expect(answer).toMatchObject({ status: 200, type: expect.stringMatching(/^text\/event-stream/) });
  });

  it("refuses an endpoint without the node secret, and a GET to an endpoint path is the app's 404", async () => {
    const res = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: JSON_TYPE, body: chat() });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("missing_api_key");
    expect(await ask("/v1/chat/completions", undefined, {}, "GET")).toMatchObject({ status: 404, code: "not_found" });
  });
});

describe("agent listener: refusing a body that is still coming", () => {
  // Far beyond the limits (2 KiB JSON, 4 KiB per file): a client still sending must read the answer.
  const BIG = 2 * 1024 * 1024;

  it("lets a client that keeps sending finish and read the 413 or 401, with the request id, on a connection that stays usable", async () => {
    for (const [headers, chunked, status] of [
      [{ ...AGENT_AUTH, "content-type": "application/json" }, false, 413],
      [{ ...AGENT_AUTH, "content-type": "application/json" }, true, 413],
      [{ "content-type": "application/json", "x-request-id": "gw-req-1" }, false, 401],
    ] as const) {
      const result = await rawUpload(url, { path: "/v1/chat/completions", headers, bodyBytes: BIG, chunked, followUp: "/healthz" });
      expect({ status, writeError: result.writeError }).toEqual({ status, writeError: undefined });
      expect(result.received).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(result.received).toMatch(/x-request-id: \S+/i);
      expect(result.reused).toBe(true);
    }
  });

  it("answers the openai client 413 for a chat and an upload over the node's limits, not a connection error", async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: NODE_SECRET, maxRetries: 0, fetch: tricklingFetch().fetch });
    const chatError = await client.chat.completions.create({ model: "chat-model", messages: [{ role: "user", content: "x".repeat(BIG) }] }).catch((e: unknown) => e);
    expect(chatError).toBeInstanceOf(APIError);
    expect([(chatError as APIError).status, (chatError as APIError).code]).toEqual([413, "payload_too_large"]);
    const file = await toFile(Buffer.alloc(BIG, 1), "long.wav", { type: "audio/wav" });
    const uploadError = await client.audio.transcriptions.create({ model: "chat-model", file }).catch((e: unknown) => e);
    expect(uploadError).toBeInstanceOf(APIError);
    expect([(uploadError as APIError).status, (uploadError as APIError).code]).toEqual([413, "payload_too_large"]);
  });
});
