import type { ModelRecord, RegisterModelParsed } from "@omnigate/shared/models";
import { RuntimeType, capabilitiesOf, inferRuntimes, kindOf } from "@omnigate/shared/runtimes";
import { ApiError } from "@omnigate/shared/errors";

/**
 * A validated registration → the stored record: the name defaults to the repo id; the runtime is
 * the given one, else the single runtime the files point at; kind and capabilities follow it.
 */
export function buildModelRecord(request: RegisterModelParsed, now: number = Math.floor(Date.now() / 1000)): ModelRecord {
  const runtime = request.runtime ?? inferRuntime(request.files);
  return {
    name: request.name ?? request.repo,
    repo: request.repo,
    revision: request.revision,
    files: request.files,
    runtime,
    kind: kindOf(runtime),
    capabilities: [...capabilitiesOf(runtime)],
    options: request.options,
    created_at: now,
    replicas: request.replicas,
    node_selector: request.node_selector,
    ...(request.resources ? { resources: request.resources } : {}),
    placement_policy: request.placement_policy,
  };
}

function inferRuntime(files: readonly string[]): RuntimeType {
  const found = inferRuntimes(files);
  if (found.length === 1) return found[0] as RuntimeType;
  const choices = found.length > 1 ? found : RuntimeType.options;
  const why =
    files.length === 0
      ? "no files were given to infer it from"
      : found.length === 0
        ? `none of the files (${files.slice(0, 3).join(", ")}${files.length > 3 ? ", …" : ""}) names a known model format`
        : "the files match several runtimes";
  throw new ApiError("ambiguous_runtime", `Cannot tell which runtime runs this model: ${why}. Give runtime: one of ${choices.join(", ")}.`, "runtime");
}
