import { describe, expect, it } from "vitest";
import { globToRegExp, isGlob, matchesAny, selectFiles } from "./repo-glob.js";

describe("safe globs", () => {
  const m = (pattern: string, path: string) => globToRegExp(pattern).test(path);
  it("* stays inside one folder", () => {
    expect(m("*.gguf", "a.gguf")).toBe(true);
    expect(m("*.gguf", "q/a.gguf")).toBe(false);
    expect(m("q/*.gguf", "q/a.gguf")).toBe(true);
  });
  it("** crosses folders, and a leading **/ also matches the top level", () => {
    expect(m("**/*.json", "a/b/c.json")).toBe(true);
    expect(m("**/*.json", "c.json")).toBe(true);
    expect(m("a/**", "a/b/c")).toBe(true);
    expect(m("a/**/z", "a/z")).toBe(true);
    expect(m("a**z", "a/b/z")).toBe(true);
  });
  it("? is one character but never /", () => {
    expect(m("model-0000?.gguf", "model-00001.gguf")).toBe(true);
    expect(m("a?b", "a/b")).toBe(false);
  });
  it("treats regex syntax as literal text", () => {
    expect(m("a.b", "axb")).toBe(false);
    expect(m("(a|b)+[c]", "(a|b)+[c]")).toBe(true);
    expect(m("x{2}", "xx")).toBe(false);
    expect(m("^$\\", "^$\\")).toBe(true);
  });
  it("selects in listing order and reports patterns that matched nothing", () => {
    const files = [{ path: "a.gguf" }, { path: "b.txt" }, { path: "d/c.gguf" }];
    expect(selectFiles(files, [])).toEqual({ selected: files, unmatched: [] });
    expect(selectFiles(files, ["**/*.gguf", "x.bin"])).toEqual({ selected: [files[0], files[2]], unmatched: ["x.bin"] });
    expect(isGlob("a*")).toBe(true);
    expect(isGlob("a.b")).toBe(false);
    expect(matchesAny("b.txt", ["*.txt"])).toBe(true);
    expect(matchesAny("b.txt", [])).toBe(true);
  });
});
