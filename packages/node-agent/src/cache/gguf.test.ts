import { mkdtemp, rm, writeFile, truncate, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkGgufFile, readGgufHeader } from "./gguf.js";
import { GgmlType, GgufValueType } from "@omnigate/shared/gguf";
import { buildTinyLlamaGguf, encodeGguf, toHalf, writeTinyLlamaGguf } from "@omnigate/testkit/gguf-writer";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "omnigate-gguf-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("GGUF writer + parser", () => {
  it("writes a tiny llama model the parser reads back with every key llama.cpp needs", async () => {
    const path = join(dir, "tiny.gguf");
    const size = await writeTinyLlamaGguf(path, { seed: 7 });
    const check = await checkGgufFile(path);
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    const h = check.header;
    expect(h.fileSize).toBe(size);
    expect(h.version).toBe(3);
    expect(h.architecture).toBe("llama");
    expect(h.kv.get("llama.block_count")).toBe(2);
    expect(h.kv.get("llama.embedding_length")).toBe(64);
    expect(h.kvTypes.get("tokenizer.ggml.tokens")).toBe(GgufValueType.ARRAY);
    const tokens = h.kv.get("tokenizer.ggml.tokens");
    expect(typeof tokens === "object" && tokens.length).toBe(226);
    expect(h.tensors).toHaveLength(3 + 2 * 9);
    expect(h.tensors.map((t) => t.name)).toContain("blk.1.ffn_down.weight");
    expect(h.dataOffset % 32).toBe(0);
  });

  it("is deterministic per seed and differs across seeds", () => {
    const a = buildTinyLlamaGguf({ seed: 3 });
    expect(buildTinyLlamaGguf({ seed: 3 }).equals(a)).toBe(true);
    expect(buildTinyLlamaGguf({ seed: 4 }).equals(a)).toBe(false);
  });

  it("writes F16 matrices at half the size, norms kept F32", async () => {
    const path = join(dir, "f16.gguf");
    await writeFile(path, buildTinyLlamaGguf({ weightType: "f16" }));
    const h = await readGgufHeader(path);
    expect(h.tensors.find((t) => t.name === "output.weight")?.type).toBe(GgmlType.F16);
    expect(h.tensors.find((t) => t.name === "output_norm.weight")?.type).toBe(GgmlType.F32);
    expect((await checkGgufFile(path)).ok).toBe(true);
  });

  it("converts floats to IEEE halves", () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(0)).toBe(0);
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(1e6)).toBe(0x7c00);
    expect(toHalf(5.960464477539063e-8)).toBe(1); // smallest subnormal
  });

  it("streams past tokenizer arrays far larger than its buffer", async () => {
    const items = Array.from({ length: 200_000 }, (_, i) => `token-${i}`);
    const path = join(dir, "big-vocab.gguf");
    await writeFile(path, encodeGguf({
      kv: [
        { key: "general.architecture", type: GgufValueType.STRING, value: "llama" },
        { key: "tokenizer.ggml.tokens", type: GgufValueType.ARRAY, value: { itemType: GgufValueType.STRING, items } },
        { key: "after", type: GgufValueType.UINT32, value: 42 },
      ],
      tensors: [{ name: "t", dims: [32], type: GgmlType.F32, data: new Float32Array(32) }],
    }));
    const h = await readGgufHeader(path, { maxArrayItems: 10 });
    expect(h.kv.get("after")).toBe(42);
    const arr = h.kv.get("tokenizer.ggml.tokens");
    expect(typeof arr === "object" && arr.length).toBe(200_000);
    expect(typeof arr === "object" && arr.items).toBeUndefined();
  });
});

describe("GGUF structural check refuses broken files", () => {
  async function variant(mutate: (b: Buffer) => Buffer): Promise<string> {
    const path = join(dir, "m.gguf");
    await writeFile(path, mutate(Buffer.from(buildTinyLlamaGguf())));
    const r = await checkGgufFile(path);
    return r.ok ? "ok" : r.reason;
  }

  it("accepts the untouched file", async () => {
    expect(await variant((b) => b)).toBe("ok");
  });
  it("refuses a wrong magic", async () => {
    expect(await variant((b) => (b.write("GGML", 0), b))).toMatch(/not a GGUF file/);
  });
  it("refuses an unknown version", async () => {
    expect(await variant((b) => (b.writeUInt32LE(4, 4), b))).toMatch(/unsupported GGUF version 4/);
  });
  it("refuses counts that could not fit in the file", async () => {
    expect(await variant((b) => (b.writeBigUInt64LE(1n << 40n, 8), b))).toMatch(/tensor count.*does not fit/);
    expect(await variant((b) => (b.writeBigUInt64LE(1n << 40n, 16), b))).toMatch(/kv count.*does not fit/);
  });
  it("refuses a truncated file (tensor data cut off)", async () => {
    expect(await variant((b) => b.subarray(0, b.length - 100))).toMatch(/tensor blk\.1\.ffn_up\.weight ends at byte .*truncated/);
  });
  it("refuses a file cut inside the header", async () => {
    expect(await variant((b) => b.subarray(0, 3000))).toMatch(/file ends inside/);
  });
  it("refuses a zero-byte file", async () => {
    expect(await variant(() => Buffer.alloc(0))).toMatch(/too short/);
  });
  it("refuses a file without general.architecture", async () => {
    const path = join(dir, "noarch.gguf");
    await writeFile(path, encodeGguf({ kv: [{ key: "general.name", type: GgufValueType.STRING, value: "x" }], tensors: [] }));
    const r = await checkGgufFile(path);
    expect(r.ok ? "ok" : r.reason).toMatch(/general.architecture is missing/);
  });
  it("reports truncation of a real-size file written then cut on disk", async () => {
    const path = join(dir, "cut.gguf");
    await writeTinyLlamaGguf(path);
    await truncate(path, (await readFile(path)).length - 1);
    expect((await checkGgufFile(path)).ok).toBe(false);
  });
});
