import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

// A client's id is kept when it is a plain token; anything else (or none) gets a fresh UUID.
const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/**
 * The request's id: the `X-Request-Id` it came with when that is a plain token (the gateway's, on
 * the agent), else a fresh UUID. Both hops put it on every answer and in every log line about it.
 */
export function requestIdOf(req: Pick<IncomingMessage, "headers">): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
}
