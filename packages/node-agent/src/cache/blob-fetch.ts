import { mkdir, readlink, rename, rm, symlink } from "node:fs/promises";
import { dirname } from "node:path";
import type { Logger } from "../logger.js";
import type { HubClient, TreeFile } from "../hub/hub-client.js";
import { fetchBlob, resolveLocation, type BlobDownloadDeps } from "./download/blob-download.js";
import { hashKindOf } from "./download/blob-hash.js";
import { acquireLock } from "./blob-lock.js";
import { removeChunkMap } from "./download/chunk-map.js";
import { presentBytes, type IncompletePaths } from "./download/incomplete-blob.js";
import { checkBlob, describeProblem, writeStamp } from "./blob-verify.js";
import { ChecksumMismatchError, InvalidGgufError, SizeMismatchError } from "./cache-errors.js";
import type { CacheLayout } from "./cache-paths.js";
import { checkGgufFile } from "./gguf.js";
import type { ProgressTracker } from "./progress.js";

export interface FetchDeps {
  readonly layout: CacheLayout;
  readonly hub: HubClient;
  readonly download: BlobDownloadDeps;
  readonly lockStaleMs: number;
  readonly log: Logger;
}

export interface FileJob {
  readonly repo: string;
  readonly commit: string;
  readonly file: TreeFile;
  readonly tracker: ProgressTracker;
  readonly signal?: AbortSignal;
}

export const isGgufPath = (path: string): boolean => path.toLowerCase().endsWith(".gguf");

/**
 * Makes one file of a snapshot present and verified: under the blob's lock, reuse a good blob or
 * download it (resuming any `.incomplete`), then point `snapshots/<commit>/<path>` at it. The lock
 * is held until the link exists, so a concurrent remove() never collects a blob between its
 * rename and its first link.
 */
export async function ensureFile(deps: FetchDeps, job: FileJob): Promise<void> {
  const { layout } = deps;
  const { repo, file, tracker } = job;
  const held = await acquireLock(layout.lockPath(repo, file.etag), {
    staleMs: deps.lockStaleMs,
    signal: job.signal,
    // Another process is downloading this blob: show its progress as ours while we wait.
    onWait: async () => tracker.set(file.path, await presentBytes(incompletePaths(layout, repo, file.etag), file)),
  });
  const signal = job.signal ? AbortSignal.any([job.signal, held.lost]) : held.lost;
  try {
    const gguf = isGgufPath(file.path);
    const problem = await checkBlob(layout, repo, file.etag, { expectedSize: file.size, gguf, trustStamp: true, signal });
    if (problem?.kind === "gguf") {
      // The bytes are exactly the hub's (the hash matched): fetching them again cannot help.
      throw new InvalidGgufError(file.path, problem.reason);
    }
    if (problem) {
      if (problem.kind !== "missing") {
        deps.log.warn({ repo, path: file.path, problem: describeProblem(file.path, problem) }, "cached file is bad, downloading it again");
        await rm(layout.blobPath(repo, file.etag), { force: true });
      }
      await downloadBlob(deps, { ...job, signal });
    }
    tracker.set(file.path, file.size);
    await linkSnapshot(layout, repo, job.commit, file.path, file.etag);
  } finally {
    await held.release();
  }
}

/**
 * Downloads into `blobs/<etag>.incomplete` (resuming what a killed download left), then size +
 * hash + GGUF checks and an atomic rename. A mismatch deletes the file and downloads once more
 * from zero; a second mismatch fails with both hashes.
 */
async function downloadBlob(deps: FetchDeps, job: FileJob & { signal: AbortSignal }): Promise<void> {
  const { layout, hub, log } = deps;
  const { repo, commit, file, tracker, signal } = job;
  const paths = incompletePaths(layout, repo, file.etag);
  const gguf = isGgufPath(file.path);
  let firstDigest: string | undefined;
  await mkdir(layout.blobsDir(repo), { recursive: true });

  for (let round = 1; round <= 2; round++) {
    const url = await resolveLocation(hub, repo, commit, file, signal);
    const { bytes, digest } = await fetchBlob(deps.download, {
      repo,
      commit,
      file,
      paths,
      url,
      onBytes: (d) => tracker.add(file.path, d),
      onReset: (n) => tracker.set(file.path, n),
      signal,
    });
    if (bytes !== file.size || digest !== file.etag) {
      await discardIncomplete(paths);
      tracker.set(file.path, 0);
      if (round === 1) {
        firstDigest = digest;
        log.warn({ repo, path: file.path, expected: file.etag, actual: digest, bytes, size: file.size }, "downloaded file does not match the hub's etag, downloading once more");
        continue;
      }
      if (bytes !== file.size) throw new SizeMismatchError(file.path, file.size, bytes);
      throw new ChecksumMismatchError(file.path, hashKindOf(file.etag), file.etag, digest, firstDigest);
    }
    if (gguf) {
      const check = await checkGgufFile(paths.file);
      if (!check.ok) {
        await discardIncomplete(paths);
        throw new InvalidGgufError(file.path, check.reason);
      }
    }
    await rename(paths.file, layout.blobPath(repo, file.etag));
    await writeStamp(layout, repo, file.etag, gguf);
    return;
  }
}

export function incompletePaths(layout: CacheLayout, repo: string, etag: string): IncompletePaths {
  return { file: layout.incompletePath(repo, etag), map: layout.chunkMapPath(repo, etag) };
}

async function discardIncomplete(paths: IncompletePaths): Promise<void> {
  await removeChunkMap(paths.map);
  await rm(paths.file, { force: true });
}

/** `snapshots/<commit>/<path>` → `../../blobs/<etag>` (relative, like huggingface_hub), replaced atomically. */
export async function linkSnapshot(layout: CacheLayout, repo: string, commit: string, path: string, etag: string): Promise<string> {
  const link = layout.snapshotFile(repo, commit, path);
  const target = layout.linkTarget(link, layout.blobPath(repo, etag));
  await mkdir(dirname(link), { recursive: true });
  const current = await readlink(link).catch(() => undefined);
  if (current === target) return link;
  const tmp = `${link}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await symlink(target, tmp);
  try {
    await rename(tmp, link);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return link;
}
