import type { GpuInfo } from "@omnigate/shared/node-protocol";
import { queryGpus, type GpuQueryOptions } from "./gpus.js";

/**
 * The node's GPUs for registration and heartbeats (queried with `nvidia-smi`, gpus.ts), refreshed
 * in the background at most every `maxAgeMs` so building a heartbeat never waits on a slow driver.
 */
export class GpuProbe {
  #gpus: GpuInfo[] = [];
  #probedAt = 0;
  #probing: Promise<void> | undefined;

  constructor(
    private readonly query: GpuQueryOptions = {},
    private readonly maxAgeMs = 30_000,
  ) {}

  /** Queries now and waits (agent start). */
  async refresh(): Promise<GpuInfo[]> {
    this.#probing ??= queryGpus(this.query)
      .then((gpus) => {
        this.#gpus = gpus;
      })
      .finally(() => {
        this.#probedAt = Date.now();
        this.#probing = undefined;
      });
    await this.#probing;
    return this.#gpus;
  }

  /** The last known GPUs; starts a background refresh when stale. */
  current(): GpuInfo[] {
    if (Date.now() - this.#probedAt > this.maxAgeMs) void this.refresh();
    return this.#gpus;
  }
}
