import { describe, expect, it } from "vitest";
import { buildEngineEnv } from "./child-env.js";

describe("buildEngineEnv", () => {
  const source = {
    PATH: "/usr/bin",
    HOME: "/home/a",
    CUDA_VISIBLE_DEVICES: "0",
    LC_ALL: "C",
    HF_TOKEN: "hf_secret",
    OMNIGATE_NODE_TOKEN: "node-secret-token",
    STANDIN_LOAD_MS: "5",
    EXTRA_ONE: "1",
  };
  it("passes locale, paths and GPU runtime variables, never the agent's secrets", () => {
    expect(buildEngineEnv("", source)).toEqual({ PATH: "/usr/bin", HOME: "/home/a", CUDA_VISIBLE_DEVICES: "0", LC_ALL: "C" });
  });
  it("adds configured names and PREFIX_* patterns", () => {
    const env = buildEngineEnv("EXTRA_ONE, STANDIN_*", source);
    expect(env).toMatchObject({ EXTRA_ONE: "1", STANDIN_LOAD_MS: "5" });
    expect(env.HF_TOKEN).toBeUndefined();
  });
});
