import { describe, expect, it } from "vitest";
import { splitArgs } from "./argv.js";

describe("splitArgs", () => {
  it("splits on whitespace and drops empty words", () => {
    expect(splitArgs("  -ngl 99\t-c   8192 \n")).toEqual(["-ngl", "99", "-c", "8192"]);
    expect(splitArgs("")).toEqual([]);
  });

  it("keeps quoted spaces and empty quoted words", () => {
    expect(splitArgs(`--chat-template "chat ml" --x '' --y 'a "b" c'`)).toEqual([
      "--chat-template",
      "chat ml",
      "--x",
      "",
      "--y",
      'a "b" c',
    ]);
  });

  it("expands nothing: variables, globs, substitutions stay literal", () => {
    expect(splitArgs("$HOME * `id` $(id) ~ ;rm -rf /")).toEqual(["$HOME", "*", "`id`", "$(id)", "~", ";rm", "-rf", "/"]);
  });

  it("handles backslash escapes outside and inside double quotes", () => {
    expect(splitArgs(String.raw`a\ b "c\"d" 'e\f'`)).toEqual(["a b", 'c"d', String.raw`e\f`]);
  });

  it("rejects an unterminated quote", () => {
    expect(() => splitArgs(`--alias "oops`)).toThrow(/unterminated/);
  });
});

describe("engine argument variables", () => {
  it("fail config loading on bad quoting, naming the variable", async () => {
    const { EngineEnv } = await import("./engine-env.js");
    const parsed = EngineEnv.safeParse({ OMNIGATE_LLAMA_ARGS: `-ngl 99 --alias "oops` });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(["OMNIGATE_LLAMA_ARGS"]);
    expect(EngineEnv.parse({ OMNIGATE_LLAMA_ARGS: "-ngl 99" }).OMNIGATE_LLAMA_ARGS).toBe("-ngl 99");
  });
});
