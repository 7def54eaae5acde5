import { describe, expect, it } from "vitest";
import { RegisterModelRequest } from "@omnigate/shared/models";
import { ApiError } from "@omnigate/shared/errors";
import { buildModelRecord } from "./build-model-record.js";

const parse = (body: unknown) => RegisterModelRequest.parse(body);

describe("buildModelRecord", () => {
  it("defaults the name to the repo id and infers the runtime from the files", () => {
    const record = buildModelRecord(parse({ repo: "ggml-org/whisper.cpp", files: ["ggml-base.en.bin"] }), 42);
    expect(record).toEqual({
      name: "ggml-org/whisper.cpp",
      repo: "ggml-org/whisper.cpp",
      revision: "main",
      files: ["ggml-base.en.bin"],
      runtime: "whisper",
      kind: "asr",
      capabilities: ["transcription", "translation"],
      options: {},
      created_at: 42,
      replicas: 1,
      node_selector: {},
      placement_policy: "spread",
    });
  });

  it("takes a given runtime even where the files suggest another (image models in gguf)", () => {
    const record = buildModelRecord(parse({ name: "sd", repo: "org/sd", files: ["sd.gguf"], runtime: "stable_diffusion" }));
    expect(record).toMatchObject({ name: "sd", runtime: "stable_diffusion", kind: "image" });
    expect(record.capabilities).toContain("image_generation");
  });

  it("names the choices when the files match several runtimes", () => {
    const attempt = () => buildModelRecord(parse({ repo: "org/mixed", files: ["a.gguf", "voice.onnx"] }));
    expect(attempt).toThrow(ApiError);
    expect(attempt).toThrow("Give runtime: one of llama_cpp, onnx_runtime.");
    try {
      attempt();
    } catch (err) {
      expect(err).toMatchObject({ code: "ambiguous_runtime", status: 400, param: "runtime" });
    }
  });

  it("names every runtime when nothing can be inferred", () => {
    expect(() => buildModelRecord(parse({ repo: "org/x" }))).toThrow(
      "no files were given to infer it from. Give runtime: one of llama_cpp, whisper, stable_diffusion, onnx_runtime.",
    );
    expect(() => buildModelRecord(parse({ repo: "org/x", files: ["README.md"] }))).toThrow(/none of the files \(README.md\)/);
  });
});
