import { once } from "node:events";
import { Agent, createServer, get, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "@omnigate/shared/errors";
import { bodyError, multipartError, payloadTooLarge } from "./body-errors.js";
import { requestIdOf } from "./request-id.js";
import { errorResponder } from "./respond.js";
import { stopAccepting } from "./shutdown.js";

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A real server on port 0 whose every request is answered by `answer`. */
async function serve(answer: (res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    answer(res);
  }).listen(0, "127.0.0.1");
  servers.push(server);
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function capture(): { log: pino.Logger; records: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  return { log: pino({ level: "debug" }, { write: (l: string) => void lines.push(l) }), records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("errorResponder", () => {
  it("answers an ApiError with its status, headers and OpenAI body", async () => {
    const { log } = capture();
    const respond = errorResponder({ log, limits: { who: "the gateway" } });
    const url = await serve((res) => respond(res, new ApiError("queue_full", "Full. Retry in 1 s.", null, { "Retry-After": "1" })));
    const res = await fetch(url);
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toEqual({ error: { message: "Full. Retry in 1 s.", type: "rate_limit_error", code: "queue_full", param: null } });
  });

  it("answers anything else as a 500 whose details go to the log only, with the request id", async () => {
    const { log, records } = capture();
    const respond = errorResponder({ log, limits: { who: "this node" } });
    const url = await serve((res) => {
      res.setHeader("X-Request-Id", "req-7");
      respond(res, new Error("secret detail"));
    });
    const res = await fetch(url);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).toContain("An internal error happened in this node");
    expect(text).not.toContain("secret detail");
    expect(records()).toContainEqual(expect.objectContaining({ msg: "request failed", request_id: "req-7" }));
  });

  it("cuts the connection when the answer had begun: a short answer must not look whole", async () => {
    const { log } = capture();
    const respond = errorResponder({ log, limits: { who: "the gateway" } });
    const url = await serve((res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: 1\n\n");
      setTimeout(() => respond(res, new ApiError("upstream_error", "gone")), 20);
    });
    const res = await fetch(url);
    await expect(res.text()).rejects.toThrow();
  });
});

describe("body parser failures", () => {
  it("name the limit and the variable that sets it", () => {
    const limits = { who: "the gateway", maxBodyBytes: 10 * 1024 * 1024, maxUploadBytes: 65_536 };
    expect(bodyError({ type: "entity.too.large" }, limits)?.message).toBe(
      "The JSON body is larger than 10 MiB, the most the gateway accepts (OMNIGATE_MAX_BODY_BYTES). Send a smaller JSON body.",
    );
    const file = bodyError({ name: "MulterError", code: "LIMIT_FILE_SIZE", field: "file" }, limits);
    expect([file?.status, file?.message]).toEqual([413, "The file 'file' is larger than 65536 bytes, the most the gateway accepts (OMNIGATE_MAX_UPLOAD_BYTES). Send a smaller file 'file'."]);
    expect(bodyError({ type: "entity.parse.failed", message: "Unexpected token" }, limits)?.code).toBe("invalid_json");
    expect(bodyError(new Error("something else"), limits)).toBeUndefined();
    expect(payloadTooLarge("upload", 1024, limits, "OMNIGATE_MAX_UPLOAD_BYTES").status).toBe(413);
  });

  it("make whatever else a multipart parse threw a malformed form", () => {
    const err = multipartError(new Error("Unexpected end of form"), { who: "this node" });
    expect([err.code, err.status]).toEqual(["invalid_multipart", 400]);
    expect(multipartError(new Error("weird busboy state"), { who: "this node" }).code).toBe("invalid_multipart");
    const kept = new ApiError("payload_too_large", "x");
    expect(multipartError(kept, { who: "this node" })).toBe(kept);
  });
});

describe("request ids", () => {
  it("keep a plain token and replace anything else with a UUID", () => {
    expect(requestIdOf({ headers: { "x-request-id": "client-42" } })).toBe("client-42");
    expect(requestIdOf({ headers: { "x-request-id": "bad id\twith tab" } })).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdOf({ headers: {} })).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("stopAccepting", () => {
  it("closes idle keep-alive connections at once instead of waiting out the timeout", async () => {
    const url = await serve((res) => res.end("ok"));
    const server = servers[0]!;
    const agent = new Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      get(url, { agent }, (res) => res.resume().on("end", resolve)).on("error", reject);
    });
    // The pooled socket stays open on the client's side; were it not closed by the server, this
    // would wait out the 10-minute timeout and the test would fail on its own timeout.
    await stopAccepting(server, 600_000);
    expect(server.listening).toBe(false);
    agent.destroy();
  });
});
