// The agent's data plane served two ways over real HTTP — the fast path before Express (what the
// agent's server uses for the nine exact paths) and the Express router (everything else, e.g. a
// trailing slash) — must answer alike: same statuses, same error bodies, same engine answers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EngineModelServer } from "../src/supervisor/engine-model-server.js";
import { TestScope } from "@omnigate/testkit/scope";
import { StateLog, cachedModel, modelRecord, standinModelServer, startApp } from "./helpers/engine-harness.js";

const scope = new TestScope();
let server: EngineModelServer;
const urls: Record<"fast-path" | "express", string> = { "fast-path": "", express: "" };
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  const dir = await scope.tempDir();
  server = standinModelServer(dir, { STANDIN_CHUNKS: "4", STANDIN_CHUNK_INTERVAL_MS: "5" });
  await server.init();
  const log = new StateLog();
  server.start(modelRecord("chat-model", "llama_cpp", ["model.gguf"]), await cachedModel(dir, { "model.gguf": "GGUF" }), log.onState);
  await log.waitFor("ready");
  for (const via of ["fast-path", "express"] as const) {
    const app = await startApp(server, { maxUploadBytes: 4096, maxJsonBytes: 2048 }, via);
    urls[via] = app.url;
    closers.push(app.close);
  }
});

afterAll(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
  await server?.close();
  await scope.cleanup();
});

interface Answer {
  status: number;
  type: string | null;
  body: unknown;
}

async function ask(via: "fast-path" | "express", path: string, body: string | undefined, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${urls[via]}${path}`, { method: "POST", headers, ...(body !== undefined ? { body } : {}) });
  // The engine's per-answer id and timestamp differ between any two answers: masked.
  const text = (await res.text()).replace(/"id":"[^"]*"/g, '"id":"…"').replace(/"created":\d+/g, '"created":0');
  const type = res.headers.get("content-type");
  return { status: res.status, type, body: type?.includes("json") ? JSON.parse(text) : text };
}

const JSON_TYPE = { "content-type": "application/json" };
const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: "chat-model", messages: [{ role: "user", content: "hi" }], ...extra });

const CASES: [string, string, string | undefined, Record<string, string>][] = [
  ["a chat completion", "/v1/chat/completions", chat(), JSON_TYPE],
  ["a streamed completion", "/v1/completions", JSON.stringify({ model: "chat-model", prompt: "hi", stream: true }), JSON_TYPE],
  ["invalid JSON", "/v1/chat/completions", "{nope", JSON_TYPE],
  ["a JSON scalar (strict parsing)", "/v1/chat/completions", "42", JSON_TYPE],
  ["a body beyond the limit", "/v1/chat/completions", chat({ pad: "x".repeat(4096) }), JSON_TYPE],
  ["a schema violation", "/v1/chat/completions", JSON.stringify({ model: "chat-model" }), JSON_TYPE],
  ["an unknown model", "/v1/chat/completions", chat({ model: "nope" }), JSON_TYPE],
  ["a capability the model lacks", "/v1/images/generations", JSON.stringify({ model: "chat-model", prompt: "a cat" }), JSON_TYPE],
  ["a text/plain body", "/v1/chat/completions", chat(), { "content-type": "text/plain" }],
  ["a non-UTF-8 charset", "/v1/chat/completions", chat(), { "content-type": "application/json; charset=latin1" }],
  ["JSON to a multipart endpoint", "/v1/audio/transcriptions", chat(), JSON_TYPE],
  ["a truncated multipart form", "/v1/audio/transcriptions", "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nx", { "content-type": "multipart/form-data; boundary=b" }],
];

describe("agent data plane: fast path and Express router answer alike", () => {
  for (const [what, path, body, headers] of CASES) {
    it(what, async () => {
      const fast = await ask("fast-path", path, body, headers);
      const slow = await ask("express", path, body, headers);
      expect(fast).toEqual(slow);
    });
  }

  it("serves the nine exact paths on the fast path, the rest through Express", async () => {
    // A trailing slash matches the Express route (non-strict routing), not the fast path's exact one.
    const res = await ask("fast-path", "/v1/chat/completions/", chat(), JSON_TYPE);
    expect(res.status).toBe(200);
  });
});
