import { describe, expect, it } from "vitest";
import { RegisterModelRequest } from "./models.js";
import { ModelName, RepoId, describeZodError, unsafePathReason } from "./validation.js";

describe("validation", () => {
  it("accepts Hugging Face repo ids and refuses anything else", () => {
    expect(RepoId.safeParse("TheBloke/Llama-2-7B-GGUF").success).toBe(true);
    for (const bad of ["noslash", "a/b/c", "../etc", "org/na..me", "org/na--me", "-org/x", "org/x-", "o rg/x", "org/x\u0000"]) {
      expect(RepoId.safeParse(bad).success, bad).toBe(false);
    }
  });

  it("refuses paths that could escape a folder", () => {
    expect(unsafePathReason("onnx/model.onnx")).toBeNull();
    expect(unsafePathReason("*.gguf")).toBeNull();
    expect(unsafePathReason("../x")).toMatch(/'\.\.'/);
    expect(unsafePathReason("/etc/passwd")).toMatch(/absolute/);
    expect(unsafePathReason("a\\b")).toMatch(/backslash/);
    expect(unsafePathReason("a\u0000b")).toMatch(/NUL/);
  });

  it("refuses control characters and huge model names", () => {
    expect(ModelName.safeParse("org/model:q4").success).toBe(true);
    expect(ModelName.safeParse("x\u0007y").success).toBe(false);
    expect(ModelName.safeParse("x".repeat(10_000)).success).toBe(false);
  });

  it("names the bad field in the error", () => {
    const r = RegisterModelRequest.safeParse({ repo: "org/m", files: ["ok.gguf", "../../etc/passwd"] });
    expect(r.success).toBe(false);
    if (r.success) return;
    const { message, param } = describeZodError(r.error);
    expect(param).toBe("files.1");
    expect(message).toContain("files.1");
    expect(message).toContain("'..'");
  });
});
