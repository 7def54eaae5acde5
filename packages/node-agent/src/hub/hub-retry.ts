import type { HubError } from "./hub-errors.js";

/** How a hub call retries: 5xx, dropped connections and timeouts with backoff; 429 after Retry-After. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** First backoff; doubles per attempt up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** The longest Retry-After honoured in place; longer fails as rate_limited for the caller to retry later. */
  readonly maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 8_000, maxRetryAfterMs: 60_000 };

/**
 * Backoff with "equal jitter": half fixed, half random, so many agents hitting one failing hub do
 * not retry in lockstep yet each still waits a meaningful minimum.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined | null, now = Date.now()): number | undefined {
  if (value === undefined || value === null || value.trim() === "") return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Resolves after `ms`, or rejects with the signal's reason when aborted first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The signal's reason as an Error named AbortError (AbortSignal.reason may be anything). */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const err = new Error(typeof r === "string" ? r : "the operation was aborted");
  err.name = "AbortError";
  return err;
}

/** One attempt's outcome: done (success or a final error), or retry after a delay. */
export type Attempt<T> =
  | { readonly kind: "done"; readonly data: T }
  | { readonly kind: "fail"; readonly error: HubError }
  | { readonly kind: "retry"; readonly error: HubError; readonly retryAfterMs?: number };

export interface RetryHooks {
  readonly signal?: AbortSignal;
  /** Told before each wait (logging, progress "rate limited, retrying in N s"). */
  readonly onRetry?: (info: { attempt: number; delayMs: number; error: HubError }) => void;
}

/**
 * Runs `attempt` until it is done, fails for good, or the attempts run out (the last retryable
 * error is then returned, its message rewritten by `exhausted`).
 */
export async function retrying<T>(
  policy: RetryPolicy,
  hooks: RetryHooks,
  attempt: (n: number) => Promise<Attempt<T>>,
  exhausted: (last: HubError, attempts: number) => HubError,
): Promise<{ ok: true; data: T } | { ok: false; error: HubError; status?: number }> {
  for (let n = 1; ; n++) {
    if (hooks.signal?.aborted) throw abortReason(hooks.signal);
    const outcome = await attempt(n);
    if (outcome.kind === "done") return { ok: true, data: outcome.data };
    if (outcome.kind === "fail") return { ok: false, error: outcome.error, status: outcome.error.status };
    const { error, retryAfterMs } = outcome;
    if (retryAfterMs !== undefined && retryAfterMs > policy.maxRetryAfterMs) {
      return { ok: false, error, status: error.status };
    }
    if (n >= policy.maxAttempts) {
      const final = exhausted(error, n);
      return { ok: false, error: final, status: final.status };
    }
    const delayMs = retryAfterMs ?? backoffDelay(policy, n);
    hooks.onRetry?.({ attempt: n, delayMs, error });
    await sleep(delayMs, hooks.signal);
  }
}
