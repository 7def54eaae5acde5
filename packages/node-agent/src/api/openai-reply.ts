import { once } from "node:events";
import type { ServerResponse } from "node:http";
import { ApiError, errorBody, statusOf, type ErrorCode } from "@omnigate/shared/errors";
import type { Logger } from "../logger.js";
import type { EngineReply } from "../engines/types.js";

/** Seconds a client should wait before retrying a model that is starting. */
const RETRY_AFTER_S = "2";

/**
 * A JSON answer on Node's own response API (no Express helpers): the data plane and the node-secret
 * check answer on the listener's plain `ServerResponse` through it.
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
  if (err instanceof ApiError) {
    if (err.status >= 500) log.warn({ request_id: requestIdOf(res), code: err.code, message: err.message }, "engine request failed");
    sendError(res, err.code, err.message, err.param, err.status);
    return;
  }
  log.error({ request_id: requestIdOf(res), err }, "unexpected error in the data plane");
  sendError(res, "internal_error", "The node agent hit an internal error; the details are in its log. Retry the request.");
}

/** Text and JSON types say their charset, as Express's `res.type()` does. */
function withCharset(type: string): string {
  return /charset=/i.test(type) || !/^text\/|[/+]json\b/i.test(type) ? type : `${type}; charset=utf-8`;
}

function waitForDrain(res: ServerResponse): Promise<unknown> {
  return Promise.race([once(res, "drain"), once(res, "close")]);
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
      res.flushHeaders();
      try {
        for await (const chunk of body) {
          if (res.destroyed) break;
          if (!res.write(chunk as Buffer)) await waitForDrain(res);
        }
        if (!res.destroyed) res.end();
      } catch (err) {
        if (signal.aborted || res.destroyed) return;
        log.warn({ request_id: requestIdOf(res), err }, "engine stream broke off");
        const event = errorBody("engine_error", "The engine stopped in the middle of the stream (it may have crashed); retry the request.");
        res.end(`data: ${JSON.stringify(event)}\n\n`);
      } finally {
        body.destroy();
      }
      return;
    }
  }
}

/** The gateway's X-Request-Id for this request (both hops and both logs share it), if it sent one. */
function requestIdOf(res: ServerResponse): string | undefined {
  const id = res.req?.headers["x-request-id"];
  return typeof id === "string" ? id : undefined;
}
