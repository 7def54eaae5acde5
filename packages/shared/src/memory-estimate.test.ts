import { describe, expect, it } from "vitest";
import { GgmlType, type GgufHeader, type GgufValue } from "./gguf.js";
import { DEFAULT_LLAMA_SETTINGS, FILE_SIZE_FACTOR, estimateBytes, estimateMib, ggufMemoryProfile, llamaSettingsFromArgs, type MemoryProfile } from "./memory-estimate.js";

const MIB = 1024 * 1024;

/** A GGUF header as the parser returns it: `kv` and F16 tensors of the given shapes. */
function header(kv: Record<string, GgufValue>, tensors: Array<readonly number[]> = [], fileSize = 1_000_000): GgufHeader {
  return {
    version: 3,
    kv: new Map(Object.entries(kv)),
    kvTypes: new Map(),
    tensors: tensors.map((dims, i) => ({ name: `t${i}`, dims: dims.map(BigInt), type: GgmlType.F16, offset: 0n })),
    architecture: String(kv["general.architecture"] ?? "llama"),
    alignment: 32,
    dataOffset: 4096,
    fileSize,
  };
}

const SHAPE = {
  "general.architecture": "llama",
  "llama.block_count": 2,
  "llama.embedding_length": 64,
  "llama.feed_forward_length": 128,
  "llama.attention.head_count": 4,
  "llama.attention.head_count_kv": 2,
  "llama.context_length": 2048,
} satisfies Record<string, GgufValue>;

const PROFILE: MemoryProfile = {
  kind: "llama",
  weights_bytes: 1_000_000,
  n_layer: 2,
  n_embd: 64,
  n_ff: 128,
  n_head: 4,
  n_head_kv: 2,
  head_dim_k: 16,
  head_dim_v: 16,
  n_ctx_train: 2048,
};

describe("llamaSettingsFromArgs", () => {
  it("reads the arguments that change llama-server's memory, later ones winning", () => {
    expect(llamaSettingsFromArgs([])).toEqual(DEFAULT_LLAMA_SETTINGS);
    expect(llamaSettingsFromArgs(["-ngl", "99", "-c", "8192", "--ctx-size=16384", "-ub", "256"])).toMatchObject({ ctx_size: 16_384, ubatch_size: 256 });
    expect(llamaSettingsFromArgs(["-ctk", "Q8_0", "--cache-type-v=q4_0"])).toMatchObject({ cache_type_k: "q8_0", cache_type_v: "q4_0" });
    expect(llamaSettingsFromArgs(["-fa", "off"]).flash_attn).toBe(false);
    expect(llamaSettingsFromArgs(["--no-flash-attn", "--flash-attn", "on"]).flash_attn).toBe(true);
    // An older llama-server's bare flag: the next word is another flag, not its value.
    expect(llamaSettingsFromArgs(["--no-flash-attn", "-fa", "-c", "512"])).toMatchObject({ flash_attn: true, ctx_size: 512 });
  });

  it("applies a model's arguments over the node's, and takes -c 0 as the model's training context", () => {
    const node = llamaSettingsFromArgs(["-c", "8192", "-ctk", "q8_0"]);
    expect(llamaSettingsFromArgs(["-c", "2048"], node)).toMatchObject({ ctx_size: 2048, cache_type_k: "q8_0" });
    expect(llamaSettingsFromArgs(["-c", "0"], node)).toMatchObject({ ctx_size: 8192, ctx_from_model: true });
    expect(llamaSettingsFromArgs(["-c", "0", "-c", "1024"])).not.toHaveProperty("ctx_from_model");
    // Nonsense values leave the setting as it was.
    expect(llamaSettingsFromArgs(["-c", "lots", "-ub", "-3"])).toEqual(DEFAULT_LLAMA_SETTINGS);
  });
});

describe("estimateBytes", () => {
  it("adds weights, the KV cache at the context the engine runs with, and the compute buffer", () => {
    const kv = 2 * 4096 * 2 * (16 * 2 + 16 * 2);
    const mask = 4096 * 512 * 2;
    const activations = 512 * 4 * Math.max(4 * 64 + 3 * 128, 6 * 64);
    expect(estimateBytes(PROFILE)).toBe(1_000_000 + kv + mask + activations);
    // Without flash attention the mask is f32 and the scores of every head are kept too.
    expect(estimateBytes(PROFILE, { ...DEFAULT_LLAMA_SETTINGS, flash_attn: false })).toBe(1_000_000 + kv + 4096 * 512 * 4 * 5 + activations);
    // A q8_0 K cache: 34 bytes per 32 elements.
    const q8 = estimateBytes(PROFILE, { ...DEFAULT_LLAMA_SETTINGS, cache_type_k: "q8_0" });
    expect(q8).toBe(1_000_000 + 2 * 4096 * 2 * (16 * (34 / 32) + 16 * 2) + mask + activations);
    // -c 0: the training context; the batch never exceeds the context.
    const trained = estimateBytes(PROFILE, { ...DEFAULT_LLAMA_SETTINGS, ctx_from_model: true });
    expect(trained).toBe(1_000_000 + 2 * 2048 * 2 * 64 + 2048 * 512 * 2 + activations);
    const tiny = estimateBytes(PROFILE, { ...DEFAULT_LLAMA_SETTINGS, ctx_size: 256 });
    expect(tiny).toBe(1_000_000 + 2 * 256 * 2 * 64 + 256 * 256 * 2 + 256 * 4 * 640);
  });

  it("takes the files' size times the factor for other runtimes, and rounds up to whole MiB", () => {
    expect(estimateBytes({ kind: "files", bytes: 100 * MIB })).toBe(100 * MIB * FILE_SIZE_FACTOR);
    expect(estimateMib({ kind: "files", bytes: 100 * MIB })).toBe(125);
    expect(estimateMib({ kind: "files", bytes: 1 })).toBe(1);
  });
});

describe("ggufMemoryProfile", () => {
  it("reads the shape from the first file that states one and the weights from all of them", () => {
    const model = header(SHAPE, [[64, 64], [64, 128]]);
    const projector = header({ "general.architecture": "clip" }, [[64, 32]]);
    // PROFILE is this shape: 64 wide over 4 heads (16 each), 2 of them for K and V.
    expect(ggufMemoryProfile([projector, model])).toEqual({ ...PROFILE, weights_bytes: (64 * 64 + 64 * 128 + 64 * 32) * 2 });
  });

  it("takes explicit key/value widths and per-layer head counts (the largest bounds them all)", () => {
    const kv = { kind: "array" as const, itemType: 4, length: 2, items: [2, 8] };
    const profile = ggufMemoryProfile([header({ ...SHAPE, "llama.attention.head_count_kv": kv, "llama.attention.key_length": 24, "llama.attention.value_length": 20 })]);
    expect(profile).toMatchObject({ n_head_kv: 8, head_dim_k: 24, head_dim_v: 20 });
  });

  it("falls back to the files' size when no file states a shape", () => {
    expect(ggufMemoryProfile([header({ "general.architecture": "mystery" }, [], 5_000), header({ "general.architecture": "mystery" }, [], 7_000)])).toEqual({
      kind: "files",
      bytes: 12_000,
    });
  });
});
