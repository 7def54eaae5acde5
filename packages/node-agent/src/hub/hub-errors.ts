/**
 * What can go wrong talking to the Hugging Face Hub, each with a message that says what to do.
 * `retryable`: a later attempt may succeed (5xx, network, rate limit) — the reconciler's backoff
 * uses it; the others need a human (wrong name, missing token).
 */
export abstract class HubError extends Error {
  abstract readonly code: HubErrorCode;
  abstract readonly retryable: boolean;
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export type HubErrorCode =
  | "repo_not_found"
  | "gated_repo"
  | "unauthorized"
  | "revision_not_found"
  | "entry_not_found"
  | "rate_limited"
  | "server_error"
  | "network_error"
  | "timeout"
  | "bad_response"
  | "offline";

export class RepoNotFoundError extends HubError {
  override readonly name = "RepoNotFoundError";
  readonly code = "repo_not_found";
  readonly retryable = false;
  constructor(readonly repo: string, endpoint: string, status?: number, hadToken = false) {
    super(
      status === 401 && !hadToken
        ? `repository '${repo}' not found on ${endpoint}, or it is private: check the name, or set HF_TOKEN to a token that can read it`
        : `repository '${repo}' not found on ${endpoint}: check the name${hadToken ? " (and that HF_TOKEN's account can see it)" : ""}`,
      status,
    );
  }
}

export class GatedRepoError extends HubError {
  override readonly name = "GatedRepoError";
  readonly code = "gated_repo";
  readonly retryable = false;
  constructor(readonly repo: string, endpoint: string, status?: number, hadToken = false) {
    super(
      hadToken
        ? `repository '${repo}' is gated and HF_TOKEN's account has no access: accept its terms at ${endpoint}/${repo}`
        : `repository '${repo}' is gated or private: accept its terms at ${endpoint}/${repo} and set HF_TOKEN`,
      status,
    );
  }
}

export class UnauthorizedError extends HubError {
  override readonly name = "UnauthorizedError";
  readonly code = "unauthorized";
  readonly retryable = false;
  constructor(what: string, status?: number, hadToken = false) {
    super(
      hadToken
        ? `the hub refused the token for ${what} (${status}): set HF_TOKEN to a valid token with read access`
        : `the hub requires authentication for ${what} (${status}): set HF_TOKEN`,
      status,
    );
  }
}

export class RevisionNotFoundError extends HubError {
  override readonly name = "RevisionNotFoundError";
  readonly code = "revision_not_found";
  readonly retryable = false;
  constructor(readonly repo: string, readonly revision: string, status?: number) {
    super(`revision '${revision}' not found in repository '${repo}': use a branch, tag or commit that exists`, status);
  }
}

export class EntryNotFoundError extends HubError {
  override readonly name = "EntryNotFoundError";
  readonly code = "entry_not_found";
  readonly retryable = false;
  constructor(readonly repo: string, readonly revision: string, readonly path: string, status?: number) {
    super(`file '${path}' not found in repository '${repo}' at revision '${revision}'`, status);
  }
}

export class RateLimitedError extends HubError {
  override readonly name = "RateLimitedError";
  readonly code = "rate_limited";
  readonly retryable = true;
  constructor(readonly retryAfterSeconds: number, what: string) {
    super(`rate limited by the hub on ${what} (retrying in ${retryAfterSeconds} s)`, 429);
  }
}

export class HubServerError extends HubError {
  override readonly name = "HubServerError";
  readonly code = "server_error";
  readonly retryable = true;
  constructor(what: string, status: number, attempts: number) {
    super(`the hub answered ${status} for ${what} after ${attempts} attempt${attempts === 1 ? "" : "s"}`, status);
  }
}

export class HubNetworkError extends HubError {
  override readonly name = "HubNetworkError";
  readonly code = "network_error";
  readonly retryable = true;
  constructor(what: string, reason: string, attempts: number) {
    super(`could not reach the hub for ${what}: ${reason} (after ${attempts} attempt${attempts === 1 ? "" : "s"})`);
  }
}

export class HubTimeoutError extends HubError {
  override readonly name = "HubTimeoutError";
  readonly code = "timeout";
  readonly retryable = true;
  constructor(what: string, timeoutMs: number, attempts: number) {
    super(`the hub did not answer ${what} within ${timeoutMs} ms (after ${attempts} attempt${attempts === 1 ? "" : "s"})`);
  }
}

/** The hub answered something this client cannot use (malformed JSON, missing headers, unsafe values). */
export class HubBadResponseError extends HubError {
  override readonly name = "HubBadResponseError";
  readonly code = "bad_response";
  readonly retryable = false;
  constructor(message: string, status?: number) {
    super(message, status);
  }
}

/**
 * A CDN refused a download URL the hub handed out (401/403): signed URLs expire, and a long
 * download outlives them. The caller asks the hub for a fresh one.
 */
export class SignedUrlRefusedError extends HubError {
  override readonly name = "SignedUrlRefusedError";
  readonly code = "unauthorized";
  readonly retryable = true;
  constructor(readonly path: string, status: number, origin: string, fresh = false) {
    super(
      fresh
        ? `${origin} refused the download of '${path}' (${status}) even with a fresh URL from the hub: check that the hub and its CDN are reachable with the same credentials, then pull again`
        : `${origin} refused the download URL of '${path}' (${status}): it expired`,
      status,
    );
  }
}

/** The server's copy changed while we downloaded it (another ETag, size or a refused range): start the file over. */
export class RemoteFileChangedError extends HubError {
  override readonly name = "RemoteFileChangedError";
  readonly code = "bad_response";
  readonly retryable = true;
  constructor(readonly path: string, detail: string) {
    super(`the server's copy of '${path}' changed during the download: ${detail}`);
  }
}

/** A server that answers a range request with the whole file (200): no parallel ranges from it. */
export class RangeNotHonouredError extends HubError {
  override readonly name = "RangeNotHonouredError";
  readonly code = "bad_response";
  readonly retryable = true;
  constructor(readonly path: string) {
    super(`the server answered a range request for '${path}' with the whole file`);
  }
}

export class OfflineError extends HubError {
  override readonly name = "OfflineError";
  readonly code = "offline";
  readonly retryable = false;
  constructor(message: string) {
    super(message);
  }
}

/** The result union for hub calls that fail routinely: callers decide about retry. */
export type HubResult<T> = { ok: true; data: T } | { ok: false; error: HubError; status?: number };

export function failure<T>(error: HubError): HubResult<T> {
  return { ok: false, error, status: error.status };
}

/** Unwraps a result, throwing its typed error. */
export function unwrap<T>(result: HubResult<T>): T {
  if (!result.ok) throw result.error;
  return result.data;
}
