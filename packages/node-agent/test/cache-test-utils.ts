import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestHub, type TestHub, type TestHubOptions } from "@omnigate/testkit/hub";
import { TestScope } from "@omnigate/testkit/scope";
import type { TestProcess } from "@omnigate/testkit/test-process";
import { HfModelCache, type HfModelCacheOptions } from "../src/cache/model-cache.js";
import { createLogger } from "../src/logger.js";

export { bytes, tree } from "@omnigate/testkit/files";

const PKG_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The cache commands as their own program (built JS; `pnpm build` first). */
export const CACHE_CLI = join(PKG_DIR, "dist", "cli", "cache-main.js");

/** The test scope with what the cache suites start in it: hubs, caches, the cache CLI. */
export class CacheScope extends TestScope {
  async hub(options: TestHubOptions): Promise<TestHub> {
    const h = await startTestHub(options);
    this.defer(() => h.close());
    return h;
  }

  /** A cache with fast retries (tests must not sleep seconds between attempts). */
  cache(hub: TestHub | { url: string }, cacheDir: string, overrides: Partial<HfModelCacheOptions> = {}): HfModelCache {
    const c = new HfModelCache({
      cacheDir,
      endpoint: hub.url,
      offline: false,
      concurrency: 2,
      connections: 8,
      maxConnections: 16,
      parallelMinBytes: 64 * 1024 * 1024,
      chunkBytes: 16 * 1024 * 1024,
      timeoutMs: 2_000,
      retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 5_000 },
      lockStaleMs: 2_000,
      reserveBytes: 0,
      logger: createLogger("silent"),
      ...overrides,
    });
    this.defer(() => c.close().catch(() => undefined));
    return c;
  }

  /** Runs the cache CLI (`result()` gives its exit code and output). */
  cli(args: string[], env: Record<string, string | undefined>): TestProcess {
    return this.spawn(CACHE_CLI, { name: "cache-cli", args, env: { OMNIGATE_HUB_RETRY_BASE_MS: "20", OMNIGATE_CACHE_LOCK_STALE_MS: "2000", ...env } });
  }
}
