import { once } from "node:events";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "@omnigate/shared/errors";
import { readJsonObject } from "./json-body.js";
import type { BodyAccount } from "./read-body.js";
import { errorResponder, sendJson } from "./respond.js";

let server: Server;
let url = "";
/** Bytes the budget still takes (the `x-budget` header sets it for one request). */
let budget = Infinity;

const account: BodyAccount = {
  take: (bytes) => (bytes <= budget ? ((budget -= bytes), true) : false),
  refusal: () => new ApiError("queue_full", "The budget is spent."),
};

// A server that reads each body as the data planes do (64-byte limit) and answers what it read:
// the object and the bytes' length, or the error in the OpenAI shape.
beforeAll(async () => {
  const respond = errorResponder({ log: pino({ level: "silent" }), limits: { who: "the test server" } });
  server = createServer((req, res) => {
    budget = Number(req.headers["x-budget"] ?? Infinity);
    readJsonObject(req, "/v1/test", { limit: 64, what: "JSON body", variable: "TEST_MAX_BODY_BYTES", who: "the test server" }, account).then(
      ({ value, bytes }) => sendJson(res, 200, { value, bytes: bytes.length }),
      (err: unknown) => respond(res, err),
    );
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function send(body: string, headers: Record<string, string> = { "content-type": "application/json" }): Promise<{ status: number; json: { value?: unknown; bytes?: number; error?: { code: string; message: string } } }> {
  const res = await fetch(url, { method: "POST", headers, body });
  return { status: res.status, json: (await res.json()) as never };
}

describe("readJsonObject", () => {
  it("reads a JSON object and keeps the bytes it came as", async () => {
    const body = '{"model": "m",  "x": [1, 2]}';
    expect(await send(body)).toEqual({ status: 200, json: { value: { model: "m", x: [1, 2] }, bytes: body.length } });
  });

  it("takes a body without a Content-Type (curl --data-binary), a UTF-8 charset, and +json types", async () => {
    for (const headers of [{ "content-type": "application/json; charset=UTF-8" }, { "content-type": 'application/json;charset="utf-8"' }, { "content-type": "application/vnd.api+json" }]) {
      expect((await send('{"a":1}', headers)).status, JSON.stringify(headers)).toBe(200);
    }
    // fetch would add text/plain: node:http sends no type unless told.
    const untyped = await new Promise<number>((resolve, reject) => {
      const req = request(url, { method: "POST" }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on("error", reject);
      req.end('{"a":1}');
    });
    expect(untyped).toBe(200);
  });

  it("refuses another type, another charset and a compressed body with 415, saying what to send", async () => {
    const plain = await send('{"a":1}', { "content-type": "text/plain" });
    expect(plain).toMatchObject({ status: 415, json: { error: { code: "unsupported_media_type", message: expect.stringContaining("/v1/test takes a JSON body, not 'text/plain'") } } });
    const latin1 = await send('{"a":1}', { "content-type": "application/json; charset=latin1" });
    expect(latin1).toMatchObject({ status: 415, json: { error: { message: expect.stringContaining("charset 'latin1'. Send it as UTF-8") } } });
    const gzip = await send('{"a":1}', { "content-type": "application/json", "content-encoding": "gzip" });
    expect(gzip).toMatchObject({ status: 415, json: { error: { message: expect.stringContaining("Content-Encoding 'gzip'") } } });
  });

  it("answers invalid JSON, and JSON that is not an object, with invalid_json naming what came", async () => {
    expect(await send("{nope")).toMatchObject({ status: 400, json: { error: { code: "invalid_json", message: expect.stringContaining("not valid JSON") } } });
    for (const [body, what] of [["42", "a number"], ['"x"', "a string"], ["[1]", "an array"], ["null", "null"]]) {
      expect(await send(body!), body).toMatchObject({ status: 400, json: { error: { code: "invalid_json", message: expect.stringContaining(`is ${what}, not a JSON object`) } } });
    }
  });

  it("refuses a body over the limit with 413, declared or sent in chunks, and one the budget cannot hold with its refusal", async () => {
    const big = JSON.stringify({ pad: "x".repeat(100) });
    expect(await send(big)).toMatchObject({ status: 413, json: { error: { code: "payload_too_large", message: expect.stringContaining("TEST_MAX_BODY_BYTES") } } });
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(url, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on("error", reject);
      for (let i = 0; i < 10; i++) req.write('{"pad": "xxxxxxxxxxxxxxxxxxxx"}');
      req.end();
    });
    expect(chunked).toBe(413);
    expect(await send('{"a":1}', { "content-type": "application/json", "x-budget": "3" })).toMatchObject({ status: 429, json: { error: { code: "queue_full" } } });
  });
});
