/**
 * GGUF constants, shared by the agent's structural check (node-agent cache/gguf.ts) and the test
 * kit's writer, so both speak the same format. Pure data and arithmetic.
 * Sources: ggml/include/gguf.h and ggml/src/ggml.c (type_traits: block size, bytes per block).
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** KV value types (gguf_type). */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

/** Byte width of each fixed-size value type; strings and arrays are variable. */
export const FIXED_VALUE_SIZE: Readonly<Record<number, number>> = {
  0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8,
};

/** ggml tensor types the writer uses by name. */
export const GgmlType = { F32: 0, F16: 1, Q8_0: 8 } as const;

/**
 * ggml type → [elements per block, bytes per block]. Types missing here (new quantisations) get an
 * offset-only check instead of being refused: a newer llama.cpp may well load them.
 */
export const GGML_BLOCK: Readonly<Record<number, readonly [number, number]>> = {
  0: [1, 4], // F32
  1: [1, 2], // F16
  2: [32, 18], // Q4_0
  3: [32, 20], // Q4_1
  6: [32, 22], // Q5_0
  7: [32, 24], // Q5_1
  8: [32, 34], // Q8_0
  9: [32, 36], // Q8_1
  10: [256, 84], // Q2_K
  11: [256, 110], // Q3_K
  12: [256, 144], // Q4_K
  13: [256, 176], // Q5_K
  14: [256, 210], // Q6_K
  15: [256, 292], // Q8_K
  16: [256, 66], // IQ2_XXS
  17: [256, 74], // IQ2_XS
  18: [256, 98], // IQ3_XXS
  19: [256, 50], // IQ1_S
  20: [32, 18], // IQ4_NL
  21: [256, 110], // IQ3_S
  22: [256, 82], // IQ2_S
  23: [256, 136], // IQ4_XS
  24: [1, 1], // I8
  25: [1, 2], // I16
  26: [1, 4], // I32
  27: [1, 8], // I64
  28: [1, 8], // F64
  29: [256, 56], // IQ1_M
  30: [1, 2], // BF16
  34: [256, 54], // TQ1_0
  35: [256, 66], // TQ2_0
  39: [32, 17], // MXFP4
};

/**
 * Bytes a tensor occupies; `unknown` for a type this table does not know, `ragged` when a row is not
 * a whole number of blocks (ggml refuses such a tensor).
 */
export function ggmlTensorBytes(type: number, dims: readonly bigint[]): bigint | "unknown" | "ragged" {
  const block = GGML_BLOCK[type];
  if (!block) return "unknown";
  const [blockElems, blockBytes] = block;
  const first = dims[0] ?? 1n;
  if (first % BigInt(blockElems) !== 0n) return "ragged";
  const elements = dims.reduce((a, d) => a * d, 1n);
  return (elements / BigInt(blockElems)) * BigInt(blockBytes);
}
