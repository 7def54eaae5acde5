import type { IncomingMessage } from "node:http";
import type { ApiError } from "@omnigate/shared/errors";
import { payloadTooLarge } from "@omnigate/server-kit/body-errors";
import { BodyBudgetError, type BodyAccount } from "./body-budget.js";

/** The body a request may have: its limit, what it is called, and the variable that sets the limit. */
export interface BodyLimit {
  readonly limit: number;
  readonly what: string;
  readonly variable: string;
}

function tooLarge(bound: BodyLimit, closeConnection = false): ApiError {
  // A body too big to drain is left unread: that connection cannot be reused.
  return payloadTooLarge(bound.what, bound.limit, { who: "the gateway" }, bound.variable, closeConnection ? { Connection: "close" } : {});
}

/**
 * How much of an over-limit body is read and dropped after the 413, so a client still sending gets
 * the 413 instead of a reset (closing a socket with unread data makes the kernel send RST). Beyond
 * this the socket is cut: a hostile client cannot make the gateway read forever.
 */
function drainAllowance(limit: number): number {
  return Math.max(limit, 1024 * 1024);
}

/** Reads and drops the rest of the body, cutting the connection past the allowance. */
function drain(req: IncomingMessage, allowance: number): void {
  let dropped = 0;
  req.on("data", (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > allowance) req.socket.destroy();
  });
  req.on("error", () => {});
  req.resume();
}

/** The client went away before its body arrived: nobody to answer. */
export class ClientGoneError extends Error {
  override name = "ClientGoneError";
  constructor() {
    super("The client closed the connection.");
  }
}

/**
 * The whole request body as one Buffer, at most `limit` bytes. The body is kept (not streamed
 * through) because the model name may come last and a failover re-sends it to another node.
 * A Content-Length over the limit is refused before a byte is read. Every byte kept is counted in
 * `account` (the gateway-wide budget); a body the budget cannot take is refused with a 429.
 */
export function readBody(req: IncomingMessage, bound: BodyLimit, account?: BodyAccount): Promise<Buffer> {
  const { limit } = bound;
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) {
    const tooBigToDrain = Number(declared) - limit > drainAllowance(limit);
    if (!tooBigToDrain) drain(req, drainAllowance(limit));
    return Promise.reject(tooLarge(bound, tooBigToDrain));
  }
  return new Promise<Buffer>((resolve, reject) => {
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const refuse = (err: Error) => {
      cleanup();
      first = undefined;
      chunks = undefined;
      drain(req, drainAllowance(limit));
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return refuse(tooLarge(bound));
      if (account && !account.take(chunk.length)) return refuse(new BodyBudgetError(account.max));
      if (!first) first = chunk;
      else (chunks ??= [first]).push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks ? Buffer.concat(chunks, size) : (first ?? Buffer.alloc(0)));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      if (req.readableEnded) return;
      cleanup();
      reject(new ClientGoneError());
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}
