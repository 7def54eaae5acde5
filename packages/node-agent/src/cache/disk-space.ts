import { stat, statfs } from "node:fs/promises";
import { dirname } from "node:path";
import { InsufficientDiskError } from "./cache-errors.js";

/** Bytes an unprivileged process may still write on the filesystem holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/**
 * Refuses a download that cannot fit, before a byte is fetched, with
 * "needs 4.1 GB, 2.0 GB free in <dir>" — rather than failing at 97 % with ENOSPC. `reserve` bytes
 * are kept aside so a full cache does not leave the box unable to write logs and state.
 */
export async function ensureFreeSpace(dir: string, needed: number, reserve = 0): Promise<void> {
  if (needed <= 0) return;
  const free = Math.max(0, (await freeBytes(await existingAncestor(dir))) - reserve);
  if (free < needed) throw new InsufficientDiskError(needed, free, dir, reserve);
}

/** statfs needs a path that exists; the cache folder may not yet (first pull). */
async function existingAncestor(dir: string): Promise<string> {
  for (let d = dir; ; d = dirname(d)) {
    if (await stat(d).then(() => true, () => false)) return d;
    if (dirname(d) === d) return d;
  }
}
