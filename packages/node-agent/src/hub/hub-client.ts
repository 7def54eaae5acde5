import axios, { type AxiosInstance, type AxiosResponse } from "axios";
import { z } from "zod";
import type { Logger } from "../logger.js";
import { HubBadResponseError, type HubError, type HubResult } from "./hub-errors.js";
import { classifyStatus, classifyTransportError, exhaustedError, type CallContext } from "./hub-error-map.js";
import { DEFAULT_RETRY, abortReason, parseRetryAfter, retrying, type Attempt, type RetryPolicy } from "./hub-retry.js";

/** A git commit hash: what every snapshot folder is named after. */
export const COMMIT_RE = /^[0-9a-f]{40}$/;
/** A blob name: git sha1 (non-LFS) or sha256 (LFS). Anything else could be a path trick. */
export const ETAG_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

export interface HubClientOptions {
  /** Base URL without trailing slash. */
  readonly endpoint: string;
  readonly token?: string;
  /** Headers timeout, and the longest silence inside a download body. */
  readonly timeoutMs: number;
  readonly retry?: RetryPolicy;
  readonly logger: Logger;
}

/** One file of a tree listing, as the hub describes it. Paths are NOT yet checked for safety. */
export interface TreeFile {
  readonly path: string;
  readonly size: number;
  /** sha256 for LFS files, git blob sha1 otherwise: the blob's name in the cache. */
  readonly etag: string;
  readonly lfs: boolean;
}

/** What HEAD /resolve says about a file. */
export interface FileMetadata {
  readonly commit: string;
  readonly etag: string;
  readonly size: number;
  /** Absolute URL of the bytes (a CDN for LFS files). */
  readonly location: string;
}

const TreeEntry = z.object({
  type: z.string(),
  path: z.string(),
  size: z.number().int().nonnegative().optional(),
  oid: z.string().optional(),
  lfs: z.object({ oid: z.string(), size: z.number().int().nonnegative() }).nullish(),
});
const RevisionInfo = z.object({ sha: z.string() });

/** Strips `W/` and quotes from an ETag header value. */
export function normalizeEtag(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return value.trim().replace(/^W\//, "").replace(/^"|"$/g, "");
}

/** The first `rel="next"` URL of a Link header. */
export function nextLink(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (m) return m[1];
  }
  return undefined;
}

const encodePath = (path: string): string => path.split("/").map(encodeURIComponent).join("/");

/**
 * Hub control-plane calls (revision info, tree listing, HEAD metadata) over axios; the downloads
 * themselves are hub-download.ts. Redirects are followed by hand, and the token goes to the hub's
 * own origin only. A HEAD on /resolve follows relative redirects alone (a renamed repo), as
 * huggingface_hub does: an absolute Location is where the file's bytes are, even on the hub's own
 * host (a mirror serving LFS files itself).
 */
export class HubClient {
  readonly endpoint: string;
  readonly retry: RetryPolicy;
  private readonly origin: string;
  private readonly http: AxiosInstance;
  private readonly log: Logger;

  constructor(readonly options: HubClientOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, "");
    this.origin = new URL(this.endpoint).origin;
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.log = options.logger.child({ component: "hub" });
    this.http = axios.create({
      maxRedirects: 0,
      validateStatus: () => true,
      timeout: options.timeoutMs,
      headers: { "user-agent": "omnigate-agent", "accept-encoding": "identity" },
    });
  }

  get hasToken(): boolean {
    return Boolean(this.options.token);
  }

  /** Whether `url` is on the hub's own origin (not a CDN it redirects to). */
  isHubUrl(url: string): boolean {
    return new URL(url).origin === this.origin;
  }

  /** The Authorization header for `url`: only ever for the hub's own origin (never a CDN). */
  authHeaders(url: string): Record<string, string> {
    return this.options.token && this.isHubUrl(url) ? { authorization: `Bearer ${this.options.token}` } : {};
  }

  /** The commit a branch, tag or commit resolves to. */
  async resolveCommit(repo: string, revision: string, signal?: AbortSignal): Promise<HubResult<string>> {
    const ctx: CallContext = { what: `revision info of ${repo}@${revision}`, repo, revision, kind: "api" };
    const url = `${this.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
    return this.call(ctx, signal, async () => {
      const res = await this.get(url, "json", signal);
      if (res.status !== 200) return this.classify(res, ctx);
      const info = RevisionInfo.safeParse(res.data);
      if (!info.success || !COMMIT_RE.test(info.data.sha)) {
        return { kind: "fail", error: new HubBadResponseError(`the hub sent no valid commit hash for ${repo}@${revision}`) };
      }
      return { kind: "done", data: info.data.sha };
    });
  }

  /** Every file of a revision (recursive), following `Link: rel="next"` pages on the hub's origin. */
  async listFiles(repo: string, revision: string, signal?: AbortSignal): Promise<HubResult<TreeFile[]>> {
    const files: TreeFile[] = [];
    let url: string | undefined = `${this.endpoint}/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=true&expand=false`;
    for (let page = 0; url; page++) {
      if (page > 10_000) return { ok: false, error: new HubBadResponseError(`tree listing of ${repo} does not end`) };
      const pageUrl: string = url;
      const ctx: CallContext = { what: `file list of ${repo}@${revision}`, repo, revision, kind: "api" };
      const result = await this.call(ctx, signal, async (): Promise<Attempt<{ entries: unknown; next?: string }>> => {
        const res = await this.get(pageUrl, "json", signal);
        if (res.status !== 200) return this.classify(res, ctx);
        return { kind: "done", data: { entries: res.data, next: nextLink(res.headers["link"] as string | undefined) } };
      });
      if (!result.ok) return result;
      const parsed = z.array(TreeEntry).safeParse(result.data.entries);
      if (!parsed.success) return { ok: false, error: new HubBadResponseError(`the hub sent a malformed file list for ${repo}@${revision}`) };
      for (const e of parsed.data) {
        if (e.type !== "file") continue;
        const etag = e.lfs ? e.lfs.oid : e.oid;
        const size = e.lfs ? e.lfs.size : e.size;
        if (etag === undefined || size === undefined) {
          return { ok: false, error: new HubBadResponseError(`the hub's file list for ${repo} has no oid or size for '${e.path}'`) };
        }
        files.push({ path: e.path, size, etag: etag.toLowerCase(), lfs: Boolean(e.lfs) });
      }
      const next = result.data.next ? new URL(result.data.next, pageUrl) : undefined;
      if (next && next.origin !== this.origin) {
        return { ok: false, error: new HubBadResponseError(`the hub's file list for ${repo} points its next page at another host (${next.origin})`) };
      }
      url = next?.href;
    }
    return { ok: true, data: files };
  }

  /** HEAD /resolve: commit, etag, size and where the bytes are, without following a CDN redirect. */
  async headFile(repo: string, revision: string, path: string, signal?: AbortSignal): Promise<HubResult<FileMetadata>> {
    const ctx: CallContext = { what: `metadata of ${repo}/${path}`, repo, revision, path, kind: "resolve" };
    const url = `${this.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${encodePath(path)}`;
    return this.call(ctx, signal, async () => {
      const res = await this.send("HEAD", url, "text", signal, "relative");
      const redirect = res.status >= 300 && res.status < 400;
      if (res.status !== 200 && !redirect) return this.classify(res, ctx);
      const h = res.headers as Record<string, string | undefined>;
      const commit = h["x-repo-commit"];
      const etag = normalizeEtag(h["x-linked-etag"] ?? h["etag"])?.toLowerCase();
      const size = Number(h["x-linked-size"] ?? h["content-length"]);
      const location = redirect && h["location"] ? new URL(h["location"], res.config.url).href : res.config.url!;
      if (!commit || !COMMIT_RE.test(commit)) return bad(`the hub sent no valid X-Repo-Commit for ${repo}/${path}`);
      if (!etag || !ETAG_RE.test(etag)) return bad(`the hub sent an unusable ETag for ${repo}/${path}: ${JSON.stringify(etag ?? null)}`);
      if (!Number.isSafeInteger(size) || size < 0) return bad(`the hub sent no valid size for ${repo}/${path}`);
      return { kind: "done", data: { commit, etag, size, location } };
    });
  }

  private call<T>(ctx: CallContext, signal: AbortSignal | undefined, attempt: () => Promise<Attempt<T>>): Promise<HubResult<T>> {
    return retrying(
      this.retry,
      {
        signal,
        onRetry: ({ attempt: n, delayMs, error }) =>
          this.log.warn({ attempt: n, delayMs, error: error.message }, `hub call failed, retrying in ${Math.round(delayMs / 100) / 10} s`),
      },
      async () => {
        try {
          return await attempt();
        } catch (err) {
          if (signal?.aborted) throw abortReason(signal);
          return classifyTransportError(err, ctx, this.options.timeoutMs);
        }
      },
      (last, attempts) => exhaustedError(last, ctx, attempts, this.options.timeoutMs),
    );
  }

  private classify<T>(res: AxiosResponse, ctx: CallContext): Attempt<T> {
    const h = res.headers as Record<string, string | undefined>;
    return classifyStatus(
      { status: res.status, errorCode: h["x-error-code"], retryAfterMs: parseRetryAfter(h["retry-after"]) },
      ctx,
      this.endpoint,
      this.hasToken,
    );
  }

  private get(url: string, responseType: "json" | "text", signal?: AbortSignal): Promise<AxiosResponse> {
    return this.send("GET", url, responseType, signal);
  }

  /**
   * One request, following redirects the hub means for the same resource (renamed repos): every one
   * to its own origin (`same-origin`), or only the relative ones (`relative`). Others are returned.
   */
  private async send(
    method: "GET" | "HEAD",
    url: string,
    responseType: "json" | "text",
    signal?: AbortSignal,
    follow: "same-origin" | "relative" = "same-origin",
  ): Promise<AxiosResponse> {
    let current = url;
    for (let hop = 0; ; hop++) {
      const res = await this.http.request({ method, url: current, responseType, signal, headers: this.authHeaders(current) });
      const location = res.headers["location"] as string | undefined;
      if (res.status < 300 || res.status >= 400 || !location || hop >= 5) return res;
      if (follow === "relative" && !isRelative(location)) return res;
      const next = new URL(location, current);
      if (next.origin !== this.origin) return res;
      this.log.debug({ from: current, to: next.href }, "hub redirect");
      current = next.href;
    }
  }
}

/** A Location with no scheme and no host (`/org/new-name/resolve/…`): RFC 9110 allows it relative. */
function isRelative(location: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(location) && !location.startsWith("//");
}

function bad<T>(message: string): Attempt<T> {
  return { kind: "fail", error: new HubBadResponseError(message) as HubError };
}
