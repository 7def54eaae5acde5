import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Readable } from "node:stream";
import axios, { type AxiosInstance } from "axios";
import type { Logger } from "../logger.js";
import type { HubClient } from "./hub-client.js";
import { classifyStatus, classifyTransportError, exhaustedError, type CallContext } from "./hub-error-map.js";
import { HubBadResponseError, HubError, HubNetworkError, RangeNotHonouredError, RemoteFileChangedError, SignedUrlRefusedError, type HubResult } from "./hub-errors.js";
import { abortReason, backoffDelay, parseRetryAfter, sleep, type Attempt } from "./hub-retry.js";

/** Where downloaded bytes go: a lane's part of the cache's `.incomplete` file. */
export interface DownloadSink {
  /** The file offset the next byte goes to: where the next request resumes. */
  readonly bytes: number;
  /** The server would not resume (a 200 to a range request, or 416): drop everything, start at 0. */
  restart(): Promise<void>;
  /** The next chunk, in order. A returned promise means: wait before sending more (backpressure). */
  write(chunk: Buffer): void | Promise<void>;
  /** Everything accepted is on disk; called before each retry so `bytes` matches the file. */
  flush(): Promise<void>;
}

/**
 * The version of the file the bytes come from: the first response's ETag (else Last-Modified),
 * or the one a resumed download recorded. Every later response must carry the same.
 */
export class RemoteVersion {
  constructor(private value?: string) {}

  get current(): string | undefined {
    return this.value;
  }

  /** False when `validator` differs from the one seen first. */
  accept(validator: string | undefined): boolean {
    if (validator === undefined) return true;
    this.value ??= validator;
    return validator === this.value;
  }
}

export interface DownloadRequest {
  /** From HEAD /resolve: the hub itself (non-LFS) or a CDN (LFS). */
  readonly url: string;
  readonly size: number;
  readonly repo: string;
  readonly revision: string;
  readonly path: string;
  readonly sink: DownloadSink;
  /**
   * A lane of a parallel download: only bytes `[sink.bytes, end)`, each request for exactly that
   * range. A server that answers with the whole file fails with RangeNotHonouredError. Absent: the
   * rest of the file, and a 200 to a resume means start over.
   */
  readonly end?: number;
  readonly version?: RemoteVersion;
  /** Told once the server has answered with bytes (the parallel download waits for the first). */
  readonly onAnswer?: (status: number) => void;
  readonly signal?: AbortSignal;
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

/**
 * Streams file bytes into a sink: the rest of a file, or one range of it (a lane of a parallel
 * download), resuming with `Range` after drops and stalls. Every answer's ETag is checked against
 * the one the bytes so far came with; a CDN refusing a signed URL is reported as such, for the
 * caller to ask the hub for a fresh one.
 *
 * axios (node:http underneath), as for the other hub calls. undici was measured too: draining
 * 256 MiB from a local server, node:http used ~1.1 s CPU/GiB and 86 MB peak RSS against undici's
 * ~2.0 s/GiB and 139 MB (its wasm parser copies every body byte), and CPU is what the pull shares
 * with sha256. With `responseType: "stream"`, no decompression and no progress hooks, axios hands
 * over node's own response stream: nothing sits between the socket and the sink.
 */
export class HubDownloader {
  private readonly http: AxiosInstance;
  private readonly agents: { http: HttpAgent; https: HttpsAgent };
  private readonly log: Logger;

  constructor(private readonly hub: HubClient) {
    // Keep-alive: a repo's many small files reuse one connection.
    this.agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
    this.http = axios.create({
      responseType: "stream",
      decompress: false,
      maxRedirects: 0,
      maxContentLength: -1,
      validateStatus: () => true,
      timeout: hub.options.timeoutMs,
      httpAgent: this.agents.http,
      httpsAgent: this.agents.https,
      headers: { "user-agent": "omnigate-agent", "accept-encoding": "identity" },
    });
    this.log = hub.options.logger.child({ component: "hub-download" });
  }

  async close(): Promise<void> {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /**
   * Runs until the sink reaches the end of its range, a final error, or the retries run out.
   * Attempts that moved bytes forward reset the retry budget: a flaky link that keeps making
   * progress finishes.
   */
  async download(req: DownloadRequest): Promise<HubResult<void>> {
    const ctx: CallContext = { what: `download of ${req.repo}/${req.path}`, repo: req.repo, revision: req.revision, path: req.path, kind: "bytes" };
    const policy = this.hub.retry;
    let failures = 0;
    for (;;) {
      if (req.signal?.aborted) throw abortReason(req.signal);
      const before = req.sink.bytes;
      const outcome = await this.attempt(req, ctx);
      if (outcome.kind === "done") return { ok: true, data: undefined };
      if (outcome.kind === "fail") return { ok: false, error: outcome.error, status: outcome.error.status };
      failures = req.sink.bytes > before ? 1 : failures + 1;
      const { error, retryAfterMs } = outcome;
      if (retryAfterMs !== undefined && retryAfterMs > policy.maxRetryAfterMs) return { ok: false, error, status: error.status };
      if (failures >= policy.maxAttempts) {
        const final = exhaustedError(error, ctx, failures, this.hub.options.timeoutMs);
        return { ok: false, error: final, status: final.status };
      }
      const delayMs = retryAfterMs ?? backoffDelay(policy, failures);
      this.log.warn({ path: req.path, at: req.sink.bytes, end: req.end ?? req.size, delayMs, error: error.message }, "download interrupted, resuming");
      await sleep(delayMs, req.signal);
    }
  }

  private async attempt(req: DownloadRequest, ctx: CallContext): Promise<Attempt<void>> {
    const { sink } = req;
    const bounded = req.end !== undefined;
    const end = req.end ?? req.size;
    let url = req.url;
    try {
      for (let hop = 0; hop < 8; hop++) {
        if (sink.bytes >= end) return { kind: "done", data: undefined };
        const start = sink.bytes;
        const headers: Record<string, string> = { "user-agent": "omnigate-agent", "accept-encoding": "identity", ...this.hub.authHeaders(url) };
        if (bounded) headers["range"] = `bytes=${start}-${end - 1}`;
        else if (start > 0) headers["range"] = `bytes=${start}-`;
        const res = await this.http.get<Readable>(url, { headers, signal: req.signal });
        const body = res.data;
        const header = (name: string): string | undefined => {
          const v: unknown = res.headers[name];
          return typeof v === "string" ? v : Array.isArray(v) ? String(v[0]) : v === undefined || v === null ? undefined : String(v);
        };
        const discard = (): void => {
          body.resume(); // read the (small) error body out so the connection can be reused
        };
        const fail = (error: HubError): Attempt<void> => {
          body.destroy();
          return { kind: "fail", error };
        };
        if (res.status >= 300 && res.status < 400 && header("location")) {
          // Manual redirects: the token goes only to the hub's origin (authHeaders), never a CDN.
          discard();
          url = new URL(header("location")!, url).href;
          continue;
        }
        if ((res.status === 401 || res.status === 403) && !this.hub.isHubUrl(url)) {
          // Not the hub refusing us (that is a real auth error): a signed CDN URL past its expiry.
          discard();
          return { kind: "fail", error: new SignedUrlRefusedError(req.path, res.status, new URL(url).origin) };
        }
        if (res.status === 416) {
          if (bounded) return fail(new RemoteFileChangedError(req.path, `it refused bytes ${start}-${end - 1} of ${req.size} (416)`));
          discard();
          this.log.info({ path: req.path, at: start }, "server refused the resume (416), starting over");
          await sink.restart();
          continue;
        }
        if (res.status !== 200 && res.status !== 206) {
          discard();
          return classifyStatus(
            { status: res.status, errorCode: header("x-error-code"), retryAfterMs: parseRetryAfter(header("retry-after")) },
            ctx,
            this.hub.endpoint,
            this.hub.hasToken,
          );
        }
        const validator = header("etag") ?? header("last-modified");
        if (req.version && !req.version.accept(validator)) {
          return fail(new RemoteFileChangedError(req.path, `its ETag went from ${req.version.current} to ${validator}`));
        }
        if (res.status === 200 && bounded) return fail(new RangeNotHonouredError(req.path));
        if (res.status === 200 && start > 0) {
          this.log.info({ path: req.path, at: start }, "server ignored the Range header (200), starting over");
          await sink.restart();
        } else if (res.status === 206) {
          const m = CONTENT_RANGE.exec(header("content-range") ?? "");
          if (m && m[3] !== "*" && Number(m[3]) !== req.size) {
            return fail(new RemoteFileChangedError(req.path, `it is ${m[3]} bytes now, not ${req.size}`));
          }
          if (!m || Number(m[1]) !== start) {
            body.destroy();
            if (!bounded) await sink.restart();
            return { kind: "fail", error: new HubBadResponseError(`the server answered a range request for ${req.path} with the wrong range (${header("content-range") ?? "none"})`) };
          }
        }
        req.onAnswer?.(res.status);
        await drain(body, sink, this.hub.options.timeoutMs);
        await sink.flush();
        if (sink.bytes < end) {
          return { kind: "retry", error: new HubNetworkError(ctx.what, `connection closed at byte ${sink.bytes} of ${end}`, 1) };
        }
        return { kind: "done", data: undefined };
      }
      return { kind: "fail", error: new HubBadResponseError(`too many redirects downloading ${req.path}`) };
    } catch (err) {
      await sink.flush();
      if (req.signal?.aborted) throw abortReason(req.signal);
      if (err instanceof HubError) return { kind: "fail", error: err };
      return classifyTransportError(err, ctx, this.hub.options.timeoutMs) as Attempt<void>;
    }
  }
}

/**
 * Feeds a body into the sink with "data" events rather than `for await` (one promise per chunk
 * less), pausing while the sink asks to wait. A body silent for `idleMs` while we are reading is
 * a stalled connection: destroyed with ETIMEDOUT so the caller resumes it.
 */
function drain(body: Readable, sink: DownloadSink, idleMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const stalled = (): void => {
      body.destroy(Object.assign(new Error(`no data for ${idleMs} ms`), { code: "ETIMEDOUT" }));
    };
    let timer: NodeJS.Timeout | undefined = setTimeout(stalled, idleMs);
    const stop = (): void => {
      if (timer) clearTimeout(timer);
      timer = undefined;
    };
    const fail = (err: unknown): void => {
      stop();
      body.destroy();
      reject(err);
    };
    body.on("data", (chunk: Buffer) => {
      timer?.refresh();
      let wait: void | Promise<void>;
      try {
        wait = sink.write(chunk);
      } catch (err) {
        return fail(err);
      }
      if (wait) {
        // Waiting on our own disk is not the server stalling: no idle timer meanwhile.
        body.pause();
        stop();
        wait.then(() => {
          timer = setTimeout(stalled, idleMs);
          body.resume();
        }, fail);
      }
    });
    body.once("end", () => {
      stop();
      resolve();
    });
    body.once("error", (err) => {
      stop();
      reject(err);
    });
  });
}
