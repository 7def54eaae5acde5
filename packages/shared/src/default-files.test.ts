import { describe, expect, it } from "vitest";
import { defaultFilesFor, pickGgufVariant } from "./default-files.js";

const quants = (stem: string, ...labels: string[]) => labels.map((q) => `${stem}-${q}.gguf`);

describe("llama_cpp's default files (a model registered without 'files')", () => {
  it("takes Q4_K_M out of a repo of quantizations, as llama-server -hf does", () => {
    const repo = [".gitattributes", "README.md", ...quants("m", "Q2_K", "Q3_K_M", "Q4_0", "Q4_K_M", "Q4_K_S", "Q5_K_M", "Q6_K", "Q8_0", "f16")];
    expect(pickGgufVariant(repo)).toEqual(["m-Q4_K_M.gguf"]);
  });

  it("falls back by preference when there is no Q4_K_M", () => {
    expect(pickGgufVariant(quants("m", "Q8_0", "Q6_K", "Q5_K_M"))).toEqual(["m-Q5_K_M.gguf"]);
    expect(pickGgufVariant(quants("m", "F16", "Q8_0"))).toEqual(["m-Q8_0.gguf"]);
    // A label is a whole token: Q4_0_4_4 is not Q4_0.
    expect(pickGgufVariant(quants("m", "Q4_0_4_4", "Q4_0"))).toEqual(["m-Q4_0.gguf"]);
    expect(pickGgufVariant(["model.q4_k_m.gguf", "model.q8_0.gguf"])).toEqual(["model.q4_k_m.gguf"]);
  });

  it("takes the first variant when none carries a known label", () => {
    expect(pickGgufVariant(["zeta.gguf", "alpha.gguf", "notes.txt"])).toEqual(["alpha.gguf"]);
  });

  it("takes every shard of the chosen variant, in a folder per quantization or side by side", () => {
    const side = ["big-Q4_K_M-00001-of-00002.gguf", "big-Q4_K_M-00002-of-00002.gguf", "big-Q8_0-00001-of-00003.gguf", "big-Q8_0-00002-of-00003.gguf", "big-Q8_0-00003-of-00003.gguf"];
    expect(pickGgufVariant(side)).toEqual(["big-Q4_K_M-00001-of-00002.gguf", "big-Q4_K_M-00002-of-00002.gguf"]);
    const folders = ["Q8_0/big-00001-of-00002.gguf", "Q8_0/big-00002-of-00002.gguf", "Q4_K_M/big-00001-of-00002.gguf", "Q4_K_M/big-00002-of-00002.gguf"];
    expect(pickGgufVariant(folders)).toEqual(["Q4_K_M/big-00001-of-00002.gguf", "Q4_K_M/big-00002-of-00002.gguf"]);
  });

  it("adds one multimodal projector when the repo has some (F16 first), never as the model", () => {
    expect(pickGgufVariant([...quants("vl", "Q4_K_M", "Q8_0"), "mmproj-vl-BF16.gguf", "mmproj-vl-F16.gguf"])).toEqual(["vl-Q4_K_M.gguf", "mmproj-vl-F16.gguf"]);
    expect(pickGgufVariant(["vl-Q8_0.gguf", "mmproj-vl-f32.gguf"])).toEqual(["vl-Q8_0.gguf", "mmproj-vl-f32.gguf"]);
  });

  it("leaves the rest of a repo behind: only .gguf files serve llama-server", () => {
    expect(pickGgufVariant(["model.safetensors", "config.json", "tokenizer.json", "model-Q4_K_M.gguf"])).toEqual(["model-Q4_K_M.gguf"]);
  });

  it("refuses a repo without a GGUF model, naming what it has and what to do", () => {
    expect(() => pickGgufVariant(["model.safetensors", "config.json"])).toThrow(
      /no \.gguf model file for llama-server \(it has config\.json, model\.safetensors\); register a GGUF repo, or name the files with 'files'/,
    );
    expect(() => pickGgufVariant(["mmproj-F16.gguf"])).toThrow(/no \.gguf model file/);
    expect(() => pickGgufVariant([])).toThrow(/it has no files/);
  });

  it("is llama_cpp's alone: the other runtimes pull their whole repo", () => {
    expect(defaultFilesFor("llama_cpp")).toBe(pickGgufVariant);
    for (const runtime of ["whisper", "stable_diffusion", "onnx_runtime"] as const) expect(defaultFilesFor(runtime)).toBeUndefined();
  });
});
