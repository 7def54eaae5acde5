import type { ModelRecord } from "@omnigate/shared/models";
import type { CacheModelRef } from "../cache/types.js";

/** The parts of a record that decide which files and which engine serve it. */
export function sameSpec(a: ModelRecord, b: ModelRecord): boolean {
  return specKey(a) === specKey(b);
}

function specKey(r: ModelRecord): string {
  return stableJson({
    repo: r.repo,
    revision: r.revision,
    files: [...r.files].sort(),
    runtime: r.runtime,
    options: r.options,
  });
}

/** JSON with object keys sorted, so two equal values always compare equal as strings. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function cacheRef(r: ModelRecord): CacheModelRef {
  return { repo: r.repo, revision: r.revision, files: r.files };
}
