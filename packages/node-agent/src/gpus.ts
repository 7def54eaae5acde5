import { execFile } from "node:child_process";
import { GpuInfo } from "@omnigate/shared/node-protocol";
import { resolveBinary } from "./engines/binary.js";

const QUERY = ["--query-gpu=index,name,memory.total,memory.used", "--format=csv,noheader,nounits"];

/** `0, NVIDIA A100-SXM4-80GB, 81920, 1234` lines → GpuInfo; lines that do not parse are skipped. */
export function parseNvidiaSmi(output: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of output.split("\n")) {
    if (!line.trim()) continue;
    const parts = line.split(",").map((p) => p.trim());
    if (parts.length < 4) continue;
    // A GPU name may contain commas: index first, the two numbers last, the name in between.
    const index = Number(parts[0]);
    const used = Number(parts.at(-1));
    const total = Number(parts.at(-2));
    const name = parts.slice(1, -2).join(", ");
    const parsed = GpuInfo.safeParse({ index, name, memory_total_mib: total, memory_used_mib: used });
    if (parsed.success) gpus.push(parsed.data);
  }
  return gpus;
}

export interface GpuQueryOptions {
  /** OMNIGATE_NVIDIA_SMI_BIN; unset = `nvidia-smi` on PATH. */
  readonly bin?: string;
  readonly timeoutMs?: number;
}

/**
 * The GPUs `nvidia-smi` reports (name, memory total and used), for registration and heartbeats.
 * No nvidia-smi, or it fails (no driver) → []: a CPU-only node is a normal node.
 */
export async function queryGpus(options: GpuQueryOptions = {}): Promise<GpuInfo[]> {
  const found = await resolveBinary(options.bin, ["nvidia-smi"], "OMNIGATE_NVIDIA_SMI_BIN");
  if (!found.ok) return [];
  return new Promise((resolve) => {
    execFile(found.path, QUERY, { timeout: options.timeoutMs ?? 10_000, maxBuffer: 1024 * 1024 }, (err, stdout) => {
      resolve(err ? [] : parseNvidiaSmi(String(stdout)));
    });
  });
}
