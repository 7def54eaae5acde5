// Hostile input against the real gateway process (with a real agent behind it, stand-in engines,
// the test hub): every request of the corpus gets a clear 4xx in the OpenAI error shape, never a
// 5xx; the gateway stays up, still serves, and holds no more file descriptors than before.
import { readdir } from "node:fs/promises";
import { connect } from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, request } from "undici";
import { OpenAIErrorBody } from "@omnigate/shared/errors";
import type { TestHub } from "@omnigate/testkit/hub";
import { TestScope } from "@omnigate/testkit/scope";
import { waitFor } from "@omnigate/testkit/wait";
import { startHub, startStack, toneWav, type Stack } from "@omnigate/testkit/e2e-stack";

const MAX_BODY = 64 * 1024;
const MAX_UPLOAD = 256 * 1024;

const scope = new TestScope();
let hub: TestHub;
let stack: Stack;
let client = new Agent({ connections: 4 });

beforeAll(async () => {
  hub = await startHub(scope, ["llm", "asr"]);
  stack = await startStack(scope, hub, {
    agents: 1,
    models: ["llm", "asr"],
    gatewayEnv: { OMNIGATE_MAX_BODY_BYTES: String(MAX_BODY), OMNIGATE_MAX_UPLOAD_BYTES: String(MAX_UPLOAD) },
  });
}, 120_000);

afterAll(async () => {
  await client.close().catch(() => {});
  await scope.cleanup();
});

async function openFds(): Promise<number> {
  return (await readdir(`/proc/${stack.gateway.pid}/fd`)).length;
}

interface Answer {
  status: number;
  text: string;
}

async function send(path: string, body: string | Buffer | AsyncIterable<Buffer> | undefined, headers: Record<string, string>, method = "POST"): Promise<Answer> {
  const res = await request(`${stack.gateway.url}${path}`, {
    dispatcher: client,
    method: method as "POST",
    headers: { authorization: `Bearer ${stack.key}`, ...headers },
    body: body === undefined || typeof body === "string" || Buffer.isBuffer(body) ? body : Readable.from(body),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

const json = (path: string, body: string | Buffer, extra: Record<string, string> = {}) =>
  send(path, body, { "content-type": "application/json", ...extra });

function form(parts: Array<[string, string] | [string, Buffer, string]>, boundary = "----hostile-boundary"): { body: Buffer; type: string } {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    if (part.length === 2) {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part[0]}"\r\n\r\n${part[1]}\r\n`));
    } else {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part[0]}"; filename="${part[2]}"\r\nContent-Type: application/octet-stream\r\n\r\n`));
      chunks.push(part[1], Buffer.from("\r\n"));
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

const wav = toneWav(0.2);
const chat = (model: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], ...extra });

/** name → request; each must answer 4xx with an OpenAI error body. */
const CORPUS: Array<[string, () => Promise<Answer>, number?]> = [
  ["malformed JSON", () => json("/v1/chat/completions", '{"model": "llm", "messages": ['), 400],
  ["empty JSON body", () => json("/v1/chat/completions", ""), 400],
  ["JSON array", () => json("/v1/chat/completions", "[1,2,3]"), 400],
  ["JSON null", () => json("/v1/chat/completions", "null"), 400],
  ["JSON string", () => json("/v1/embeddings", '"llm"'), 400],
  ["model is a number", () => json("/v1/chat/completions", chat(42)), 400],
  ["model is an object", () => json("/v1/chat/completions", chat({ $gt: "" })), 400],
  ["model missing", () => json("/v1/chat/completions", JSON.stringify({ messages: [{ role: "user" }] })), 400],
  ["messages is a string", () => json("/v1/chat/completions", JSON.stringify({ model: "llm", messages: "hi" })), 400],
  ["messages empty", () => json("/v1/chat/completions", JSON.stringify({ model: "llm", messages: [] })), 400],
  ["stream is a string", () => json("/v1/chat/completions", chat("llm", { stream: "yes" })), 400],
  ["prompt is an object", () => json("/v1/completions", JSON.stringify({ model: "llm", prompt: { a: 1 } })), 400],
  ["speech input too long", () => json("/v1/audio/speech", JSON.stringify({ model: "llm", input: "x".repeat(5000) })), 400],
  ["image size nonsense", () => json("/v1/images/generations", JSON.stringify({ model: "llm", prompt: "x", size: "big" })), 400],
  ["10 KB model name", () => json("/v1/chat/completions", chat("m".repeat(10 * 1024))), 400],
  ["NUL in model name", () => json("/v1/chat/completions", chat("ll\u0000m")), 400],
  ["newline in model name", () => json("/v1/chat/completions", chat("llm\nINFO forged log line")), 400],
  ["ANSI escape in model name", () => json("/v1/chat/completions", chat("\u001b[31mred")), 400],
  ["DEL and C1 in model name", () => json("/v1/chat/completions", chat("a\u007fb\u0085c")), 400],
  ["path traversal model name", () => json("/v1/chat/completions", chat("../../etc/passwd")), 400],
  ["invalid UTF-8 model name", () => json("/v1/chat/completions", Buffer.concat([Buffer.from('{"model":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","messages":[{"role":"u"}]}')])), 400],
  ["unknown model", () => json("/v1/chat/completions", chat("no-such-model")), 404],
  ["capability the model lacks", () => json("/v1/audio/speech", JSON.stringify({ model: "llm", input: "hi" })), 404],
  ["JSON over the limit (Content-Length)", () => json("/v1/chat/completions", chat("llm", { pad: "x".repeat(MAX_BODY) })), 413],
  [
    "JSON over the limit (chunked)",
    () =>
      send(
        "/v1/chat/completions",
        (async function* () {
          for (let i = 0; i < 40; i++) yield Buffer.alloc(8 * 1024, 0x20);
        })(),
        { "content-type": "application/json" },
      ),
    413,
  ],
  ["text/plain to a JSON endpoint", () => send("/v1/chat/completions", chat("llm"), { "content-type": "text/plain" }), 415],
  ["multipart to a JSON endpoint", () => send("/v1/chat/completions", form([["model", "llm"]]).body, { "content-type": form([]).type }), 415],
  ["JSON to a multipart endpoint", () => json("/v1/audio/transcriptions", JSON.stringify({ model: "asr" })), 415],
  ["multipart without boundary", () => send("/v1/audio/transcriptions", form([["model", "asr"]]).body, { "content-type": "multipart/form-data" }), 400],
  ["multipart garbage", () => send("/v1/audio/transcriptions", Buffer.from("this is not multipart at all"), { "content-type": "multipart/form-data; boundary=zzz" }), 400],
  [
    "multipart truncated",
    () => {
      const f = form([["model", "asr"], ["file", wav, "a.wav"]]);
      return send("/v1/audio/transcriptions", f.body.subarray(0, f.body.length - 200), { "content-type": f.type });
    },
    400,
  ],
  [
    "multipart malformed part header",
    () =>
      send("/v1/audio/transcriptions", Buffer.from("--b\r\nContent-Disposition form-data name=model\r\n\r\nasr\r\n--b--\r\n"), {
        "content-type": "multipart/form-data; boundary=b",
      }),
    400,
  ],
  ["multipart without the file", () => send("/v1/audio/transcriptions", form([["model", "asr"]]).body, { "content-type": form([]).type }), 400],
  ["multipart without the model", () => send("/v1/audio/transcriptions", form([["file", wav, "a.wav"]]).body, { "content-type": form([]).type }), 400],
  ["multipart 10 KB model", () => send("/v1/audio/transcriptions", form([["model", "m".repeat(10_240)], ["file", wav, "a.wav"]]).body, { "content-type": form([]).type }), 400],
  ["multipart control chars in model", () => send("/v1/audio/transcriptions", form([["model", "as\u0001r"], ["file", wav, "a.wav"]]).body, { "content-type": form([]).type }), 400],
  ["multipart temperature not a number", () => send("/v1/audio/transcriptions", form([["model", "asr"], ["temperature", "hot"], ["file", wav, "a.wav"]]).body, { "content-type": form([]).type }), 400],
  [
    "multipart too many parts",
    () => send("/v1/audio/transcriptions", form(Array.from({ length: 200 }, (_, i) => [`f${i}`, "x"] as [string, string])).body, { "content-type": form([]).type }),
    400,
  ],
  ["multipart huge field name", () => send("/v1/audio/transcriptions", form([["n".repeat(5000), "x"], ["model", "asr"]]).body, { "content-type": form([]).type }), 400],
  ["upload over the limit (Content-Length)", () => send("/v1/audio/transcriptions", form([["model", "asr"], ["file", Buffer.alloc(MAX_UPLOAD + 1), "big.wav"]]).body, { "content-type": form([]).type }), 413],
  [
    "upload over the limit (chunked)",
    () => {
      const f = form([["model", "asr"], ["file", Buffer.alloc(MAX_UPLOAD * 4), "big.wav"]]);
      return send(
        "/v1/audio/transcriptions",
        (async function* () {
          for (let i = 0; i < f.body.length; i += 16 * 1024) yield f.body.subarray(i, i + 16 * 1024);
        })(),
        { "content-type": f.type },
      );
    },
    413,
  ],
  [
    "a 1 GB Content-Length is refused before it is read",
    () =>
      rawExchange(
        `POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${stack.key}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000000\r\n\r\n`,
      ),
    413,
  ],
  ["unknown endpoint", () => json("/v1/chat/complete", chat("llm")), 404],
  ["GET on an inference endpoint", () => send("/v1/chat/completions", undefined, {}, "GET"), 404],
];

/** A raw TCP client that sends `data` and then closes (or not), without reading an answer. */
function rawSend(data: string | Buffer, endAfterMs = 50): Promise<void> {
  const url = new URL(stack.gateway.url);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(data);
      setTimeout(() => socket.destroy(), endAfterMs);
    });
    socket.on("data", () => {});
    socket.on("error", () => {});
    socket.on("close", () => resolve());
  });
}

/** Sends `head` (and a little of a body it announces), then reads the answer until the gateway closes. */
function rawExchange(head: string): Promise<Answer> {
  const url = new URL(stack.gateway.url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(url.port), url.hostname, () => socket.write(head + "x".repeat(1000)));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, text: text.slice(text.indexOf("\r\n\r\n") + 4) });
    });
    setTimeout(() => socket.destroy(), 5_000);
  });
}

describe("hostile input", () => {
  it("answers every request of the corpus with a clear 4xx in the OpenAI shape, stays up and leaks no descriptor", async () => {
    // Warm up: pools to the agent exist, so they are not counted as a leak.
    expect((await json("/v1/chat/completions", chat("llm"))).status).toBe(200);
    const f = form([["model", "asr"], ["file", wav, "a.wav"]]);
    expect((await send("/v1/audio/transcriptions", f.body, { "content-type": f.type })).status).toBe(200);
    await client.close();
    await new Promise((r) => setTimeout(r, 200));
    const before = await openFds();
    client = new Agent({ connections: 4 });
    const fresh = client;
    const failures: string[] = [];
    for (const [name, run, expected] of CORPUS) {
      const answer = await run();
      const parsed = OpenAIErrorBody.safeParse((() => {
        try {
          return JSON.parse(answer.text);
        } catch {
          return undefined;
        }
      })());
      const ok = answer.status >= 400 && answer.status < 500 && (expected === undefined || answer.status === expected) && parsed.success && parsed.data.error.message.length > 10;
      if (!ok) failures.push(`${name}: ${answer.status} ${answer.text.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);

    // Bodies cut off mid-way, lies in Content-Length, and bytes that are not HTTP: no answer is
    // owed, but nothing may crash or linger.
    const host = `Host: 127.0.0.1\r\nAuthorization: Bearer ${stack.key}\r\n`;
    await rawSend(`POST /v1/chat/completions HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":"llm"`);
    const cut = form([["model", "asr"], ["file", Buffer.alloc(100_000), "a.wav"]]);
    await rawSend(Buffer.concat([Buffer.from(`POST /v1/audio/transcriptions HTTP/1.1\r\n${host}Content-Type: ${cut.type}\r\nContent-Length: ${cut.body.length}\r\n\r\n`), cut.body.subarray(0, 50_000)]));
    await rawSend(`POST /v1/chat/completions HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\nnot a chunk`);
    await rawSend("\u0000\u0001\u0002 GARBAGE \r\n\r\n");
    await rawSend(`POST /v1/chat/completions HTTP/1.1\r\n${host}X-Request-Id: ${"r".repeat(60_000)}\r\n\r\n`);

    // Still up and serving.
    const health = await request(`${stack.gateway.url}/healthz`, { dispatcher: fresh });
    expect(health.statusCode).toBe(200);
    await health.body.text();
    const after = await request(`${stack.gateway.url}/v1/chat/completions`, {
      dispatcher: fresh,
      method: "POST",
      headers: { authorization: `Bearer ${stack.key}`, "content-type": "application/json" },
      body: chat("llm"),
    });
    expect(after.statusCode).toBe(200);
    await after.body.text();
    expect(stack.gateway.running).toBe(true);
    await fresh.close();
    client = new Agent({ connections: 1 });
    // Every client socket is closed now: the gateway's descriptors fall back to where they were.
    await waitFor(async () => (await openFds()) <= before, { what: `gateway fds back to ${before}`, timeoutMs: 10_000 });
    expect(stack.gateway.lines.filter((l) => /uncaught|unhandled/i.test(l))).toEqual([]);
  });
});
