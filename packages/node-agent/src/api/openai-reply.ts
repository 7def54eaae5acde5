import { once } from "node:events";
import type { Response } from "express";
import { errorBody, statusOf, type ErrorCode } from "@omnigate/shared/errors";
import type { Logger } from "../logger.js";
import { EngineRequestError } from "../engines/engine-errors.js";
import type { EngineReply } from "../engines/types.js";

/** Seconds a client should wait before retrying a model that is starting. */
const RETRY_AFTER_S = "2";

export function sendError(res: Response, code: ErrorCode, message: string, param: string | null = null, status?: number): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (code === "model_not_ready") res.setHeader("retry-after", RETRY_AFTER_S);
  res.status(status ?? statusOf(code)).json(errorBody(code, message, param));
}

/** Maps whatever a request failed with to an OpenAI error; 5xx details are logged, not leaked. */
export function sendFailure(res: Response, err: unknown, log: Logger): void {
  if (err instanceof EngineRequestError) {
    if (err.status >= 500) log.warn({ code: err.code, message: err.message }, "engine request failed");
    sendError(res, err.code, err.message, err.param, err.status);
    return;
  }
  log.error({ err }, "unexpected error in the data plane");
  sendError(res, "internal_error", "The node agent hit an internal error; the details are in its log. Retry the request.");
}

function waitForDrain(res: Response): Promise<unknown> {
  return Promise.race([once(res, "drain"), once(res, "close")]);
}

/**
 * Writes an engine reply. SSE is passed through chunk by chunk as it arrives — `: ping` comments
 * included — with backpressure from the client; an engine that dies mid-stream ends the stream with
 * an error event instead of a silent cut.
 */
export async function sendReply(res: Response, reply: EngineReply, signal: AbortSignal, log: Logger): Promise<void> {
  switch (reply.kind) {
    case "json":
      res.status(reply.status).json(reply.body);
      return;
    case "bytes":
      for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
      res.status(reply.status).type(reply.contentType).setHeader("content-length", String(reply.body.length));
      res.end(reply.body);
      return;
    case "sse": {
      const body = reply.body;
      res.status(reply.status);
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
