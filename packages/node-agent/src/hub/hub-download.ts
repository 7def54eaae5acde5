import { Agent, request, type Dispatcher } from "undici";
import type { Logger } from "../logger.js";
import type { HubClient } from "./hub-client.js";
import { classifyStatus, classifyTransportError, exhaustedError, type CallContext } from "./hub-error-map.js";
import { HubBadResponseError, HubNetworkError, type HubResult } from "./hub-errors.js";
import { abortReason, backoffDelay, parseRetryAfter, sleep, type Attempt } from "./hub-retry.js";

/** Where downloaded bytes go: the cache's `.incomplete` file with its running hash. */
export interface DownloadSink {
  /** Bytes accepted so far: the offset the next request resumes from. */
  readonly bytes: number;
  /** The server would not resume (a 200 to a range request, or 416): drop everything, start at 0. */
  restart(): Promise<void>;
  /** The next chunk, in order. A returned promise means: wait before sending more (backpressure). */
  write(chunk: Buffer): void | Promise<void>;
  /** Everything accepted is on disk; called before each retry so `bytes` matches the file. */
  flush(): Promise<void>;
}

export interface DownloadRequest {
  /** From HEAD /resolve: the hub itself (non-LFS) or a CDN (LFS). */
  readonly url: string;
  readonly size: number;
  readonly repo: string;
  readonly revision: string;
  readonly path: string;
  readonly sink: DownloadSink;
  readonly signal?: AbortSignal;
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

/**
 * Streams file bytes into a sink, resuming with `Range` after drops and stalls.
 *
 * undici rather than axios for this one GET: its body is a plain Readable over the socket with no
 * redirect-follower or decompression stream in between, so a 1 GiB pull costs less CPU per byte —
 * and the CPU is shared with sha256, which decides whether we keep up with curl (BENCHMARKS.md).
 */
export class HubDownloader {
  private readonly agent: Dispatcher;
  private readonly log: Logger;

  constructor(private readonly hub: HubClient) {
    const t = hub.options.timeoutMs;
    this.agent = new Agent({ connect: { timeout: t }, headersTimeout: t, bodyTimeout: t, keepAliveTimeout: 10_000 });
    this.log = hub.options.logger.child({ component: "hub-download" });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /**
   * Runs until the sink holds `size` bytes, a final error, or the retries run out. Attempts that
   * moved bytes forward reset the retry budget: a flaky link that keeps making progress finishes.
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
      this.log.warn({ path: req.path, at: req.sink.bytes, of: req.size, delayMs, error: error.message }, "download interrupted, resuming");
      await sleep(delayMs, req.signal);
    }
  }

  private async attempt(req: DownloadRequest, ctx: CallContext): Promise<Attempt<void>> {
    const { sink } = req;
    let url = req.url;
    try {
      for (let hop = 0; hop < 8; hop++) {
        if (sink.bytes >= req.size) return { kind: "done", data: undefined };
        const start = sink.bytes;
        const headers: Record<string, string> = { "user-agent": "omnigate-agent", "accept-encoding": "identity", ...this.hub.authHeaders(url) };
        if (start > 0) headers["range"] = `bytes=${start}-`;
        const res = await request(url, { method: "GET", headers, signal: req.signal, dispatcher: this.agent });
        const h = res.headers;
        const header = (name: string): string | undefined => {
          const v = h[name];
          return Array.isArray(v) ? v[0] : v;
        };
        if (res.statusCode >= 300 && res.statusCode < 400 && header("location")) {
          // Manual redirects: the token goes only to the hub's origin (authHeaders), never a CDN.
          await res.body.dump();
          url = new URL(header("location")!, url).href;
          continue;
        }
        if (res.statusCode === 416) {
          await res.body.dump();
          this.log.info({ path: req.path, at: start }, "server refused the resume (416), starting over");
          await sink.restart();
          continue;
        }
        if (res.statusCode !== 200 && res.statusCode !== 206) {
          await res.body.dump();
          return classifyStatus(
            { status: res.statusCode, errorCode: header("x-error-code"), retryAfterMs: parseRetryAfter(header("retry-after")) },
            ctx,
            this.hub.endpoint,
            this.hub.hasToken,
          );
        }
        if (res.statusCode === 200 && start > 0) {
          this.log.info({ path: req.path, at: start }, "server ignored the Range header (200), starting over");
          await sink.restart();
        } else if (res.statusCode === 206) {
          const m = CONTENT_RANGE.exec(header("content-range") ?? "");
          if (!m || Number(m[1]) !== start) {
            await res.body.dump();
            await sink.restart();
            return { kind: "fail", error: new HubBadResponseError(`the server answered a range request for ${req.path} with the wrong range (${header("content-range") ?? "none"})`) };
          }
        }
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          const wait = sink.write(chunk);
          if (wait) await wait;
        }
        await sink.flush();
        if (sink.bytes < req.size) {
          return { kind: "retry", error: new HubNetworkError(ctx.what, `connection closed after ${sink.bytes} of ${req.size} bytes`, 1) };
        }
        return { kind: "done", data: undefined };
      }
      return { kind: "fail", error: new HubBadResponseError(`too many redirects downloading ${req.path}`) };
    } catch (err) {
      await sink.flush();
      if (req.signal?.aborted) throw abortReason(req.signal);
      return classifyTransportError(err, ctx, this.hub.options.timeoutMs) as Attempt<void>;
    }
  }
}

