/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so a fleet of
 * agents that lost the gateway at the same moment does not come back in lockstep, yet no agent
 * retries sooner than half its due time.
 */
export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
  /** Injected for tests that need a deterministic delay; Math.random otherwise. */
  readonly random?: () => number;
}

/** The wait before retry number `attempt` (1 = first retry). */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** exponent);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
