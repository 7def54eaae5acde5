import { Router } from "express";
import type { GatewayConfig } from "../config.js";
import type { Logger } from "../logger.js";
import type { NodeRegistry } from "../nodes/node-registry.js";
import type { ModelLookup } from "../routing/readiness.js";
import { ApiError } from "../errors/api-error.js";

export interface DataPlaneDeps {
  readonly models: ModelLookup;
  readonly nodes: NodeRegistry;
  readonly config: GatewayConfig;
  readonly logger: Logger;
}

export interface DataPlane {
  /** Mounted at the app root behind client API-key auth: serves the OpenAI inference endpoints. */
  readonly router: Router;
  /** Ends pooled connections and waiting requests. */
  close(): Promise<void>;
}

// SCAFFOLD (issue 5 replaces this file): the inference endpoints answer 503 until the data plane lands.
export function createDataPlane(_deps: DataPlaneDeps): DataPlane {
  const router = Router();
  router.post(/^\/v1\/(chat\/completions|completions|embeddings|audio\/.*|images\/.*)$/, () => {
    throw new ApiError("internal_error", "The data plane is not built yet.");
  });
  return { router, close: async () => {} };
}
