import type { IncomingMessage, ServerResponse } from "node:http";

/** How much of an unwanted body a server reads and drops before it gives up on the client. */
export interface LingerLimits {
  /** Most bytes dropped; a body still bigger (declared or sent) is cut. */
  readonly maxBytes: number;
  /** Longest the whole drain may take. */
  readonly maxMs: number;
  /** Longest silence from the client while draining. */
  readonly idleMs: number;
}

/**
 * nginx's lingering_time is 30 s and lingering_timeout 5 s; the byte bound keeps a client that sends
 * a disk image from holding a connection for the whole time. Dropping bytes costs next to nothing.
 */
export const LINGER: LingerLimits = { maxBytes: 1024 * 1024 * 1024, maxMs: 30_000, idleMs: 5_000 };

/**
 * Prepares the answer to a request whose body was not (all) read: an early refusal (401, 413, 415,
 * 429…). Closing a connection with unread data makes the kernel reset it, and a client still
 * sending its body then sees EPIPE or ECONNRESET instead of the answer (Node's fetch and the
 * official openai client do). So the rest of the body is read and dropped, bounded by `limits`, a
 * lingering close as nginx does; the connection stays open for the client's next request, and is
 * cut only past a bound. A body declared beyond the bound is not waited for: the answer says
 * `Connection: close`.
 */
export function lingerOnUnreadBody(res: ServerResponse, limits: LingerLimits = LINGER): void {
  const req = res.req as IncomingMessage | undefined;
  if (!req || req.complete || req.destroyed || req.readableEnded) return;
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limits.maxBytes) {
    res.setHeader("Connection", "close");
    return;
  }
  discard(req, limits);
}

function discard(req: IncomingMessage, limits: LingerLimits): void {
  let dropped = 0;
  const cut = (): void => {
    done();
    req.socket.destroy();
  };
  const total = setTimeout(cut, limits.maxMs).unref();
  const idle = setTimeout(cut, limits.idleMs).unref();
  const onData = (chunk: Buffer): void => {
    dropped += chunk.length;
    if (dropped > limits.maxBytes) cut();
    else idle.refresh();
  };
  const done = (): void => {
    clearTimeout(total);
    clearTimeout(idle);
    req.off("data", onData);
    req.off("end", done);
    req.off("close", done);
  };
  req.on("data", onData);
  req.once("end", done);
  req.once("close", done);
  // An error here is the client's connection failing: nothing to answer any more.
  req.on("error", () => {});
  req.resume();
}
