import { once } from "node:events";
import type { ServerResponse } from "node:http";
import { errorBody } from "@omnigate/shared/errors";
import type { RequestTiming } from "@omnigate/server-kit/request-metrics";
import { sendJson } from "@omnigate/server-kit/respond";
import type { Logger } from "../logger.js";
import type { EngineReply } from "../engines/types.js";

/** Text and JSON types say their charset, as Express's `res.type()` does. */
export function withCharset(type: string): string {
  return /charset=/i.test(type) || !/^text\/|[/+]json\b/i.test(type) ? type : `${type}; charset=utf-8`;
}

function waitForDrain(res: ServerResponse): Promise<unknown> {
  return Promise.race([once(res, "drain"), once(res, "close")]);
}

/** Starts an event-stream answer: its headers go out at once, each event as soon as it is written. */
export function startEventStream(res: ServerResponse): void {
  res.setHeader("content-type", "text/event-stream; charset=utf-8");
  res.setHeader("cache-control", "no-cache");
  // Tells nginx-like proxies in front of the agent not to buffer either.
  res.setHeader("x-accel-buffering", "no");
  res.socket?.setNoDelay(true);
  res.flushHeaders();
}

/** An engine that broke off in the middle of a stream: the stream ends with an error event, not a silent cut. */
export function streamBrokeOff(res: ServerResponse, err: unknown, log: Logger): void {
  log.warn({ request_id: res.getHeader("x-request-id"), err }, "engine stream broke off");
  const event = errorBody("engine_error", "The engine stopped in the middle of the stream (it may have crashed); retry the request.");
  res.end(`data: ${JSON.stringify(event)}\n\n`);
}

/**
 * Writes an engine reply. SSE is passed through chunk by chunk as it arrives — `: ping` comments
 * included — with backpressure from the client; an engine that dies mid-stream ends the stream with
 * an error event instead of a silent cut. The first body byte's time goes to `timing`.
 */
export async function sendReply(res: ServerResponse, reply: EngineReply, signal: AbortSignal, log: Logger, timing: RequestTiming): Promise<void> {
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
      startEventStream(res);
      try {
        for await (const chunk of body) {
          if (res.destroyed) break;
          timing.firstByteAt ??= performance.now();
          if (!res.write(chunk as Buffer)) await waitForDrain(res);
        }
        if (!res.destroyed) res.end();
      } catch (err) {
        if (signal.aborted || res.destroyed) return;
        streamBrokeOff(res, err, log);
      } finally {
        body.destroy();
      }
      return;
    }
  }
}
