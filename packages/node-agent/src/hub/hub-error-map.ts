import {
  EntryNotFoundError,
  GatedRepoError,
  HubBadResponseError,
  HubNetworkError,
  HubServerError,
  HubTimeoutError,
  RateLimitedError,
  RepoNotFoundError,
  RevisionNotFoundError,
  UnauthorizedError,
  type HubError,
} from "./hub-errors.js";
import type { Attempt } from "./hub-retry.js";

/** What a call was about, so an error can name it. */
export interface CallContext {
  readonly what: string;
  readonly repo: string;
  readonly revision?: string;
  readonly path?: string;
  /** `api` (/api/models/…) or `resolve` (file bytes/metadata): a bare 404 means a different thing. */
  readonly kind: "api" | "resolve" | "bytes";
}

export interface StatusInfo {
  readonly status: number;
  readonly errorCode?: string;
  readonly retryAfterMs?: number;
}

/**
 * Maps a non-success answer to an error, branching on `X-Error-Code` first as huggingface_hub does
 * (`utils/_http.py` hf_raise_for_status), then on the status.
 */
export function classifyStatus<T>(info: StatusInfo, ctx: CallContext, endpoint: string, hadToken: boolean): Attempt<T> {
  const { status, errorCode } = info;
  const fail = (error: HubError): Attempt<T> => ({ kind: "fail", error });
  switch (errorCode) {
    case "RepoNotFound":
      return fail(new RepoNotFoundError(ctx.repo, endpoint, status, hadToken));
    case "GatedRepo":
      return fail(new GatedRepoError(ctx.repo, endpoint, status, hadToken));
    case "RevisionNotFound":
      return fail(new RevisionNotFoundError(ctx.repo, ctx.revision ?? "?", status));
    case "EntryNotFound":
      return fail(new EntryNotFoundError(ctx.repo, ctx.revision ?? "?", ctx.path ?? "?", status));
    default:
      break;
  }
  if (status === 429) {
    const retryAfterMs = info.retryAfterMs ?? 5_000;
    return { kind: "retry", error: new RateLimitedError(Math.ceil(retryAfterMs / 1000), ctx.what), retryAfterMs };
  }
  if (status >= 500 || status === 408) return { kind: "retry", error: new HubServerError(ctx.what, status, 1) };
  if (status === 401 || status === 403) return fail(new UnauthorizedError(ctx.what, status, hadToken));
  if (status === 404) {
    if (ctx.kind === "resolve" && ctx.path) return fail(new EntryNotFoundError(ctx.repo, ctx.revision ?? "?", ctx.path, status));
    return fail(new RepoNotFoundError(ctx.repo, endpoint, status, hadToken));
  }
  return fail(new HubBadResponseError(`the hub answered ${status} for ${ctx.what}`, status));
}

/** Network-level failures (refused, reset, timed out) are worth another attempt. */
export function classifyTransportError<T>(err: unknown, ctx: CallContext, timeoutMs: number): Attempt<T> {
  const code = (err as { code?: string } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === "ECONNABORTED" || code === "ETIMEDOUT" || /timeout/i.test(message) || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
    return { kind: "retry", error: new HubTimeoutError(ctx.what, timeoutMs, 1) };
  }
  return { kind: "retry", error: new HubNetworkError(ctx.what, code ? `${code} (${message})` : message, 1) };
}

/** The last retryable error, reworded to say how many attempts were made. */
export function exhaustedError(last: HubError, ctx: CallContext, attempts: number, timeoutMs: number): HubError {
  if (last instanceof HubServerError) return new HubServerError(ctx.what, last.status ?? 500, attempts);
  if (last instanceof HubTimeoutError) return new HubTimeoutError(ctx.what, timeoutMs, attempts);
  if (last instanceof HubNetworkError) {
    const reason = last.message.replace(/^could not reach the hub for .*?: /, "").replace(/ \(after \d+ attempts?\)$/, "");
    return new HubNetworkError(ctx.what, reason, attempts);
  }
  return last;
}
