import type { Logger } from "../logger.js";
import { hubCacheDir, hubEndpoint, isOffline, resolveHubToken } from "../hub/hub-config.js";
import type { CacheConfig } from "./cache-env.js";
import { HfModelCache, type HfModelCacheOptions } from "./model-cache.js";

/**
 * Cache options from the parsed environment. `env` supplies what the schema does not parse
 * (XDG_CACHE_HOME, like huggingface_hub); `overrides` wins over both (the CLI's --cache-dir).
 */
export function modelCacheOptions(
  config: CacheConfig,
  logger: Logger,
  overrides: Partial<HfModelCacheOptions> = {},
  env: NodeJS.ProcessEnv = process.env,
): HfModelCacheOptions {
  const hf = { ...config, XDG_CACHE_HOME: env.XDG_CACHE_HOME };
  return {
    cacheDir: hubCacheDir(hf),
    endpoint: hubEndpoint(hf),
    token: resolveHubToken(hf),
    offline: isOffline(hf),
    concurrency: config.OMNIGATE_DOWNLOAD_CONCURRENCY,
    connections: config.OMNIGATE_DOWNLOAD_CONNECTIONS,
    maxConnections: config.OMNIGATE_DOWNLOAD_MAX_CONNECTIONS,
    parallelMinBytes: config.OMNIGATE_DOWNLOAD_PARALLEL_MIN_BYTES,
    chunkBytes: config.OMNIGATE_DOWNLOAD_CHUNK_BYTES,
    timeoutMs: config.OMNIGATE_HUB_TIMEOUT_MS,
    retry: {
      maxAttempts: config.OMNIGATE_HUB_RETRIES,
      baseDelayMs: config.OMNIGATE_HUB_RETRY_BASE_MS,
      maxRetryAfterMs: config.OMNIGATE_HUB_MAX_RETRY_AFTER_S * 1000,
    },
    lockStaleMs: config.OMNIGATE_CACHE_LOCK_STALE_MS,
    reserveBytes: config.OMNIGATE_CACHE_RESERVE_BYTES,
    logger,
    ...overrides,
  };
}

/** The agent's ModelCache (the reconciler drives models through it). */
export function createModelCache(config: CacheConfig, logger: Logger, overrides: Partial<HfModelCacheOptions> = {}): HfModelCache {
  return new HfModelCache(modelCacheOptions(config, logger, overrides));
}
