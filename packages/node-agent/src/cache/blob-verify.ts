import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Stats } from "node:fs";
import { hashFile, hashKindOf } from "./download/blob-hash.js";
import type { CacheLayout } from "./cache-paths.js";
import { checkGgufFile } from "./gguf.js";

/**
 * Why a cached blob cannot be used. The seed's rule (exists, size > 0) is the floor; we also
 * compare the size with the hub's, the hash with the etag, and GGUF structure.
 */
export type BlobProblem =
  | { kind: "missing" }
  | { kind: "empty" }
  | { kind: "size"; expected: number; actual: number }
  | { kind: "hash"; algorithm: string; expected: string; actual: string }
  | { kind: "gguf"; reason: string };

export function describeProblem(path: string, p: BlobProblem): string {
  switch (p.kind) {
    case "missing": return `'${path}' is missing`;
    case "empty": return `'${path}' is empty (0 bytes)`;
    case "size": return `'${path}' is ${p.actual} bytes, the hub says ${p.expected}`;
    case "hash": return `'${path}' has ${p.algorithm} ${p.actual}, expected ${p.expected}`;
    case "gguf": return `'${path}' is not a valid GGUF file: ${p.reason}`;
  }
}

/**
 * "Verified" stamp: the blob's identity when it last hashed right. A blob whose size, mtime, ctime
 * and inode still match was not written since, so it is not re-hashed on every start (a 40 GB
 * model would cost minutes). ctime cannot be set back by `touch -d`, so a rewrite is always seen;
 * `verify` re-hashes regardless.
 */
interface Stamp {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly ino: number;
  readonly gguf: boolean;
}

const identity = (s: Stats) => ({ size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, ino: s.ino });

async function readStamp(path: string): Promise<Stamp | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as Stamp;
  } catch {
    return undefined;
  }
}

export async function writeStamp(layout: CacheLayout, repo: string, etag: string, gguf: boolean): Promise<void> {
  const s = await stat(layout.blobPath(repo, etag));
  const path = layout.stampPath(repo, etag);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, JSON.stringify({ ...identity(s), gguf } satisfies Stamp));
  await rename(tmp, path);
}

export interface CheckBlobOptions {
  /** The hub's size; undefined offline (then the hash alone decides). */
  readonly expectedSize?: number;
  /** The file is a `.gguf`: also run the structural check. */
  readonly gguf: boolean;
  /** Accept a matching stamp instead of re-hashing (pull: yes; verify: no). */
  readonly trustStamp: boolean;
  readonly signal?: AbortSignal;
}

/** Checks `blobs/<etag>`; null when it is good (and stamps it so). */
export async function checkBlob(layout: CacheLayout, repo: string, etag: string, options: CheckBlobOptions): Promise<BlobProblem | null> {
  const blob = layout.blobPath(repo, etag);
  let s: Stats;
  try {
    s = await stat(blob);
  } catch {
    return { kind: "missing" };
  }
  const expected = options.expectedSize;
  if (s.size === 0 && expected !== 0) return { kind: "empty" };
  if (expected !== undefined && s.size !== expected) return { kind: "size", expected, actual: s.size };

  const stamp = options.trustStamp ? await readStamp(layout.stampPath(repo, etag)) : undefined;
  const current = identity(s);
  const stamped = stamp !== undefined && (Object.keys(current) as (keyof typeof current)[]).every((k) => stamp[k] === current[k]);
  if (!stamped) {
    const kind = hashKindOf(etag);
    const actual = await hashFile(blob, kind, s.size, options.signal);
    if (actual !== etag) return { kind: "hash", algorithm: kind, expected: etag, actual };
  }
  if (options.gguf && !(stamped && stamp?.gguf)) {
    const g = await checkGgufFile(blob);
    if (!g.ok) return { kind: "gguf", reason: g.reason };
  }
  if (!stamped || (options.gguf && !stamp?.gguf)) await writeStamp(layout, repo, etag, options.gguf || Boolean(stamp?.gguf));
  return null;
}
