import { join, posix } from "node:path";
import { unsafePathReason } from "@omnigate/shared/validation";
import type { ModelRecord } from "@omnigate/shared/models";
import type { CachedModel } from "../cache/types.js";
import { splitArgs } from "@omnigate/shared/argv";
import { EngineSetupError, modelLabel } from "./engine-errors.js";

/** The absolute path of a repo-relative file; never outside the snapshot. */
export function filePath(files: CachedModel, rel: string): string {
  const reason = unsafePathReason(rel);
  if (reason) throw new EngineSetupError(`cached file ${JSON.stringify(rel)} ${reason}`);
  return join(files.snapshotDir, ...rel.split("/"));
}

/** Files whose base name matches `re`, sorted (CachedModel.files already is). */
export function filesMatching(files: CachedModel, re: RegExp): string[] {
  return files.files.filter((f) => re.test(posix.basename(f)));
}

/** The single file an engine needs, or a setup error naming what is missing and what was there. */
export function requireFile(model: ModelRecord, files: CachedModel, candidates: readonly string[], what: string): string {
  const first = candidates[0];
  if (first === undefined) {
    const have = files.files.slice(0, 10).join(", ") || "none";
    throw new EngineSetupError(
      `${modelLabel(model.name)} has no ${what} among its files (${have}); register it with a 'files' pattern that includes one.`,
    );
  }
  return filePath(files, first);
}

/** A folder that files of the model live under (e.g. espeak-ng-data), if any. */
export function folderOf(files: CachedModel, folder: string): string | undefined {
  const hit = files.files.find((f) => f === folder || f.startsWith(`${folder}/`) || f.includes(`/${folder}/`));
  if (!hit) return undefined;
  const index = hit.indexOf(folder);
  return filePath(files, hit.slice(0, index + folder.length));
}

/** Runtime-wide args from config, then the model's own `options.engine_args`. */
export function extraArgs(configured: string, variable: string, model: ModelRecord): string[] {
  let fromConfig: string[];
  try {
    fromConfig = splitArgs(configured);
  } catch (err) {
    throw new EngineSetupError(`${variable}: ${(err as Error).message}`);
  }
  return [...fromConfig, ...(model.options.engine_args ?? [])];
}
