// GPU discovery: nvidia-smi's CSV → GpuInfo[], through a stand-in nvidia-smi process; [] without one.
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseNvidiaSmi, queryGpus } from "../src/gpus.js";
import { TestScope } from "@omnigate/testkit/scope";
import { standin } from "@omnigate/testkit/stand-ins";

const scope = new TestScope();
afterAll(() => scope.cleanup());

describe("GPU discovery", () => {
  it("reads index, name and memory from nvidia-smi", async () => {
    const gpus = await queryGpus({ bin: standin("nvidia-smi") });
    expect(gpus).toEqual([
      { index: 0, name: "NVIDIA A100-SXM4-80GB", memory_total_mib: 81920, memory_used_mib: 1024 },
      { index: 1, name: "NVIDIA A100-SXM4-80GB", memory_total_mib: 81920, memory_used_mib: 40960 },
    ]);
  });

  it("reports nothing when nvidia-smi is absent or fails (no driver)", async () => {
    expect(await queryGpus({ bin: "/nonexistent/nvidia-smi" })).toEqual([]);
    const dir = await scope.tempDir();
    const failing = join(dir, "nvidia-smi");
    await writeFile(failing, `#!/bin/sh\necho "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."\nexit 9\n`);
    await chmod(failing, 0o755);
    expect(await queryGpus({ bin: failing })).toEqual([]);
  });

  it("keeps commas inside a GPU name and skips lines that are not GPUs", () => {
    expect(parseNvidiaSmi("0, Tesla T4, rev, 2, 15360, 0\n\n[N/A]\n1, GPU, [N/A], 3\n")).toEqual([
      { index: 0, name: "Tesla T4, rev, 2", memory_total_mib: 15360, memory_used_mib: 0 },
    ]);
  });
});
