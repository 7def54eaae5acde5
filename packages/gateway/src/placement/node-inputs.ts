import { DEFAULT_LLAMA_SETTINGS, estimateMib, llamaSettingsFromArgs, type LlamaMemorySettings } from "@omnigate/shared/memory-estimate";
import type { ModelRecord } from "@omnigate/shared/models";
import type { CachedSnapshot, NodeRegistrationParsed } from "@omnigate/shared/node-protocol";
import type { ModelEstimate, NodeAdminState } from "../store/placement-store.js";
import type { NodeStanding } from "./placement-types.js";

/**
 * What a node can hold: GPU memory when it has GPUs (a model fits on one GPU, else split across
 * them by layers as llama.cpp does, so the sum is what counts), else system memory; less the
 * node's OMNIGATE_NODE_RESERVED_MIB. Totals, not "free now": the ledger already counts our own
 * engines, and "used" would count them twice. null = an agent that reports neither.
 */
export function capacityMib(registration: NodeRegistrationParsed): number | null {
  const reserved = registration.capacity?.reserved_mib ?? 0;
  if (registration.gpus.length > 0) return Math.max(0, registration.gpus.reduce((sum, g) => sum + g.memory_total_mib, 0) - reserved);
  if (registration.capacity) return Math.max(0, registration.capacity.memory_total_mib - reserved);
  return null;
}

export function standingOf(options: { online: boolean; sinceSeenMs: number; replaceAfterMs: number; admin: NodeAdminState }): NodeStanding {
  if (!options.online) return options.sinceSeenMs >= options.replaceAfterMs ? "lost" : "offline";
  if (options.admin.draining) return "draining";
  if (options.admin.cordoned) return "cordoned";
  return "schedulable";
}

/** The llama-server settings a model runs with on a node: the node's, then the model's own engine_args. */
export function modelSettings(model: ModelRecord, node: LlamaMemorySettings | undefined): LlamaMemorySettings & { ctx_from_model?: true } {
  return llamaSettingsFromArgs(model.options.engine_args ?? [], node ?? DEFAULT_LLAMA_SETTINGS);
}

/** MiB the model needs with these node settings: the override, else the stored estimate. */
export function needMib(model: ModelRecord, estimate: ModelEstimate | undefined, node: LlamaMemorySettings | undefined): number | undefined {
  if (model.resources) return model.resources.memory_mib;
  if (!estimate) return undefined;
  return estimateMib(estimate.profile, estimate.profile.kind === "llama" ? modelSettings(model, node) : undefined);
}

/** The node's cache holds every file of the estimate at its commit: placing the model there downloads nothing. */
export function holdsFiles(cached: readonly CachedSnapshot[] | undefined, repo: string, estimate: ModelEstimate | undefined): boolean {
  if (!cached || !estimate || estimate.files.length === 0) return false;
  const snapshot = cached.find((c) => c.repo === repo && c.commit === estimate.commit);
  if (!snapshot) return false;
  const have = new Set(snapshot.files);
  return estimate.files.every((f) => have.has(f.path));
}
