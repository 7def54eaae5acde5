import type { IncomingMessage } from "node:http";
import { ApiError } from "../errors/api-error.js";

export class PayloadTooLargeError extends ApiError {
  override name = "PayloadTooLargeError";
  constructor(limit: number, what: string) {
    super(
      "payload_too_large",
      `The ${what} is larger than ${limit} bytes, the gateway's limit. Send a smaller ${what}.`,
      null,
      // The rest of an over-limit body is not read: the connection cannot be reused.
      { Connection: "close" },
    );
  }
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
 * A Content-Length over the limit is refused before a byte is read.
 */
export function readBody(req: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(new PayloadTooLargeError(limit, what));
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
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // Stop reading: the 413 goes out with Connection: close.
        req.pause();
        reject(new PayloadTooLargeError(limit, what));
        return;
      }
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
