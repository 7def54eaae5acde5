import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import type { RequestTiming } from "@omnigate/server-kit/request-metrics";
import type { Logger } from "../logger.js";
import { connectionFailure, isStaleSocketError } from "../engines/engine-http.js";
import type { EnginePassThrough, ServerTarget } from "../engines/types.js";
import { startEventStream, streamBrokeOff, withCharset } from "./openai-reply.js";

/** An engine's error bodies are short; past this the rest is not kept for the message. */
const MAX_ERROR_BODY = 64 * 1024;

class ClientGone extends Error {
  override name = "ClientGone";
}

/**
 * One pass-through call relayed between a running engine and the client, as an undici dispatch
 * handler: the answer goes to the client chunk by chunk as it comes (an event stream included), the
 * engine paused while the client's socket is full; no stream objects, promises or AbortSignal in
 * between (every chat completion comes this way). An answer other than 2xx is read (bounded) and
 * answered as the OpenAI error the engine's adapter makes of it. A request whose kept-alive socket
 * the engine had closed is sent once more on a fresh one, as `engineRequest` does.
 */
export class EngineRelay implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | undefined;
  #retried = false;
  #committed = false;
  #sse = false;
  #status = 0;
  /** The body of an answer other than 2xx, for the error message. */
  #failed: Buffer[] | undefined;
  #failedBytes = 0;
  #clientGone = false;
  #over = false;

  constructor(
    private readonly target: ServerTarget,
    private readonly pass: EnginePassThrough,
    private readonly res: ServerResponse,
    private readonly timing: RequestTiming,
    private readonly respond: (res: ServerResponse, err: unknown) => void,
    private readonly log: Logger,
  ) {
    this.#send();
  }

  /** The client went away: the engine request is cut. */
  abort(): void {
    this.#clientGone = true;
    this.#controller?.abort(new ClientGone("the client closed the connection"));
  }

  #send(): void {
    const timeout = this.target.timeoutMs;
    this.target.pool.dispatch(
      { method: "POST", path: this.pass.path, headers: this.pass.headers, body: this.pass.body, headersTimeout: timeout, bodyTimeout: timeout },
      this,
    );
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#clientGone) controller.abort(new ClientGone("the client closed the connection"));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return;
    this.#status = statusCode;
    if (statusCode >= 300) {
      this.#failed = [];
      return;
    }
    const res = this.res;
    const type = headers["content-type"];
    const contentType = typeof type === "string" ? type : "application/json";
    this.#committed = true;
    res.statusCode = statusCode;
    if (this.pass.stream && statusCode === 200 && contentType.includes("text/event-stream")) {
      this.#sse = true;
      startEventStream(res);
      return;
    }
    res.setHeader("content-type", withCharset(contentType));
    const length = headers["content-length"];
    if (typeof length === "string") res.setHeader("content-length", length);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#failed) {
      if (this.#failedBytes < MAX_ERROR_BODY) this.#failed.push(chunk);
      this.#failedBytes += chunk.length;
      return;
    }
    if (this.#clientGone) return;
    this.timing.firstByteAt ??= performance.now();
    // undici may hand over a chunk it already had after pause(): it is written, still paused.
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once("drain", () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.#over = true;
    if (this.#clientGone) return;
    const failed = this.#failed;
    if (failed) {
      this.respond(this.res, this.pass.failure(this.#status, Buffer.concat(failed).toString("utf8").slice(0, MAX_ERROR_BODY)));
      return;
    }
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.#over || this.#clientGone) return;
    // Nothing came back yet: the engine closed a kept-alive socket under us (llama-server does after
    // a stream). Once more, on a fresh connection: after the pool has dropped the dead one.
    if (this.#status === 0 && !this.#retried && isStaleSocketError(err)) {
      this.#retried = true;
      this.#controller = undefined;
      setImmediate(() => (this.#clientGone ? undefined : this.#send()));
      return;
    }
    this.#over = true;
    if (!this.#committed) {
      this.respond(this.res, connectionFailure(err, this.pass.engine));
      return;
    }
    // Bytes already went out: an event stream ends with an error event the client can read, any
    // other answer is cut so it cannot pass for a whole one.
    if (this.#sse) streamBrokeOff(this.res, err, this.log);
    else this.res.destroy();
  }
}
