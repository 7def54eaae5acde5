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
