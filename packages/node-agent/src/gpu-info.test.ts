import { describe, expect, it } from "vitest";
import { standin } from "@omnigate/testkit/stand-ins";
import { GpuProbe } from "./gpu-info.js";

describe("GpuProbe", () => {
  it("reports no GPUs when nvidia-smi is missing, without throwing", async () => {
    const probe = new GpuProbe({ bin: "/nonexistent/nvidia-smi" });
    expect(await probe.refresh()).toEqual([]);
    expect(probe.current()).toEqual([]);
  });

  it("keeps what the nvidia-smi stand-in reports", async () => {
    const probe = new GpuProbe({ bin: standin("nvidia-smi") });
    const gpus = await probe.refresh();
    expect(gpus.length).toBeGreaterThan(0);
    expect(probe.current()).toEqual(gpus);
  });
});
