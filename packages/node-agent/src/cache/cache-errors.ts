/** Errors of the model cache itself (the hub's own are in hub/hub-errors.ts). */

/** A repo id, revision or path (given, or from the hub) that could escape the cache folder. */
export class UnsafeInputError extends Error {
  override readonly name = "UnsafeInputError";
  readonly code = "unsafe_input";
  readonly retryable = false;
}

/** The bytes do not hash to the hub's etag, twice in a row. */
export class ChecksumMismatchError extends Error {
  override readonly name = "ChecksumMismatchError";
  readonly code = "checksum_mismatch";
  readonly retryable = true;
  constructor(
    readonly path: string,
    readonly algorithm: "sha256" | "git-sha1",
    readonly expected: string,
    readonly actual: string,
    readonly firstActual?: string,
  ) {
    super(
      `${algorithm} of '${path}' is ${actual} but the hub says ${expected}` +
        (firstActual ? ` (downloaded twice; the first attempt gave ${firstActual})` : ""),
    );
  }
}

/** A complete download whose size is not the hub's (a server sent more or fewer bytes). */
export class SizeMismatchError extends Error {
  override readonly name = "SizeMismatchError";
  readonly code = "size_mismatch";
  readonly retryable = true;
  constructor(readonly path: string, readonly expected: number, readonly actual: number) {
    super(`'${path}' is ${actual} bytes but the hub says ${expected}`);
  }
}

/** A `.gguf` that fails the structural header check: never handed to an engine. */
export class InvalidGgufError extends Error {
  override readonly name = "InvalidGgufError";
  readonly code = "invalid_gguf";
  readonly retryable = false;
  constructor(readonly path: string, readonly reason: string) {
    super(`'${path}' is not a valid GGUF file: ${reason}`);
  }
}

export class InsufficientDiskError extends Error {
  override readonly name = "InsufficientDiskError";
  readonly code = "insufficient_disk";
  readonly retryable = true;
  constructor(readonly needed: number, readonly free: number, readonly dir: string, readonly reserve = 0) {
    super(
      `not enough disk space: needs ${formatBytes(needed)}, ${formatBytes(free)} free in ${dir}` +
        (reserve > 0 ? ` (after keeping ${formatBytes(reserve)} aside, OMNIGATE_CACHE_RESERVE_BYTES)` : ""),
    );
  }
}

/** The `files` patterns of a model match nothing in the repo. */
export class NoMatchingFilesError extends Error {
  override readonly name = "NoMatchingFilesError";
  readonly code = "no_matching_files";
  readonly retryable = false;
  constructor(readonly repo: string, readonly revision: string, readonly patterns: readonly string[]) {
    super(`no file in '${repo}' at revision '${revision}' matches ${patterns.map((p) => `'${p}'`).join(", ")}`);
  }
}

/** A model with no `files` whose repo has nothing its runtime's default pick can take. */
export class NoDefaultFilesError extends Error {
  override readonly name = "NoDefaultFilesError";
  readonly code = "no_default_files";
  readonly retryable = false;
  constructor(readonly repo: string, readonly revision: string, reason: string) {
    super(`'${repo}' at revision '${revision}' cannot be pulled without 'files': ${reason}`);
  }
}

/** A model that is not (completely, validly) in the cache, asked for without downloading. */
export class NotCachedError extends Error {
  override readonly name = "NotCachedError";
  readonly code = "not_cached";
  readonly retryable = false;
}

/** `rm` refused because another process is downloading into the same repo folder. */
export class CacheBusyError extends Error {
  override readonly name = "CacheBusyError";
  readonly code = "cache_busy";
  readonly retryable = true;
}

/** "4.1 GB": decimal units with one decimal, like `df -H` and the hub's own pages. */
export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
