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

function tooLarge(bound: BodyLimit): ApiError {
  return payloadTooLarge(bound.what, bound.limit, { who: "the gateway" }, bound.variable);
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
 * `account` (the gateway-wide budget); a body the budget cannot take is refused with a 429. A
 * refused body is left paused: the error answer drops the rest of it (a lingering close).
 */
export function readBody(req: IncomingMessage, bound: BodyLimit, account?: BodyAccount): Promise<Buffer> {
  const { limit } = bound;
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(bound));
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
      req.pause();
      first = undefined;
      chunks = undefined;
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
