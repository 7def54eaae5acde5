import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { RepoId, Revision, unsafePathReason } from "@omnigate/shared/validation";
import { COMMIT_RE, ETAG_RE } from "../hub/hub-client.js";
import { UnsafeInputError } from "./cache-errors.js";

/** `org/name` → `models--org--name` (huggingface_hub `repo_folder_name`). */
export function repoFolderName(repo: string): string {
  return `models--${repo.split("/").join("--")}`;
}

/** The inverse, for scanning a cache; undefined for folders that are not model repos. */
export function repoFromFolder(folder: string): string | undefined {
  const m = /^models--([^/]+?)--([^/]+)$/.exec(folder);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

export function checkRepo(repo: string): string {
  const r = RepoId.safeParse(repo);
  if (!r.success) throw new UnsafeInputError(`repo ${JSON.stringify(repo)} refused: ${r.error.issues[0]?.message ?? "invalid"}`);
  return r.data;
}

export function checkRevision(revision: string): string {
  const r = Revision.safeParse(revision);
  if (!r.success) throw new UnsafeInputError(`revision ${JSON.stringify(revision)} refused: ${r.error.issues[0]?.message ?? "invalid"}`);
  return r.data;
}

/** A repo-relative path or glob, given or from the hub's listing (`source` says which, for the message). */
export function checkRepoPath(path: string, source: string): string {
  const reason = unsafePathReason(path);
  if (reason) throw new UnsafeInputError(`${source} ${JSON.stringify(path)} refused: it ${reason}`);
  return path;
}

/**
 * Paths inside one hub cache folder. Every path is built from checked parts AND re-checked to
 * resolve inside the root: a second, independent fence, so a validation gap elsewhere still
 * cannot write outside the cache.
 */
export class CacheLayout {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** `p` resolved, refused unless strictly inside the cache root. */
  inside(p: string): string {
    const abs = resolve(p);
    const rel = relative(this.root, abs);
    if (rel === "" || rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel)) {
      throw new UnsafeInputError(`path ${JSON.stringify(p)} would be outside the cache folder ${this.root}`);
    }
    return abs;
  }

  repoDir(repo: string): string {
    return this.inside(join(this.root, repoFolderName(checkRepo(repo))));
  }
  blobsDir(repo: string): string {
    return join(this.repoDir(repo), "blobs");
  }
  blobPath(repo: string, etag: string): string {
    if (!ETAG_RE.test(etag)) throw new UnsafeInputError(`blob name ${JSON.stringify(etag)} refused: not a sha1 or sha256`);
    return this.inside(join(this.blobsDir(repo), etag));
  }
  incompletePath(repo: string, etag: string): string {
    return `${this.blobPath(repo, etag)}.incomplete`;
  }
  /**
   * The chunk map of a parallel download: which ranges of the `.incomplete` file are on disk.
   * In `blobs/` beside it (huggingface_hub's cache scan only follows snapshot links there).
   */
  chunkMapPath(repo: string, etag: string): string {
    return `${this.incompletePath(repo, etag)}.chunks`;
  }
  snapshotsDir(repo: string): string {
    return join(this.repoDir(repo), "snapshots");
  }
  snapshotDir(repo: string, commit: string): string {
    if (!COMMIT_RE.test(commit)) throw new UnsafeInputError(`commit ${JSON.stringify(commit)} refused: not a 40-hex git hash`);
    return this.inside(join(this.snapshotsDir(repo), commit));
  }
  snapshotFile(repo: string, commit: string, path: string): string {
    checkRepoPath(path, "file path");
    const dir = this.snapshotDir(repo, commit);
    const abs = this.inside(join(dir, path));
    if (!abs.startsWith(dir + sep)) throw new UnsafeInputError(`file path ${JSON.stringify(path)} would leave the snapshot folder`);
    return abs;
  }
  refsDir(repo: string): string {
    return join(this.repoDir(repo), "refs");
  }
  refPath(repo: string, revision: string): string {
    return this.inside(join(this.refsDir(repo), checkRevision(revision)));
  }
  locksDir(repo: string): string {
    return this.inside(join(this.root, ".locks", repoFolderName(checkRepo(repo))));
  }
  /**
   * proper-lockfile's lock folder for a blob. Not huggingface_hub's `<etag>.lock` (a filelock
   * *file* it leaves behind): sharing that name would make a stale HF lock file block us forever.
   */
  lockPath(repo: string, etag: string): string {
    if (!ETAG_RE.test(etag)) throw new UnsafeInputError(`blob name ${JSON.stringify(etag)} refused`);
    return this.inside(join(this.locksDir(repo), `${etag}.omnigate.lock`));
  }
  /**
   * Our "verified" stamp for a blob. Kept under `.locks/`, which huggingface_hub's cache scanner
   * skips; any other extra folder would make `huggingface-cli scan-cache` report a corrupt cache.
   */
  stampPath(repo: string, etag: string): string {
    if (!ETAG_RE.test(etag)) throw new UnsafeInputError(`blob name ${JSON.stringify(etag)} refused`);
    return this.inside(join(this.locksDir(repo), `${etag}.verified.json`));
  }

  /** The relative symlink target from a snapshot file to its blob (`../../blobs/<etag>` at top level). */
  linkTarget(linkPath: string, blobPath: string): string {
    return relative(dirname(linkPath), blobPath);
  }
}
