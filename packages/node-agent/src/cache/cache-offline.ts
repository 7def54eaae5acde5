import { lstat, readFile, readdir, readlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { COMMIT_RE, ETAG_RE } from "../hub/hub-client.js";
import { OfflineError } from "../hub/hub-errors.js";
import { checkBlob, describeProblem } from "./blob-verify.js";
import { isGgufPath } from "./blob-fetch.js";
import { NotCachedError } from "./cache-errors.js";
import { selectFiles } from "@omnigate/shared/repo-glob";
import { type CacheLayout, checkRepo, checkRepoPath, checkRevision } from "./cache-paths.js";
import { checkGgufFile } from "./gguf.js";
import type { CacheModelRef, CachedModel } from "./types.js";

/** Repo-relative paths of every file or link under a snapshot folder (our own temp links skipped). */
export async function listSnapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    const entries = await readdir(join(dir, rel), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path);
      else if (!e.name.endsWith(".tmp")) out.push(path);
    }
  }
  await walk("");
  return out.sort();
}

/** The commit a revision names in this cache: itself when it is a hash, else `refs/<revision>`. */
export async function cachedCommit(layout: CacheLayout, repo: string, revision: string): Promise<string | undefined> {
  if (COMMIT_RE.test(revision)) return revision;
  const ref = (await readFile(layout.refPath(repo, revision), "utf8").catch(() => ""))?.trim();
  return COMMIT_RE.test(ref) ? ref : undefined;
}

/** The blob a snapshot link points at, when it is one of this repo's blobs. */
export async function linkedEtag(layout: CacheLayout, repo: string, linkPath: string): Promise<string | undefined> {
  const target = await readlink(linkPath).catch(() => undefined);
  if (target === undefined) return undefined;
  const etag = basename(target);
  if (!ETAG_RE.test(etag)) return undefined;
  return resolve(dirname(linkPath), target) === layout.blobPath(repo, etag) ? etag : undefined;
}

/**
 * A model as it is in the cache, every file checked (size > 0, hash vs. blob name unless stamped,
 * GGUF header) — no network. Serves HF_HUB_OFFLINE=1 and is the final gate of every pull.
 */
export async function readCachedModel(layout: CacheLayout, model: CacheModelRef, offline: boolean): Promise<CachedModel> {
  const repo = checkRepo(model.repo);
  const revision = checkRevision(model.revision);
  const patterns = model.files.map((p) => checkRepoPath(p, "file pattern"));
  const fail = (detail: string): never => {
    const message = `${repo}@${revision} is not usable from the cache at ${layout.root}: ${detail}`;
    throw offline ? new OfflineError(`${message} (HF_HUB_OFFLINE=1: pull it while online)`) : new NotCachedError(message);
  };
  const commit = await cachedCommit(layout, repo, revision);
  if (!commit) return fail(`revision '${revision}' was never pulled`);
  const snapshotDir = layout.snapshotDir(repo, commit);
  const present = await listSnapshot(snapshotDir);
  const { selected, unmatched } = selectFiles(present.map((path) => ({ path })), patterns);
  if (unmatched.length > 0) return fail(`missing ${unmatched.map((p) => `'${p}'`).join(", ")}`);
  if (selected.length === 0) return fail("no files cached");

  for (const { path } of selected) {
    const file = layout.snapshotFile(repo, commit, path);
    const info = await lstat(file);
    const gguf = isGgufPath(path);
    if (info.isSymbolicLink()) {
      const etag = await linkedEtag(layout, repo, file);
      if (!etag) return fail(`'${path}' does not point at a blob of this repo`);
      const problem = await checkBlob(layout, repo, etag, { gguf, trustStamp: true });
      if (problem) return fail(describeProblem(path, problem));
    } else {
      // A copied file (huggingface_hub on filesystems without symlinks): no etag to hash against.
      if (info.size === 0) return fail(`'${path}' is empty (0 bytes)`);
      if (gguf) {
        const g = await checkGgufFile(file);
        if (!g.ok) return fail(`'${path}' is not a valid GGUF file: ${g.reason}`);
      }
    }
  }
  return { commit, snapshotDir, files: selected.map((s) => s.path).sort() };
}
