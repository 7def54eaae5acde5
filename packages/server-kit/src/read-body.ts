import type { IncomingMessage } from "node:http";
import { payloadTooLarge } from "./body-errors.js";

/** The body a request may have: its limit, what it is called, the variable that sets the limit, and who refuses it. */
export interface BodyLimit {
  readonly limit: number;
  readonly what: string;
  readonly variable: string;
  /** "the gateway", "this node": named in the 413. */
  readonly who: string;
}

/**
 * One request's share of a budget of bodies held in memory (the gateway's OMNIGATE_MAX_BUFFERED_BYTES):
 * every byte read is counted; a body the budget cannot take is refused with `refusal()`.
 */
export interface BodyAccount {
  /** Counts `bytes` more; false (and nothing counted) when that would pass the budget. */
  take(bytes: number): boolean;
  /** What a body the budget cannot take is refused with (a 429). */
  refusal(): Error;
}

/** The client went away before its body arrived: nobody to answer. */
export class ClientGoneError extends Error {
  override name = "ClientGoneError";
  constructor() {
    super("The client closed the connection.");
  }
}

/**
 * The whole request body as one Buffer, at most `bound.limit` bytes. The body is kept (not streamed
 * through): the fields a request is routed by may come last, and the gateway re-sends it on a
 * failover. A Content-Length over the limit is refused before a byte is read. A refused body is
 * left paused: the error answer drops the rest of it (a lingering close, linger.ts).
 */
export function readBody(req: IncomingMessage, bound: BodyLimit, account?: BodyAccount): Promise<Buffer> {
  const { limit } = bound;
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(payloadTooLarge(bound.what, limit, bound, bound.variable));
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
      if (size > limit) return refuse(payloadTooLarge(bound.what, limit, bound, bound.variable));
      if (account && !account.take(chunk.length)) return refuse(account.refusal());
      if (!first) first = chunk;
      else (chunks ??= [first]).push(chunk);
    };
    // The listeners stay on a request read to its end: nothing comes after 'end' but 'close',
    // which finds it ended (and detaching four listeners is a cost every request would pay).
    const onEnd = () => {
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
