import { Pool, type Dispatcher, type FormData } from "undici";
import { EngineRequestError } from "./engine-errors.js";
import type { EnginePassThrough, EngineReply, ServerTarget } from "./types.js";

/**
 * A keep-alive pool to one engine. No connection cap: llama-server queues requests beyond its slots
 * itself, and a stream holds its connection for its whole life.
 */
export function createEnginePool(baseUrl: string): Pool {
  return new Pool(baseUrl, {
    connections: null,
    pipelining: 1,
    // Shorter than llama-server's / cpp-httplib's 5 s keep-alive, so the pool drops a socket first.
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 4_000,
    connect: { timeout: 5_000 },
  });
}

export interface EngineRequestOptions {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly body?: string | Buffer | FormData;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  /** Overrides the target's timeout (readiness polls are short). */
  readonly timeoutMs?: number;
}

const STALE_SOCKET = new Set(["UND_ERR_SOCKET", "ECONNRESET", "EPIPE"]);

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The engine closed a kept-alive socket under us before answering (llama-server does, after streams). */
export function isStaleSocketError(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && STALE_SOCKET.has(code);
}

export function isAbortError(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === "AbortError" || errorCode(err) === "UND_ERR_ABORTED" || errorCode(err) === "ABORT_ERR";
}

/**
 * One request to an engine. A request whose socket the engine closed before any response byte came
 * back is retried once: undici then dials a fresh connection. The body is a Buffer, string or
 * FormData, so it can be sent twice.
 */
export async function engineRequest(target: ServerTarget, options: EngineRequestOptions): Promise<Dispatcher.ResponseData> {
  const timeout = options.timeoutMs ?? target.timeoutMs;
  const request = (): Promise<Dispatcher.ResponseData> =>
    target.pool.request({
      method: options.method,
      path: options.path,
      body: options.body ?? null,
      headers: options.headers ?? {},
      signal: options.signal,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
  try {
    return await request();
  } catch (err) {
    if (!isStaleSocketError(err) || options.signal.aborted) throw err;
    return await request();
  }
}

/** Turns an undici failure into the error the client sees (aborts are rethrown untouched). */
export function connectionFailure(err: unknown, engine: string): Error {
  if (isAbortError(err)) return err as Error;
  const code = errorCode(err);
  if (code === "ECONNREFUSED") {
    return new EngineRequestError("model_not_ready", `${engine} is not accepting connections (it is restarting); retry shortly.`);
  }
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
    return new EngineRequestError("upstream_timeout", `${engine} did not answer in time (OMNIGATE_ENGINE_REQUEST_TIMEOUT_S).`);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new EngineRequestError("engine_error", `${engine} failed during the request (${code ?? message}); retry, or check the agent log.`);
}

/** Reads a whole (small) engine body. */
export async function readBytes(body: Dispatcher.ResponseData["body"]): Promise<Buffer> {
  return Buffer.from(await body.arrayBuffer());
}

/** The message inside an engine's error body: `{error:{message}}`, `{error:"…"}`, or the text itself. */
export function engineMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof parsed.error === "string") return parsed.error;
    if (parsed.error && typeof parsed.error === "object" && typeof (parsed.error as { message?: unknown }).message === "string") {
      return (parsed.error as { message: string }).message;
    }
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // not JSON: the text is the message
  }
  return text.trim().slice(0, 500) || "(empty body)";
}

/** An engine's non-2xx answer as the OpenAI error the client gets. */
export function engineStatusError(engine: string, status: number, text: string, hint = ""): EngineRequestError {
  const message = engineMessage(text);
  const suffix = hint ? ` ${hint}` : "";
  if (status === 503) return new EngineRequestError("model_not_ready", `${engine} is not ready: ${message}.${suffix} Retry shortly.`);
  if (status === 413) return new EngineRequestError("payload_too_large", `${engine} refused the request as too large: ${message}.${suffix}`);
  if (status === 501) return new EngineRequestError("invalid_request", `${engine} does not support this request: ${message}.${suffix}`);
  if (status >= 400 && status < 500 && status !== 401 && status !== 403 && status !== 404) {
    return new EngineRequestError("invalid_request", `${engine} rejected the request: ${message}.${suffix}`);
  }
  return new EngineRequestError("engine_error", `${engine} failed with HTTP ${status}: ${message}.${suffix}`);
}

/**
 * A pass-through call as one request whose answer is read whole, or handed over as it comes when it
 * is the event stream the client asked for: `forward` for an engine whose calls pass through.
 */
export async function forwardPassThrough(pass: EnginePassThrough, target: ServerTarget, signal: AbortSignal): Promise<EngineReply> {
  let res;
  try {
    res = await engineRequest(target, { method: "POST", path: pass.path, body: pass.body, headers: pass.headers, signal });
  } catch (err) {
    throw connectionFailure(err, pass.engine);
  }
  const contentType = String(res.headers["content-type"] ?? "application/json");
  if (res.statusCode === 200 && pass.stream && contentType.includes("text/event-stream")) {
    return { kind: "sse", status: 200, body: res.body };
  }
  let bytes: Buffer;
  try {
    bytes = await readBytes(res.body);
  } catch (err) {
    throw connectionFailure(err, pass.engine);
  }
  if (res.statusCode >= 200 && res.statusCode < 300) return { kind: "bytes", status: res.statusCode, contentType, body: bytes };
  throw pass.failure(res.statusCode, bytes.toString("utf8"));
}

/** Readiness as a GET that answers 200 once the engine serves (llama/whisper `/health`, sd `/v1/models`). */
export async function answersOk(target: ServerTarget, path: string, signal: AbortSignal): Promise<boolean> {
  const res = await engineRequest(target, { method: "GET", path, signal, timeoutMs: 5_000 });
  await res.body.dump();
  return res.statusCode === 200;
}
