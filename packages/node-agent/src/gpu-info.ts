import { execFile } from "node:child_process";
import type { GpuInfo } from "@omnigate/shared/node-protocol";

const QUERY = ["--query-gpu=index,name,memory.total,memory.used", "--format=csv,noheader,nounits"];

/** Parses `nvidia-smi --query-gpu=index,name,memory.total,memory.used --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(stdout: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of stdout.split("\n")) {
    const parts = line.split(",").map((p) => p.trim());
    if (parts.length !== 4) continue;
    const [index, name, total, used] = parts as [string, string, string, string];
    const gpu = { index: Number(index), name: name.slice(0, 256), memory_total_mib: Number(total), memory_used_mib: Number(used) };
    if (Number.isInteger(gpu.index) && gpu.index >= 0 && gpu.memory_total_mib >= 0 && gpu.memory_used_mib >= 0) gpus.push(gpu);
  }
  return gpus.slice(0, 64);
}

/**
 * The node's GPUs as the registration and `/api/nodes` show them. `nvidia-smi` is optional: no
 * binary, no driver or a hang (bounded by a timeout) all mean "no GPUs known", never a failure.
 * Refreshed in the background at most every `maxAgeMs`, so building a heartbeat never waits on it.
 */
export class GpuProbe {
  #gpus: GpuInfo[] = [];
  #probedAt = 0;
  #probing: Promise<void> | undefined;

  constructor(
    private readonly bin = "nvidia-smi",
    private readonly maxAgeMs = 30_000,
  ) {}

  /** Probes once and waits (agent start). */
  async refresh(): Promise<GpuInfo[]> {
    this.#probing ??= new Promise<void>((resolve) => {
      execFile(this.bin, QUERY, { timeout: 3_000, windowsHide: true }, (err, stdout) => {
        this.#gpus = err ? this.#gpus : parseNvidiaSmi(String(stdout));
        this.#probedAt = Date.now();
        this.#probing = undefined;
        resolve();
      });
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
