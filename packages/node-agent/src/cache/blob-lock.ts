import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import lockfile from "proper-lockfile";
import { sleep } from "../hub/hub-retry.js";

export interface HeldLock {
  release(): Promise<void>;
  /** Aborted when proper-lockfile reports the lock compromised (its mtime could not be kept fresh). */
  readonly lost: AbortSignal;
}

export interface AcquireOptions {
  /** A lock not refreshed for this long belongs to a dead process and is taken over (≥ 2000). */
  readonly staleMs: number;
  readonly signal?: AbortSignal;
  /** How often to try again while another process holds the lock. */
  readonly pollMs?: number;
  /** Called on each wait (the caller reports the other process's progress meanwhile). */
  readonly onWait?: () => Promise<void> | void;
}

// proper-lockfile locks a "file" by mkdir-ing `lockfilePath`; the file itself need not exist.
const lockOptions = (lockPath: string, staleMs: number) => ({
  lockfilePath: lockPath,
  realpath: false,
  stale: staleMs,
});

/** One attempt; undefined when someone else holds a live lock. */
export async function tryLock(lockPath: string, staleMs: number): Promise<HeldLock | undefined> {
  await mkdir(dirname(lockPath), { recursive: true });
  const lost = new AbortController();
  try {
    const release = await lockfile.lock(lockPath, {
      ...lockOptions(lockPath, staleMs),
      retries: 0,
      onCompromised: (err) => lost.abort(err),
    });
    return {
      lost: lost.signal,
      release: async () => {
        try {
          await release();
        } catch {
          // Already released or compromised: nothing of ours is left to remove.
        }
      },
    };
  } catch (err) {
    if ((err as { code?: string }).code === "ELOCKED") return undefined;
    throw err;
  }
}

/**
 * Waits for the blob's lock. A process killed while holding it stops refreshing its mtime, and
 * after `staleMs` proper-lockfile lets us take it over.
 */
export async function acquireLock(lockPath: string, options: AcquireOptions): Promise<HeldLock> {
  for (;;) {
    options.signal?.throwIfAborted();
    const held = await tryLock(lockPath, options.staleMs);
    if (held) return held;
    await options.onWait?.();
    await sleep(options.pollMs ?? 250, options.signal);
  }
}

/** Whether a live (not stale) lock is held by anyone, this process included. */
export async function isLocked(lockPath: string, staleMs: number): Promise<boolean> {
  try {
    return await lockfile.check(lockPath, lockOptions(lockPath, staleMs));
  } catch {
    return false;
  }
}
