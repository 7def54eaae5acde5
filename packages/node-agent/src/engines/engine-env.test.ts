import { describe, expect, it } from "vitest";
import { EngineEnv } from "./engine-env.js";

describe("engine argument variables", () => {
  it("fail config loading on bad quoting, naming the variable", () => {
    const parsed = EngineEnv.safeParse({ OMNIGATE_LLAMA_ARGS: `-ngl 99 --alias "oops` });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(["OMNIGATE_LLAMA_ARGS"]);
    expect(EngineEnv.parse({ OMNIGATE_LLAMA_ARGS: "-ngl 99" }).OMNIGATE_LLAMA_ARGS).toBe("-ngl 99");
  });
});
