import { describe, expect, it } from "vitest";
import { GpuProbe, parseNvidiaSmi } from "./gpu-info.js";

describe("parseNvidiaSmi", () => {
  it("reads one GPU per line and skips junk", () => {
    const out = "0, NVIDIA GeForce RTX 4090, 24564, 1024\n1, NVIDIA A100-SXM4-80GB, 81920, 0\nNo devices were found\n";
    expect(parseNvidiaSmi(out)).toEqual([
      { index: 0, name: "NVIDIA GeForce RTX 4090", memory_total_mib: 24564, memory_used_mib: 1024 },
      { index: 1, name: "NVIDIA A100-SXM4-80GB", memory_total_mib: 81920, memory_used_mib: 0 },
    ]);
  });
});

describe("GpuProbe", () => {
  it("reports no GPUs when the binary is missing, without throwing", async () => {
    const probe = new GpuProbe("/nonexistent/nvidia-smi");
    expect(await probe.refresh()).toEqual([]);
    expect(probe.current()).toEqual([]);
  });
});
