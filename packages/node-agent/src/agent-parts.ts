import type { Router } from "express";
import type { ModelCache } from "./cache/types.js";
import type { AgentConfig } from "./config.js";
import type { Logger } from "./logger.js";
import type { ModelServer } from "./supervisor/types.js";

/** What the cache and engines issues provide: the agent composes them, it does not build them. */
export interface AgentParts {
  readonly cache: ModelCache;
  readonly server: ModelServer;
  /** The data plane (`/v1/*`), mounted behind the node-secret auth. */
  readonly openaiRouter?: Router;
  /** Releases what the parts hold beyond the engines (cache locks, pools). */
  close?(): Promise<void>;
}

/**
 * The real parts.
 * TODO(issue 3/4 wiring): construct the HF model cache (src/cache) and the engine supervisor
 * (src/supervisor) plus createOpenAIRouter (src/api/openai-routes.ts) here once they land. Until
 * then the agent registers with no runtimes, so the gateway assigns it nothing.
 */
export async function createDefaultParts(_config: AgentConfig, _logger: Logger): Promise<AgentParts> {
  const server: ModelServer = {
    supportedRuntimes: [],
    start: () => {
      throw new Error("no engine supervisor is wired into this build");
    },
    stop: async () => {},
    load: () => undefined,
    engines: () => [],
    close: async () => {},
  };
  const cache: ModelCache = {
    pull: async () => {
      throw new Error("no model cache is wired into this build");
    },
    remove: async () => {},
  };
  return { cache, server };
}
