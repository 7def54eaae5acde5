import { readdir, rm, unlink } from "node:fs/promises";
import { COMMIT_RE } from "../hub/hub-client.js";
import { tryLock } from "./blob-lock.js";
import { isGgufPath } from "./blob-fetch.js";
import { checkBlob, describeProblem } from "./blob-verify.js";
import { linkedEtag, listSnapshot } from "./cache-offline.js";
import { type CacheLayout, checkRepo, repoFromFolder } from "./cache-paths.js";

export interface VerifyFinding {
  readonly repo: string;
  readonly commit: string;
  readonly path: string;
  /** null: the file is good. */
  readonly problem: string | null;
  /** With `fix`: the bad blob and its links were removed (a later pull downloads it again). */
  readonly removed: boolean;
}

export interface VerifyOptions {
  /** One repo, or every model repo in the cache. */
  readonly repo?: string;
  readonly fix: boolean;
  readonly lockStaleMs: number;
  readonly signal?: AbortSignal;
  readonly onFinding?: (finding: VerifyFinding) => void;
}

/** The model repos present in a cache folder. */
export async function cachedRepos(layout: CacheLayout): Promise<string[]> {
  const names = await readdir(layout.root).catch(() => []);
  return names.map(repoFromFolder).filter((r): r is string => r !== undefined && safeRepo(r)).sort();
}

function safeRepo(repo: string): boolean {
  try {
    checkRepo(repo);
    return true;
  } catch {
    return false;
  }
}

/**
 * Re-hashes every linked file of the cache (stamps ignored): size > 0, hash vs. the blob's etag
 * name, GGUF header for `.gguf`. Works offline. With `fix`, a bad blob is deleted under its lock,
 * together with every link to it.
 */
export async function verifyCache(layout: CacheLayout, options: VerifyOptions): Promise<VerifyFinding[]> {
  const repos = options.repo ? [checkRepo(options.repo)] : await cachedRepos(layout);
  const findings: VerifyFinding[] = [];
  for (const repo of repos) {
    const snapshots = (await readdir(layout.snapshotsDir(repo)).catch(() => [])).filter((s) => COMMIT_RE.test(s)).sort();
    const verdicts = new Map<string, string | null>(); // etag → problem, each blob hashed once
    const links: Array<{ commit: string; path: string; etag: string | undefined }> = [];
    for (const commit of snapshots) {
      for (const path of await listSnapshot(layout.snapshotDir(repo, commit))) {
        links.push({ commit, path, etag: await linkedEtag(layout, repo, layout.snapshotFile(repo, commit, path)) });
      }
    }
    for (const link of links) {
      options.signal?.throwIfAborted();
      let problem: string | null;
      if (!link.etag) problem = "not a link to a blob of this repo";
      else {
        if (!verdicts.has(link.etag)) {
          const p = await checkBlob(layout, repo, link.etag, { gguf: isGgufPath(link.path), trustStamp: false, signal: options.signal });
          verdicts.set(link.etag, p ? describeProblem(link.path, p) : null);
        }
        problem = verdicts.get(link.etag) ?? null;
      }
      let removed = false;
      if (problem && options.fix) removed = await removeBad(layout, repo, link, links, options.lockStaleMs);
      const finding = { repo, commit: link.commit, path: link.path, problem, removed };
      findings.push(finding);
      options.onFinding?.(finding);
    }
  }
  return findings;
}

async function removeBad(
  layout: CacheLayout,
  repo: string,
  bad: { commit: string; path: string; etag: string | undefined },
  all: ReadonlyArray<{ commit: string; path: string; etag: string | undefined }>,
  lockStaleMs: number,
): Promise<boolean> {
  if (!bad.etag) {
    await unlink(layout.snapshotFile(repo, bad.commit, bad.path)).catch(() => undefined);
    return true;
  }
  const held = await tryLock(layout.lockPath(repo, bad.etag), lockStaleMs);
  if (!held) return false; // being re-downloaded right now
  try {
    for (const l of all) {
      if (l.etag === bad.etag) await unlink(layout.snapshotFile(repo, l.commit, l.path)).catch(() => undefined);
    }
    await rm(layout.blobPath(repo, bad.etag), { force: true });
    await rm(layout.stampPath(repo, bad.etag), { force: true });
    return true;
  } finally {
    await held.release();
  }
}
