import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import { errorBody } from "@omnigate/shared/errors";
import { RequestTiming } from "@omnigate/server-kit/request-metrics";

/** Why one try at one node did not produce an answer. */
export type FailureReason = "refused" | "reset" | "timeout" | "http_5xx" | "unavailable" | "stream" | "tls" | "error";

/** Certificate and handshake failures: an agent whose certificate is revoked, expired, or not from the cluster CA. */
const TLS_FAILURE = /^(ERR_TLS_|ERR_SSL_|ERR_OMNIGATE_CERTIFICATE_)|CERT|SIGNATURE|ISSUER/;

/** What became of one try. */
export type AttemptOutcome =
  /** The client got an answer (maybe a passed-through 5xx), or went away. */
  | { readonly kind: "answered"; readonly status: number; readonly nodeFailed: FailureReason | null }
  /**
   * Nothing reached the client: the request may go to another node. `modelGone`: the agent said
   * 404 model_not_found, so the gateway's view of that node (ready, from its last heartbeat) is stale.
   */
  | { readonly kind: "failed"; readonly reason: FailureReason; readonly detail: string; readonly modelGone?: boolean };

/**
 * The per-request state shared by the attempts of one request, and its timing for the metrics:
 * `firstTokenAt` is a stream's first `data:` event (not a `: ping`), else the first byte.
 */
export class ProxyExchange extends RequestTiming {
  clientGone = false;
  /** Set while an upstream request runs: `abort` cuts it (the client went away). */
  upstream: UpstreamAttempt | undefined = undefined;
  /** Set while the request waits in the queue: takes it out of line. */
  cancelWait: ((reason: unknown) => void) | undefined = undefined;

  constructor(
    readonly id: string,
    readonly res: ServerResponse,
  ) {
    super();
  }
}

export interface AttemptTimeouts {
  readonly firstByteMs: number;
  readonly idleMs: number;
}

// Connection-level headers describe the agent hop only (RFC 9110 §7.6.1); the gateway sets its own.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "proxy-authenticate",
  "proxy-authorization",
  "x-request-id",
]);

class UpstreamTimeoutError extends Error {
  override name = "UpstreamTimeoutError";
}

/** Cuts a 5xx answer so the request can go to another node. */
class FailoverSignal extends Error {
  override name = "FailoverSignal";
}

/**
 * 503 is the agent saying the model is not ready there (its engine restarts; the gateway's view lags
 * a heartbeat): worth trying elsewhere, but not a sign the node is broken.
 */
function failureOfStatus(status: number): FailureReason {
  return status === 503 ? "unavailable" : "http_5xx";
}

/**
 * An agent's 404 is read whole before anything reaches the client, to tell "the model is not served
 * here" (stale readiness: fail over) from any other 404 (passed through). Its error bodies are a few
 * hundred bytes; a 404 body larger than this is not the agent's and is streamed on unread.
 */
const MAX_PROBED_404_BYTES = 16 * 1024;

/** Whether a 404 body is the agent's `model_not_found` error (OpenAI-shaped, code from @omnigate/shared). */
function isModelNotFound(body: Buffer): boolean {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as { error?: { code?: unknown } } | null;
    return parsed?.error?.code === "model_not_found";
  } catch {
    return false;
  }
}

/** An undici error as a failure reason, and words for the log and the client. */
function classify(err: Error & { code?: string }): { reason: FailureReason; detail: string } {
  switch (err.code) {
    case "ECONNREFUSED":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "UND_ERR_CONNECT_TIMEOUT":
      return { reason: "refused", detail: `cannot connect (${err.code})` };
    case "ECONNRESET":
    case "EPIPE":
    case "UND_ERR_SOCKET":
    case "UND_ERR_CLOSED":
      return { reason: "reset", detail: `connection closed (${err.code}: ${err.message})` };
    default:
      if (err.code && TLS_FAILURE.test(err.code)) return { reason: "tls", detail: `TLS handshake refused (${err.code}: ${err.message})` };
      return { reason: "error", detail: `${err.name}: ${err.message}` };
  }
}

/**
 * One forward of the request to one agent, as an undici dispatch handler: no intermediate streams,
 * each chunk goes to the client as it arrives (SSE included; nothing compresses or batches it) and
 * the agent is paused while the client's socket is full. The client's response is started lazily,
 * on the first body byte, so a failure until then can still be retried elsewhere.
 */
export class UpstreamAttempt implements Dispatcher.DispatchHandler {
  readonly #x: ProxyExchange;
  readonly #timeouts: AttemptTimeouts;
  /** Whether a 5xx should be cut and retried elsewhere rather than passed to the client. */
  readonly #canFailover: boolean;
  readonly #settle: (outcome: AttemptOutcome) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #pendingAbort: Error | undefined;
  #timer: NodeJS.Timeout;
  #settled = false;
  #status = 0;
  #headers: IncomingHttpHeaders | undefined;
  #committed = false;
  #sse = false;
  #gotData = false;
  #failoverDetail: string | undefined;
  #failoverStatus = 0;
  #timedOut = false;
  /** A 404 being read whole (see MAX_PROBED_404_BYTES); undefined otherwise. */
  #probed404: Buffer[] | undefined;
  #probedBytes = 0;
  /** Paused because the client's socket is full: the idle timer is stopped meanwhile. */
  #paused = false;
  /** Made once the client's socket is first full (see onResponseData). */
  #resume: (() => void) | undefined;

  constructor(x: ProxyExchange, timeouts: AttemptTimeouts, canFailover: boolean, settle: (o: AttemptOutcome) => void) {
    this.#x = x;
    this.#timeouts = timeouts;
    this.#canFailover = canFailover;
    this.#settle = settle;
    // The attempt rides along as the timer's argument: no closure per request.
    this.#timer = setTimeout(UpstreamAttempt.#onTimeout, timeouts.firstByteMs, this);
    x.upstream = this;
  }

  static #onTimeout(attempt: UpstreamAttempt): void {
    attempt.#timedOut = true;
    attempt.abort(new UpstreamTimeoutError(attempt.#gotData ? "idle timeout" : "first byte timeout"));
  }

  /**
   * The client drained its socket. The upstream was paused by us, so its silence until now is not
   * its fault: the idle limit starts over from here.
   */
  #resumeAfterDrain(): void {
    if (!this.#paused || this.#settled) return;
    this.#paused = false;
    this.#timer = setTimeout(UpstreamAttempt.#onTimeout, this.#timeouts.idleMs, this);
    this.#controller?.resume();
  }

  /** Cuts the upstream request (the client went away, or it timed out). */
  abort(reason: Error): void {
    if (this.#controller) this.#controller.abort(reason);
    else this.#pendingAbort = reason;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#pendingAbort) controller.abort(this.#pendingAbort);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return;
    if (statusCode >= 500 && this.#canFailover) {
      this.#failoverStatus = statusCode;
      this.#failoverDetail = `HTTP ${statusCode}`;
      controller.abort(new FailoverSignal(this.#failoverDetail));
      return;
    }
    this.#status = statusCode;
    this.#headers = headers;
    if (statusCode === 404) this.#probed404 = [];
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled || this.#x.clientGone) return;
    if (this.#probed404) {
      this.#probed404.push(chunk);
      this.#probedBytes += chunk.length;
      if (this.#probedBytes <= MAX_PROBED_404_BYTES) return;
      // Too big to be the agent's error body: pass it on like any other answer.
      chunk = Buffer.concat(this.#probed404);
      this.#probed404 = undefined;
    }
    const res = this.#x.res;
    if (!this.#gotData) {
      this.#gotData = true;
      this.#commit();
      this.#x.firstByteAt = performance.now();
      // From now on the limit is the gap between chunks, not the wait for the first one.
      clearTimeout(this.#timer);
      this.#timer = setTimeout(UpstreamAttempt.#onTimeout, this.#timeouts.idleMs, this);
    } else if (!this.#paused) {
      this.#timer.refresh();
    }
    if (this.#x.firstTokenAt === undefined && (!this.#sse || hasDataLine(chunk))) this.#x.firstTokenAt = performance.now();
    // undici may hand over a chunk it already had after pause(): it is written, still paused.
    if (!res.write(chunk) && !this.#paused) {
      // A slow reader is not a silent upstream: no idle limit until the client drains.
      this.#paused = true;
      clearTimeout(this.#timer);
      controller.pause();
      res.once("drain", (this.#resume ??= () => this.#resumeAfterDrain()));
    }
  }

  onResponseEnd(): void {
    if (this.#settled) return;
    clearTimeout(this.#timer);
    const probed = this.#probed404;
    if (probed) {
      this.#probed404 = undefined;
      const body = Buffer.concat(probed);
      if (this.#x.clientGone) {
        this.#done({ kind: "answered", status: 499, nodeFailed: null });
        return;
      }
      if (isModelNotFound(body)) {
        this.#done({ kind: "failed", reason: "unavailable", detail: "model not served there (404 model_not_found)", modelGone: true });
        return;
      }
      if (body.length > 0) {
        this.#commit();
        this.#x.firstByteAt = performance.now();
        this.#x.firstTokenAt ??= this.#x.firstByteAt;
        this.#x.res.write(body);
      }
    }
    if (!this.#committed) this.#commit();
    this.#x.res.end();
    this.#done({
      kind: "answered",
      status: this.#status,
      nodeFailed: this.#status >= 500 ? failureOfStatus(this.#status) : null,
    });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.#settled) return;
    clearTimeout(this.#timer);
    const x = this.#x;
    if (x.clientGone) {
      this.#done({ kind: "answered", status: 499, nodeFailed: null });
      return;
    }
    const { reason, detail } = this.#failoverDetail
      ? { reason: failureOfStatus(this.#failoverStatus), detail: this.#failoverDetail }
      : this.#timedOut
        ? { reason: "timeout" as const, detail: err.message }
        : classify(err);
    if (!this.#committed) {
      this.#done({ kind: "failed", reason, detail });
      return;
    }
    // Bytes already went out: the status cannot change. An SSE client gets an error event it can
    // read; any other body is cut short so the client cannot mistake it for a whole answer.
    const res = x.res;
    if (this.#sse && !res.writableEnded) {
      const body = errorBody(
        reason === "timeout" ? "upstream_timeout" : "upstream_error",
        `The node serving this stream failed after it started (${detail}). The output above is incomplete; retry the request.`,
      );
      res.end(`data: ${JSON.stringify(body)}\n\n`);
    } else {
      res.destroy();
    }
    this.#done({ kind: "answered", status: this.#status, nodeFailed: reason === "timeout" ? "timeout" : "stream" });
  }

  /** Starts the client's response with the agent's status and end-to-end headers. */
  #commit(): void {
    this.#committed = true;
    const res = this.#x.res;
    const headers = this.#headers ?? {};
    res.statusCode = this.#status;
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      res.setHeader(name, value);
    }
    const type = headers["content-type"];
    if (typeof type === "string" && type.startsWith("text/event-stream")) {
      this.#sse = true;
      // Nothing between here and the client may hold chunks back (nginx honours this header).
      res.setHeader("Cache-Control", "no-cache");
      res.setHeader("X-Accel-Buffering", "no");
    }
  }

  #done(outcome: AttemptOutcome): void {
    this.#settled = true;
    this.#x.upstream = undefined;
    if (this.#resume) this.#x.res.off("drain", this.#resume);
    this.#settle(outcome);
  }
}

/** An SSE chunk carrying an event's data (a line starting `data:`), not only comments like `: ping`. */
function hasDataLine(chunk: Buffer): boolean {
  return chunk.indexOf("data:") === 0 || chunk.indexOf("\ndata:") !== -1;
}
