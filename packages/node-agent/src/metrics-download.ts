import type { DownloadProgress } from "@omnigate/shared/models";
import type { ModelCache } from "./cache/types.js";

/**
 * The cache as the reconciler sees it, with every pull's progress also counted as downloaded bytes
 * (`omnigate_agent_download_bytes_total`, by Hub repository: a pull knows its repo, not the model
 * name). Progress reports the bytes present per pull, so the counter takes each increase; bytes a
 * pull finds already on disk (a resumed download) count too.
 */
export function withDownloadMetrics(cache: ModelCache, record: (bytes: number, repo: string) => void): ModelCache {
  return {
    pull(model, options = {}) {
      let last = 0;
      const onProgress = (p: DownloadProgress): void => {
        if (p.bytes > last) record(p.bytes - last, model.repo);
        last = p.bytes;
        options.onProgress?.(p);
      };
      return cache.pull(model, { ...options, onProgress });
    },
    remove: (model, stillWanted) => cache.remove(model, stillWanted),
  };
}
