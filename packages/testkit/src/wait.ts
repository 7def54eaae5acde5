export interface WaitOptions {
  /** Default 10 s: generous, the machine running the suites may be busy. */
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** Named in the timeout's message: "timed out after 10000 ms waiting for <what>" (a function: read at the timeout). */
  readonly what?: string | (() => string);
}

/**
 * The one way tests wait for a condition: polls `check` until it returns a value other than
 * undefined, null or false, and resolves with it. A check that throws counts as "not yet"; its last
 * error is named when the wait times out.
 */
export async function waitFor<T>(check: () => T | undefined | null | false | Promise<T | undefined | null | false>, options: WaitOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError ? ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe(options.what)}${why}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 25));
  }
}

function describe(what: WaitOptions["what"]): string {
  return (typeof what === "function" ? what() : what) ?? "a condition";
}
