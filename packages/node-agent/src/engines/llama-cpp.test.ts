import { describe, expect, it } from "vitest";
import { DEFAULT_LLAMA_CTX_SIZE } from "@omnigate/shared/memory-estimate";
import type { CachedModel } from "../cache/types.js";
import { modelRecord, standinConfig } from "../../test/helpers/engine-harness.js";
import { createLlamaCppAdapter } from "./llama-cpp.js";

// The context the engine runs with is the one the gateway's memory estimate assumed: the agent
// passes the default itself unless the node's or the model's arguments set one.

const files: CachedModel = { commit: "0".repeat(40), snapshotDir: "/cache/snapshots/x", files: ["m.gguf"] };

async function argvOf(nodeArgs: string, engineArgs: string[] = []): Promise<string[]> {
  const adapter = createLlamaCppAdapter(standinConfig({ OMNIGATE_LLAMA_ARGS: nodeArgs }));
  expect((await adapter.probe()).ok).toBe(true);
  const plan = adapter.plan(modelRecord("m", "llama_cpp", ["m.gguf"], { engine_args: engineArgs }), files);
  if (plan.kind !== "server") throw new Error("llama_cpp runs a server");
  return plan.argv(8123);
}

describe("llama_cpp's context size", () => {
  it("is the default the estimate assumes when no argument sets one", async () => {
    const argv = await argvOf("-ngl 99");
    expect(argv.slice(1, 3)).toEqual(["-c", String(DEFAULT_LLAMA_CTX_SIZE)]);
    expect(argv.filter((a) => a === "-c")).toHaveLength(1);
  });

  it.each([
    ["the node's", "-c 8192", [], "8192"],
    ["the node's long form", "--ctx-size=16384", [], "--ctx-size=16384"],
    ["the model's", "", ["--ctx-size", "2048"], "2048"],
  ])("is %s when it sets one", async (_what, nodeArgs, engineArgs, expected) => {
    const argv = await argvOf(nodeArgs, engineArgs);
    expect(argv).toContain(expected);
    expect(argv).not.toContain(String(DEFAULT_LLAMA_CTX_SIZE));
  });
});
