import { ApiError } from "@omnigate/shared/errors";
import type { ModelNodeView } from "@omnigate/shared/models";
import { CAPABILITY_LABELS, type Capability, type RuntimeType } from "@omnigate/shared/runtimes";

// The gateway's routing errors, with the context they name. Their base, ApiError, is the shared one
// the agent throws too.

export class ModelNotFoundError extends ApiError {
  override name = "ModelNotFoundError";
  constructor(readonly model: string) {
    super(
      "model_not_found",
      `The model '${model}' does not exist. List the models with GET /v1/models, or register it with POST /api/models.`,
      "model",
    );
  }
}

export class CapabilityUnsupportedError extends ApiError {
  override name = "CapabilityUnsupportedError";
  constructor(
    readonly model: string,
    readonly capability: Capability,
    readonly supported: readonly Capability[],
  ) {
    super(
      "model_capability_unsupported",
      `Model '${model}' does not support ${CAPABILITY_LABELS[capability]}; it supports ${supported
        .map((c) => CAPABILITY_LABELS[c])
        .join(", ")}.`,
      "model",
    );
  }
}

export class NoCapableNodeError extends ApiError {
  override name = "NoCapableNodeError";
  constructor(
    readonly model: string,
    readonly runtime: RuntimeType,
    retryAfterS: number,
  ) {
    super(
      "no_capable_node",
      `No online node can run model '${model}' (runtime ${runtime}). Start a node agent with the ${runtime} engine installed, or check GET /api/nodes.`,
      "model",
      { "Retry-After": String(retryAfterS) },
    );
  }
}

/** "downloading 43%", "starting", "failed: checksum mismatch" — what the nodes say. */
export function describeNodeState(node: Pick<ModelNodeView, "state" | "progress" | "error" | "offline">): string {
  if (node.offline) return "node offline";
  if (node.state === "downloading" && node.progress) return `downloading ${Math.floor(node.progress.percent)}%`;
  if (node.state === "failed") return `failed: ${node.error ?? "unknown error"}`;
  return node.state;
}

export class ModelNotReadyError extends ApiError {
  override name = "ModelNotReadyError";
  constructor(
    readonly model: string,
    readonly nodes: readonly ModelNodeView[],
    retryAfterS: number,
  ) {
    const states = nodes.length
      ? nodes.map((n) => `${n.runtime_id.slice(0, 8)}: ${describeNodeState(n)}`).join("; ")
      : "no node has reported it yet";
    super("model_not_ready", `Model '${model}' is not ready on any node (${states}). Retry in ${retryAfterS} s.`, "model", {
      "Retry-After": String(retryAfterS),
    });
  }
}

export class ModelUnplacedError extends ApiError {
  override name = "ModelUnplacedError";
  constructor(
    readonly model: string,
    readonly reasons: readonly string[],
    retryAfterS: number,
  ) {
    const why = reasons.length ? reasons.join("; ") : "no node is placed to serve it";
    super("model_unplaced", `Model '${model}' is not placed on any node: ${why}. Retry in ${retryAfterS} s; GET /v1/models/${model} shows its placement.`, "model", {
      "Retry-After": String(retryAfterS),
    });
  }
}

/** Shutdown began: the client retries elsewhere, or here after the restart. */
export class ShuttingDownError extends ApiError {
  override name = "ShuttingDownError";
  constructor() {
    // Connection: close, so the client's next request opens a connection elsewhere (or later).
    super("shutting_down", "The gateway is shutting down. Retry in a few seconds (another gateway instance, or this one after its restart).", null, {
      "Retry-After": "5",
      Connection: "close",
    });
  }
}
