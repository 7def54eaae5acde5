import type { ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import { errorBody, statusOf, type ErrorCode } from "@omnigate/shared/errors";
import type { Logger } from "../logger.js";
import { EngineRequestError } from "../engines/engine-errors.js";
import type { EngineReply } from "../engines/types.js";

/** Seconds a client should wait before retrying a model that is starting. */
const RETRY_AFTER_S = "2";

/**
 * A JSON answer on Node's own response API (no Express helpers): the data plane answers both on the
 * fast path (plain `ServerResponse`) and through the Express router with this one function.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.setHeader("content-length", Buffer.byteLength(text));
  res.end(text);
}

export function sendError(res: ServerResponse, code: ErrorCode, message: string, param: string | null = null, status?: number): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (code === "model_not_ready") res.setHeader("retry-after", RETRY_AFTER_S);
  sendJson(res, status ?? statusOf(code), errorBody(code, message, param));
}

/** Maps whatever a request failed with to an OpenAI error; 5xx details are logged, not leaked. */
export function sendFailure(res: ServerResponse, err: unknown, log: Logger): void {
  if (err instanceof EngineRequestError) {
    if (err.status >= 500) log.warn({ code: err.code, message: err.message }, "engine request failed");
    sendError(res, err.code, err.message, err.param, err.status);
    return;
  }
  log.error({ err }, "unexpected error in the data plane");
  sendError(res, "internal_error", "The node agent hit an internal error; the details are in its log. Retry the request.");
}

/** Text and JSON types say their charset, as Express's `res.type()` did before the fast path. */
function withCharset(type: string): string {
  return /charset=/i.test(type) || !/^text\/|[/+]json\b/i.test(type) ? type : `${type}; charset=utf-8`;
}

function ignore(): void {}

/**
 * Relays an engine's SSE body to the client as events arrive, pausing the engine side while the
 * client's socket is full. Plain 'data' events rather than `for await`: the async iterator costs a
 * promise and a microtask turn per chunk, and with a hundred streams relaying at once that CPU is
 * taken from the streams still starting. Resolves when the body ends; rejects when the engine side
 * fails; resolves early when the client is gone (the caller destroys the body).
 */
function relay(body: Readable, res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onDrain = (): void => {
      body.resume();
    };
    const finish = (err?: unknown): void => {
      body.off("data", onData);
      body.off("end", onEnd);
      body.off("error", finish);
      res.off("drain", onDrain);
      res.off("close", onClose);
      if (err === undefined) resolve();
      else reject(err instanceof Error ? err : new Error(String(err)));
    };
    const onData = (chunk: Buffer): void => {
      if (res.destroyed) return;
      if (!res.write(chunk)) body.pause();
    };
    const onEnd = (): void => finish();
    const onClose = (): void => finish();
    // Stays after `finish`: aborting the engine request when the client goes away errors the body
    // later, and an 'error' nobody listens to would throw.
    body.on("error", ignore);
    body.on("data", onData);
    body.once("end", onEnd);
    body.once("error", finish);
    res.on("drain", onDrain);
    res.once("close", onClose);
  });
}

/**
 * Writes an engine reply. SSE is passed through chunk by chunk as it arrives — `: ping` comments
 * included — with backpressure from the client; an engine that dies mid-stream ends the stream with
 * an error event instead of a silent cut.
 */
export async function sendReply(res: ServerResponse, reply: EngineReply, signal: AbortSignal, log: Logger): Promise<void> {
  switch (reply.kind) {
    case "json":
      sendJson(res, reply.status, reply.body);
      return;
    case "bytes":
      for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
      res.statusCode = reply.status;
      res.setHeader("content-type", withCharset(reply.contentType));
      res.setHeader("content-length", reply.body.length);
      res.end(reply.body);
      return;
    case "sse": {
      const body = reply.body;
      res.statusCode = reply.status;
      res.setHeader("content-type", "text/event-stream; charset=utf-8");
      res.setHeader("cache-control", "no-cache");
      // Tells nginx-like proxies in front of the agent not to buffer either.
      res.setHeader("x-accel-buffering", "no");
      res.socket?.setNoDelay(true);
      // The engine's first event usually came in with its headers and is already buffered: then the
      // headers go out with it in one write (one packet and one wake-up for the reader instead of
      // two, for every stream that starts). Otherwise they go now, before a slow first token.
      if (body.readableLength === 0) res.flushHeaders();
      try {
        await relay(body, res);
        if (!res.destroyed) res.end();
      } catch (err) {
        if (signal.aborted || res.destroyed) return;
        log.warn({ err }, "engine stream broke off");
        const event = errorBody("engine_error", "The engine stopped in the middle of the stream (it may have crashed); retry the request.");
        res.end(`data: ${JSON.stringify(event)}\n\n`);
      } finally {
        body.destroy();
      }
      return;
    }
  }
}
