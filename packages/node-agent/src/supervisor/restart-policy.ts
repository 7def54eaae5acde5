/**
 * Exponential backoff with jitter for engine restarts: the n-th consecutive crash waits
 * base·2^(n-1), capped, and scaled by a random factor in [0.5, 1] so engines that died together
 * (a driver reset) do not restart in lockstep.
 */
export function restartDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/**
 * Turns "starting forever" into a verdict: `limit` exits within `windowMs` is a crash loop
 * (n8n's task-runner restart-loop detector).
 */
export class CrashLoopDetector {
  private readonly exits: number[] = [];

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Records an exit; true when it completes a crash loop. */
  record(now = Date.now()): boolean {
    this.exits.push(now);
    while (this.exits.length > 0 && now - this.exits[0]! > this.windowMs) this.exits.shift();
    return this.exits.length >= this.limit;
  }

  get count(): number {
    return this.exits.length;
  }
}
