import type { DefaultFiles } from "@omnigate/shared/default-files";
import type { DownloadProgress, ModelRecord } from "@omnigate/shared/models";

/** What the cache needs to know of a model. */
export type CacheModelRef = Pick<ModelRecord, "repo" | "revision" | "files">;

/** A model whose every file is downloaded and verified. */
export interface CachedModel {
  /** The commit the revision resolved to. */
  readonly commit: string;
  /** `<cache>/models--org--name/snapshots/<commit>` */
  readonly snapshotDir: string;
  /** Repo-relative paths of the files, sorted; each exists under `snapshotDir`. */
  readonly files: readonly string[];
}

/** The default pick (`@omnigate/shared/default-files`): the cache itself knows no runtimes. */
export type { DefaultFiles };

export interface PullOptions {
  /** Aborting stops the download and leaves no debris but resumable `.incomplete` files. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: DownloadProgress) => void;
  /** Called once the bytes are all here and verification begins. */
  readonly onVerifying?: () => void;
  /** The pick when the model names no `files`; without it the whole repo is pulled. */
  readonly defaultFiles?: DefaultFiles;
}

/** The verified local model cache (issue 3). The reconciler drives models through it. */
export interface ModelCache {
  pull(model: CacheModelRef, options?: PullOptions): Promise<CachedModel>;
  /**
   * Removes a model's snapshot links, refs and every blob no longer used — except what the models
   * in `stillWanted` need (two registered models may share a repo).
   */
  remove(model: CacheModelRef, stillWanted: readonly CacheModelRef[]): Promise<void>;
}
