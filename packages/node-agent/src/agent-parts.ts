import { createAgentDataPlane, openAILimits, type AgentDataPlane } from "./api/data-plane.js";
import { createModelCache } from "./cache/create-model-cache.js";
import type { ModelCache } from "./cache/types.js";
import type { AgentConfig } from "./config.js";
import type { Logger } from "./logger.js";
import { createModelServer } from "./supervisor/engine-model-server.js";
import type { ModelServer } from "./supervisor/types.js";

/** What the cache and engines issues provide: the agent composes them, it does not build them. */
export interface AgentParts {
  readonly cache: ModelCache;
  readonly server: ModelServer;
  /** The data plane (the nine `/v1/*` inference endpoints), served behind the node-secret check. */
  readonly dataPlane?: AgentDataPlane;
  /** Releases what the parts hold beyond the engines (cache locks, pools). */
  close?(): Promise<void>;
}

/**
 * The real parts: the Hugging Face cache, the engine supervisor (probes the engine binaries, so
 * `supportedRuntimes` is known before registration) and the data plane in front of it.
 */
export async function createDefaultParts(config: AgentConfig, logger: Logger): Promise<AgentParts> {
  const cache = createModelCache(config, logger.child({ component: "cache" }));
  let server;
  try {
    server = await createModelServer({ config, stateDir: config.OMNIGATE_STATE_DIR, logger: logger.child({ component: "engines" }) });
  } catch (err) {
    await cache.close();
    throw err;
  }
  const dataPlane = createAgentDataPlane({ server, logger: logger.child({ component: "openai" }), limits: openAILimits(config) });
  return { cache, server, dataPlane, close: () => cache.close() };
}
