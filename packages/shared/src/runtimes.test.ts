import { describe, expect, it } from "vitest";
import { CAPABILITY_ENDPOINTS, RUNTIMES, inferRuntimes } from "./runtimes.js";

describe("runtime table", () => {
  it("gives every capability to exactly one runtime", () => {
    const all = Object.values(RUNTIMES).flatMap((r) => r.capabilities);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(Object.keys(CAPABILITY_ENDPOINTS).length);
  });

  it("infers a runtime from file names, or every candidate when ambiguous", () => {
    expect(inferRuntimes(["model-q4_k_m.gguf"])).toEqual(["llama_cpp"]);
    expect(inferRuntimes(["ggml-base.en.bin"])).toEqual(["whisper"]);
    expect(inferRuntimes(["vits/model.onnx", "vits/tokens.txt"])).toEqual(["onnx_runtime"]);
    expect(inferRuntimes(["sd_turbo.safetensors"])).toEqual(["stable_diffusion"]);
    expect(inferRuntimes(["a.gguf", "b.onnx"]).sort()).toEqual(["llama_cpp", "onnx_runtime"]);
    expect(inferRuntimes(["README.md"])).toEqual([]);
  });
});
