import { readdir, rm, rmdir, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Logger } from "../logger.js";
import { COMMIT_RE, ETAG_RE } from "../hub/hub-client.js";
import { isLocked, tryLock } from "./blob-lock.js";
import { CacheBusyError } from "./cache-errors.js";
import { matchesAny } from "@omnigate/shared/repo-glob";
import { cachedCommit, linkedEtag, listSnapshot } from "./cache-offline.js";
import { type CacheLayout, checkRepo, checkRevision } from "./cache-paths.js";
import type { CacheModelRef } from "./types.js";

export interface RemoveDeps {
  readonly lockStaleMs: number;
  readonly log: Logger;
}

const readdirSafe = (dir: string): Promise<string[]> => readdir(dir).catch(() => []);

/**
 * Removes a model: its snapshot links (except those another wanted model of the same repo picks),
 * its ref (unless another wanted model names the same revision), then every blob no remaining
 * link points at, then empty folders. Never a blob still linked, never one whose lock is live
 * (a download in progress, here or in another process).
 *
 * Snapshots considered: the model's commit, plus any snapshot no ref names (left behind when a
 * branch moved on), so a removed model leaves nothing behind.
 */
export async function removeModel(layout: CacheLayout, model: CacheModelRef, stillWanted: readonly CacheModelRef[], deps: RemoveDeps): Promise<void> {
  const repo = checkRepo(model.repo);
  const revision = checkRevision(model.revision);
  // The other wanted models of this repo, each with the snapshot its revision resolves to here.
  const others: Array<{ files: readonly string[]; revision: string; commit: string | undefined }> = [];
  for (const o of stillWanted) {
    if (o.repo !== repo) continue;
    others.push({ files: o.files, revision: o.revision, commit: await cachedCommit(layout, repo, checkRevision(o.revision)) });
  }
  const protectedPath = (snap: string, path: string): boolean => others.some((o) => o.commit === snap && matchesAny(path, o.files));

  const commit = await cachedCommit(layout, repo, revision);
  const namedCommits = new Set<string>();
  for (const name of await listRefs(layout.refsDir(repo))) {
    if (name === revision) continue;
    const c = await cachedCommit(layout, repo, name).catch(() => undefined);
    if (c) namedCommits.add(c);
  }
  for (const o of others) if (o.commit) namedCommits.add(o.commit);

  for (const snap of await readdirSafe(layout.snapshotsDir(repo))) {
    if (!COMMIT_RE.test(snap)) continue;
    if (snap !== commit && namedCommits.has(snap)) continue;
    const dir = layout.snapshotDir(repo, snap);
    for (const path of await listSnapshot(dir)) {
      if (!matchesAny(path, model.files) || protectedPath(snap, path)) continue;
      await unlink(layout.snapshotFile(repo, snap, path)).catch(() => undefined);
    }
  }
  if (revision !== commit && !others.some((o) => o.revision === revision)) {
    await rm(layout.refPath(repo, revision), { force: true });
  }
  await collectGarbage(layout, repo, deps);
  deps.log.info({ repo, revision }, "model removed from the cache");
}

/** Removes a whole repo folder (`rm <repo>`), refusing while any of its blobs is being downloaded. */
export async function removeRepo(layout: CacheLayout, repo: string, deps: RemoveDeps): Promise<boolean> {
  checkRepo(repo);
  const locks = layout.locksDir(repo);
  for (const name of await readdirSafe(locks)) {
    if (name.endsWith(".omnigate.lock") && (await isLocked(join(locks, name), deps.lockStaleMs))) {
      throw new CacheBusyError(`${repo} is being downloaded by another process right now; try again when it finishes`);
    }
  }
  const dir = layout.repoDir(repo);
  const existed = (await readdirSafe(dir)).length > 0;
  await rm(dir, { recursive: true, force: true });
  await rm(locks, { recursive: true, force: true });
  await rmdir(dirname(locks)).catch(() => undefined);
  return existed;
}

/** Blobs (and partial downloads) no snapshot link points at, each deleted under its lock. */
export async function collectGarbage(layout: CacheLayout, repo: string, deps: RemoveDeps): Promise<number> {
  const used = new Set<string>();
  for (const snap of await readdirSafe(layout.snapshotsDir(repo))) {
    if (!COMMIT_RE.test(snap)) continue;
    for (const path of await listSnapshot(layout.snapshotDir(repo, snap))) {
      const etag = await linkedEtag(layout, repo, layout.snapshotFile(repo, snap, path));
      if (etag) used.add(etag);
    }
  }
  // Each blob's files: itself, its partial download, the chunk map beside that, a map's temp file a kill left.
  const files = new Map<string, string[]>();
  for (const name of await readdirSafe(layout.blobsDir(repo))) {
    const etag = name.replace(/\.incomplete(\.chunks(\.tmp)?)?$/, "");
    if (ETAG_RE.test(etag) && !used.has(etag)) files.set(etag, [...(files.get(etag) ?? []), name]);
  }
  let removed = 0;
  for (const [etag, names] of files) {
    const held = await tryLock(layout.lockPath(repo, etag), deps.lockStaleMs);
    if (!held) {
      deps.log.info({ repo, etag }, "blob is being downloaded, kept");
      continue;
    }
    try {
      for (const name of names) await rm(join(layout.blobsDir(repo), name), { force: true });
      await rm(layout.stampPath(repo, etag), { force: true });
      removed++;
    } finally {
      await held.release();
    }
  }
  // Stamps whose blob is gone (deleted by hand or by huggingface_hub), and lock folders left by
  // killed processes (taking a stale lock over and releasing it removes it; live ones stay).
  const blobs = new Set(await readdirSafe(layout.blobsDir(repo)));
  for (const name of await readdirSafe(layout.locksDir(repo))) {
    const stamp = /^([0-9a-f]+)\.verified\.json$/.exec(name);
    if (stamp && !blobs.has(stamp[1]!)) await rm(join(layout.locksDir(repo), name), { force: true });
    const lock = /^([0-9a-f]+)\.omnigate\.lock$/.exec(name);
    if (lock && ETAG_RE.test(lock[1]!)) {
      const held = await tryLock(layout.lockPath(repo, lock[1]!), deps.lockStaleMs);
      await held?.release();
    }
  }
  await pruneEmpty(layout.repoDir(repo));
  await pruneEmpty(layout.locksDir(repo));
  await rmdir(dirname(layout.locksDir(repo))).catch(() => undefined); // `.locks`, when nothing else uses it
  return removed;
}

async function listRefs(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const name = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listRefs(join(dir, e.name), name)));
    else if (!e.name.endsWith(".tmp")) out.push(name);
  }
  return out;
}

/**
 * Removes empty folders bottom-up, `dir` itself included; stops at anything non-empty. A lock
 * folder is empty by design and never pruned: it may be another process's live lock.
 */
async function pruneEmpty(dir: string): Promise<boolean> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return false;
  let empty = true;
  for (const e of entries) {
    const prunable = e.isDirectory() && !e.name.endsWith(".lock");
    if (!(prunable && (await pruneEmpty(join(dir, e.name))))) empty = false;
  }
  if (!empty) return false;
  return rmdir(dir).then(() => true, () => false);
}
