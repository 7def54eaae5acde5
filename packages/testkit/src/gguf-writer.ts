import { writeFile } from "node:fs/promises";
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgmlType, GgufValueType } from "@omnigate/shared/gguf";

/**
 * A GGUF writer for tests and benchmarks: they generate real model files from code instead of
 * depending on files outside the repository. It writes with the constants the agent's parser reads
 * with (`@omnigate/shared/gguf`); the real llama.cpp suite loads what it writes, so a wrong constant
 * cannot hide in both.
 */

export type GgufWriteScalar = number | bigint | boolean | string;
export interface GgufWriteKv {
  readonly key: string;
  readonly type: number;
  /** For ARRAY: `{ itemType, items }`. */
  readonly value: GgufWriteScalar | { readonly itemType: number; readonly items: readonly GgufWriteScalar[] };
}
export interface GgufWriteTensor {
  readonly name: string;
  /** ggml order: dims[0] is the row length. */
  readonly dims: readonly number[];
  /** F32 or F16; values are converted to the type. */
  readonly type: typeof GgmlType.F32 | typeof GgmlType.F16;
  readonly data: Float32Array;
}
export interface GgufWriteSpec {
  readonly kv: readonly GgufWriteKv[];
  readonly tensors: readonly GgufWriteTensor[];
}

/** Grows as it is written; the files made here are small (test models). */
class Out {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  u64(v: number | bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  str(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.push(b);
  }
  pad(alignment: number): void {
    const rem = this.length % alignment;
    if (rem) this.push(Buffer.alloc(alignment - rem));
  }
  scalar(type: number, v: GgufWriteScalar): void {
    const b = Buffer.alloc(8);
    switch (type) {
      case GgufValueType.UINT8: b.writeUInt8(Number(v)); return this.push(b.subarray(0, 1));
      case GgufValueType.INT8: b.writeInt8(Number(v)); return this.push(b.subarray(0, 1));
      case GgufValueType.UINT16: b.writeUInt16LE(Number(v)); return this.push(b.subarray(0, 2));
      case GgufValueType.INT16: b.writeInt16LE(Number(v)); return this.push(b.subarray(0, 2));
      case GgufValueType.UINT32: b.writeUInt32LE(Number(v)); return this.push(b.subarray(0, 4));
      case GgufValueType.INT32: b.writeInt32LE(Number(v)); return this.push(b.subarray(0, 4));
      case GgufValueType.FLOAT32: b.writeFloatLE(Number(v)); return this.push(b.subarray(0, 4));
      case GgufValueType.BOOL: b.writeUInt8(v ? 1 : 0); return this.push(b.subarray(0, 1));
      case GgufValueType.STRING: return this.str(String(v));
      case GgufValueType.UINT64: b.writeBigUInt64LE(BigInt(v)); return this.push(b);
      case GgufValueType.INT64: b.writeBigInt64LE(BigInt(v)); return this.push(b);
      case GgufValueType.FLOAT64: b.writeDoubleLE(Number(v)); return this.push(b);
      default: throw new Error(`cannot write GGUF value type ${type}`);
    }
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

/** One float's bits, reused by every toHalf call (millions per model: no allocation each). */
const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

/** IEEE 754 half from a float (round to nearest even); Node 20 has no Float16Array. */
export function toHalf(value: number): number {
  scratchFloat[0] = value;
  const x = scratchBits[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant = (mant | 0x800000) >>> (1 - e);
    if (mant & 0x1000 && mant & 0x2fff) mant += 0x2000;
    return sign | (mant >>> 13);
  }
  if (mant & 0x1000 && mant & 0x2fff) {
    mant += 0x2000;
    if (mant & 0x800000) {
      mant = 0;
      e += 1;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | (mant >>> 13);
}

function tensorBytes(t: GgufWriteTensor): Buffer {
  const count = t.dims.reduce((a, d) => a * d, 1);
  if (t.data.length !== count) throw new Error(`tensor ${t.name}: ${t.data.length} values for dims ${t.dims.join("x")}`);
  if (t.type === GgmlType.F32) return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const b = Buffer.alloc(count * 2);
  for (let i = 0; i < count; i++) b.writeUInt16LE(toHalf(t.data[i]!), i * 2);
  return b;
}

/** Encodes a GGUF v3 file: header, KVs, tensor infos, then tensor data each aligned to 32. */
export function encodeGguf(spec: GgufWriteSpec): Buffer {
  const align = GGUF_DEFAULT_ALIGNMENT;
  const datas = spec.tensors.map(tensorBytes);
  const out = new Out();
  out.u32(GGUF_MAGIC);
  out.u32(3);
  out.u64(spec.tensors.length);
  out.u64(spec.kv.length);
  for (const { key, type, value } of spec.kv) {
    out.str(key);
    out.u32(type);
    if (type === GgufValueType.ARRAY) {
      if (typeof value !== "object") throw new Error(`${key}: ARRAY needs { itemType, items }`);
      out.u32(value.itemType);
      out.u64(value.items.length);
      for (const item of value.items) out.scalar(value.itemType, item);
    } else {
      if (typeof value === "object") throw new Error(`${key}: scalar type ${type} given an array`);
      out.scalar(type, value);
    }
  }
  let offset = 0;
  spec.tensors.forEach((t, i) => {
    out.str(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(t.type);
    out.u64(offset);
    offset += Math.ceil(datas[i]!.length / align) * align;
  });
  out.pad(align);
  for (const data of datas) {
    out.push(data);
    out.pad(align);
  }
  return out.toBuffer();
}

/** mulberry32: a tiny seeded PRNG, so the same seed gives the same file (and the same sha256). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TinyLlamaOptions {
  /** Same seed → byte-identical file. Default 1. */
  readonly seed?: number;
  /** Matrix weights as F32 (default, like the reference fixture) or F16 (a smaller file). */
  readonly weightType?: "f32" | "f16";
  /** Written to general.name (lets tests make distinct files with the same shape). */
  readonly name?: string;
}

/**
 * The vocabulary: `<unk> <s> </s>`, the SentencePiece space `▁`, the 94
 * printable ASCII characters, then byte tokens `<0x00>`…`<0x7F>` so any ASCII text tokenizes.
 */
function vocab(size = 0): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ["<unk>", "<s>", "</s>", "\u2581"];
  const scores = [0, 0, 0, -1];
  const types = [2, 3, 3, 1]; // llama_token_type: 1 normal, 2 unknown, 3 control, 6 byte
  for (let c = 0x21; c <= 0x7e; c++) {
    tokens.push(String.fromCharCode(c));
    scores.push(-1);
    types.push(1);
  }
  for (let b = 0; b < 0x80; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    scores.push(-10);
    types.push(6);
  }
  // Padding up to `size` with plain tokens: a vocabulary of a realistic width for the output layer.
  for (let i = tokens.length; i < size; i++) {
    tokens.push(`<pad${i}>`);
    scores.push(-20);
    types.push(1);
  }
  return { tokens, scores, types };
}

/** The shape of a llama-architecture model. */
export interface LlamaShape {
  readonly embd: number;
  readonly ff: number;
  readonly layers: number;
  readonly heads: number;
  /** Fewer than `heads` = grouped-query attention. */
  readonly headsKv: number;
  /** At least 226 (the ASCII vocabulary); more are padding tokens. */
  readonly vocab: number;
  readonly contextLength: number;
}

export const TINY_LLAMA_SHAPE: LlamaShape = { embd: 64, ff: 128, layers: 2, heads: 4, headsKv: 4, vocab: 226, contextLength: 512 };

/**
 * A tiny but real llama-architecture model (2 layers, 64 wide, 226-token ASCII vocab, random
 * weights): llama.cpp's llama-server loads it, chats and streams (gibberish) with it. The keys are
 * the ones llama.cpp's llama loader requires; the vocab is the smallest that tokenizes any ASCII.
 */
export function buildTinyLlamaGguf(options: TinyLlamaOptions = {}): Buffer {
  return buildLlamaGguf(TINY_LLAMA_SHAPE, options);
}

/** A llama-architecture model of any shape, random weights (the memory estimate's tests use several). */
export function buildLlamaGguf(shape: LlamaShape, options: TinyLlamaOptions = {}): Buffer {
  const rand = prng(options.seed ?? 1);
  const weightType = options.weightType === "f16" ? GgmlType.F16 : GgmlType.F32;
  const { embd, ff, layers, heads, headsKv } = shape;
  const kvWidth = (embd / heads) * headsKv;
  const v = vocab(shape.vocab);
  const nVocab = v.tokens.length;
  // Box-Muller normal, std 0.02 like the reference (a typical init scale).
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()) * 0.02;
  const matrix = (name: string, cols: number, rows: number): GgufWriteTensor => ({
    name, dims: [cols, rows], type: weightType, data: Float32Array.from({ length: cols * rows }, normal),
  });
  // Norm weights stay F32 and 1.0: llama.cpp expects F32 norms, and 1.0 keeps activations sane.
  const ones = (name: string): GgufWriteTensor => ({ name, dims: [embd], type: GgmlType.F32, data: new Float32Array(embd).fill(1) });
  const tensors: GgufWriteTensor[] = [matrix("token_embd.weight", embd, nVocab), ones("output_norm.weight"), matrix("output.weight", embd, nVocab)];
  for (let l = 0; l < layers; l++) {
    const p = `blk.${l}.`;
    tensors.push(
      ones(`${p}attn_norm.weight`),
      matrix(`${p}attn_q.weight`, embd, embd),
      matrix(`${p}attn_k.weight`, embd, kvWidth),
      matrix(`${p}attn_v.weight`, embd, kvWidth),
      matrix(`${p}attn_output.weight`, embd, embd),
      ones(`${p}ffn_norm.weight`),
      matrix(`${p}ffn_gate.weight`, embd, ff),
      matrix(`${p}ffn_down.weight`, ff, embd),
      matrix(`${p}ffn_up.weight`, embd, ff),
    );
  }
  const T = GgufValueType;
  const kv: GgufWriteKv[] = [
    { key: "general.architecture", type: T.STRING, value: "llama" },
    { key: "general.name", type: T.STRING, value: options.name ?? "omnigate-tiny-llama" },
    { key: "llama.context_length", type: T.UINT32, value: shape.contextLength },
    { key: "llama.embedding_length", type: T.UINT32, value: embd },
    { key: "llama.block_count", type: T.UINT32, value: layers },
    { key: "llama.feed_forward_length", type: T.UINT32, value: ff },
    { key: "llama.attention.head_count", type: T.UINT32, value: heads },
    { key: "llama.attention.head_count_kv", type: T.UINT32, value: headsKv },
    { key: "llama.rope.dimension_count", type: T.UINT32, value: embd / heads },
    { key: "llama.attention.layer_norm_rms_epsilon", type: T.FLOAT32, value: 1e-5 },
    // llama_ftype: 0 = all F32, 1 = mostly F16.
    { key: "general.file_type", type: T.UINT32, value: weightType === GgmlType.F16 ? 1 : 0 },
    { key: "tokenizer.ggml.model", type: T.STRING, value: "llama" },
    { key: "tokenizer.ggml.tokens", type: T.ARRAY, value: { itemType: T.STRING, items: v.tokens } },
    { key: "tokenizer.ggml.scores", type: T.ARRAY, value: { itemType: T.FLOAT32, items: v.scores } },
    { key: "tokenizer.ggml.token_type", type: T.ARRAY, value: { itemType: T.INT32, items: v.types } },
    { key: "tokenizer.ggml.bos_token_id", type: T.UINT32, value: 1 },
    { key: "tokenizer.ggml.eos_token_id", type: T.UINT32, value: 2 },
    { key: "tokenizer.ggml.unknown_token_id", type: T.UINT32, value: 0 },
    { key: "tokenizer.ggml.add_bos_token", type: T.BOOL, value: true },
    {
      key: "tokenizer.chat_template",
      type: T.STRING,
      value: "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:",
    },
  ];
  return encodeGguf({ kv, tensors });
}

/** Writes the tiny llama model to `path`; returns its size in bytes. */
export async function writeTinyLlamaGguf(path: string, options: TinyLlamaOptions = {}): Promise<number> {
  const bytes = buildTinyLlamaGguf(options);
  await writeFile(path, bytes);
  return bytes.length;
}
