import { Router, type RequestHandler } from "express";
import type { Snapshot } from "@omnigate/shared/events";
import type { Logger } from "../logger.js";
import { sseFrame, type EventBus } from "./event-bus.js";

export interface EventRoutesDeps {
  readonly bus: EventBus;
  /** The state right now, as GET /api/nodes, /v1/models and /api/keys would answer it. */
  readonly snapshot: () => Snapshot;
  /** Admin authentication, run before the stream opens. */
  readonly admin: RequestHandler;
  readonly logger: Logger;
  /** How often an idle stream sends a comment, so proxies and load balancers keep it open. */
  readonly keepAliveMs?: number;
  /** A client that lets this much pile up unread is cut; it reconnects and starts from a snapshot. */
  readonly maxBufferedBytes?: number;
}

const KEEP_ALIVE_MS = 15_000;
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** What EventSource clients wait before reconnecting. */
const RETRY_MS = 2_000;

/**
 * `GET /api/events` (admin): Server-Sent Events. Every connection starts with a `snapshot` event,
 * so a client that reconnects with `Last-Event-ID` gets a fresh one, whatever it missed, and then
 * the stream from the instant the snapshot was taken. The snapshot's id is the id of the last event
 * it already reflects.
 */
export function eventRoutes(deps: EventRoutesDeps): Router {
  const log = deps.logger.child({ component: "events" });
  const keepAliveMs = deps.keepAliveMs ?? KEEP_ALIVE_MS;
  const maxBuffered = deps.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
  const router = Router();

  router.get("/api/events", deps.admin, (req, res) => {
    // The snapshot and the subscription happen in one tick: no event can fall between them. Taken
    // before the headers go out, so a failure is still an error answer, not a broken stream.
    const snapshot = JSON.stringify({ type: "snapshot", ...deps.snapshot() });
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      // A buffering proxy (nginx) would hold events back.
      "x-accel-buffering": "no",
    });
    res.write(`retry: ${RETRY_MS}\n\n${sseFrame(deps.bus.lastId, "snapshot", snapshot)}`);

    const send = (text: string): void => {
      if (res.writableLength > maxBuffered) {
        log.warn({ buffered: res.writableLength }, "event stream client is not reading; cut (it starts over from a snapshot)");
        res.destroy();
        return;
      }
      res.write(text);
    };
    const unsubscribe = deps.bus.subscribe(
      (published) => send(published.frame),
      () => res.end(),
    );
    const keepAlive = setInterval(() => send(": ping\n\n"), keepAliveMs);
    keepAlive.unref();
    log.debug({ last_event_id: req.headers["last-event-id"] ?? null }, "event stream opened");
    res.on("close", () => {
      clearInterval(keepAlive);
      unsubscribe();
    });
  });

  return router;
}
