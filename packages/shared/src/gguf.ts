/**
 * GGUF, the one definition the whole workspace reads and writes it by: the format's constants and a
 * header parser over any byte source. The agent checks its cached files with it, the gateway reads a
 * hub file's header over HTTP Range with it to estimate memory, and the test kit's writer encodes
 * with the same constants. No I/O of its own.
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

/**
 * Where header bytes come from: a local file (the agent's cache) or HTTP `Range` reads of a hub file
 * (the gateway's memory estimate). `read` fills `buf[offset, offset+length)` from `position` and
 * returns how many bytes it read (fewer only at the end).
 */
export interface GgufSource {
  /** Total size in bytes. */
  readonly size: number;
  read(buf: Buffer, offset: number, length: number, position: number): Promise<number>;
}

/** A GGUF file that is not one, or is cut short or inconsistent. */
export class GgufFormatError extends Error {
  override readonly name = "GgufFormatError";
}

export type GgufScalar = number | bigint | boolean | string;
/** Arrays keep their items only when short; tokenizer arrays (many MB) are skipped, not held. */
export interface GgufArray {
  readonly kind: "array";
  readonly itemType: number;
  readonly length: number;
  readonly items?: readonly GgufScalar[];
}
export type GgufValue = GgufScalar | GgufArray;

export interface GgufTensorInfo {
  readonly name: string;
  readonly dims: readonly bigint[];
  readonly type: number;
  /** Relative to the start of the data section. */
  readonly offset: bigint;
}

export interface GgufHeader {
  readonly version: number;
  readonly kv: ReadonlyMap<string, GgufValue>;
  /** The KV value types, by key (the writer's tests compare them). */
  readonly kvTypes: ReadonlyMap<string, number>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly architecture: string;
  readonly alignment: number;
  /** Absolute file offset of the tensor data section. */
  readonly dataOffset: number;
  readonly fileSize: number;
}

export interface ReadGgufOptions {
  /** Arrays up to this many items are kept in `kv` (default 64). */
  readonly maxArrayItems?: number;
}

/** Read-ahead per call: one round trip covers a small header, a few cover a large vocabulary. */
const CHUNK = 64 * 1024;

/** Positional, buffered reads: the header is parsed in one pass without loading the file. */
class ByteReader {
  private buf = Buffer.alloc(CHUNK);
  private bufStart = 0; // file offset of buf[0]
  private bufLen = 0;
  pos = 0;

  readonly size: number;

  constructor(private readonly source: GgufSource) {
    this.size = source.size;
  }

  get remaining(): number {
    return this.size - this.pos;
  }

  /** Ensures `n` bytes at `pos` are in the buffer; returns the buffer index of `pos`. */
  private async need(n: number, what: string): Promise<number> {
    if (n > this.remaining) throw new GgufFormatError(`file ends inside ${what} (at byte ${this.pos} of ${this.size})`);
    const idx = this.pos - this.bufStart;
    if (idx >= 0 && idx + n <= this.bufLen) return idx;
    if (n > this.buf.length) this.buf = Buffer.alloc(Math.max(n, this.buf.length * 2));
    const want = Math.min(this.buf.length, this.size - this.pos);
    const bytesRead = await this.source.read(this.buf, 0, want, this.pos);
    if (bytesRead < n) throw new GgufFormatError(`file ends inside ${what} (short read at byte ${this.pos})`);
    this.bufStart = this.pos;
    this.bufLen = bytesRead;
    return 0;
  }

  async u8(what: string): Promise<number> {
    const i = await this.need(1, what);
    this.pos += 1;
    return this.buf.readUInt8(i);
  }
  async u32(what: string): Promise<number> {
    const i = await this.need(4, what);
    this.pos += 4;
    return this.buf.readUInt32LE(i);
  }
  async u64(what: string): Promise<bigint> {
    const i = await this.need(8, what);
    this.pos += 8;
    return this.buf.readBigUInt64LE(i);
  }

  async scalar(type: number, what: string): Promise<GgufScalar> {
    const size = FIXED_VALUE_SIZE[type];
    if (type === GgufValueType.STRING) return this.string(what);
    if (size === undefined) throw new GgufFormatError(`${what} has unknown value type ${type}`);
    const i = await this.need(size, what);
    this.pos += size;
    const b = this.buf;
    switch (type) {
      case GgufValueType.UINT8: return b.readUInt8(i);
      case GgufValueType.INT8: return b.readInt8(i);
      case GgufValueType.UINT16: return b.readUInt16LE(i);
      case GgufValueType.INT16: return b.readInt16LE(i);
      case GgufValueType.UINT32: return b.readUInt32LE(i);
      case GgufValueType.INT32: return b.readInt32LE(i);
      case GgufValueType.FLOAT32: return b.readFloatLE(i);
      case GgufValueType.BOOL: return b.readUInt8(i) !== 0;
      case GgufValueType.UINT64: return b.readBigUInt64LE(i);
      case GgufValueType.INT64: return b.readBigInt64LE(i);
      default: return b.readDoubleLE(i);
    }
  }

  async string(what: string): Promise<string> {
    const len = await this.length(await this.u64(`${what} length`), 1, what);
    const i = await this.need(len, what);
    this.pos += len;
    return this.buf.toString("utf8", i, i + len);
  }

  async skipString(what: string): Promise<void> {
    const len = await this.length(await this.u64(`${what} length`), 1, what);
    if (len > this.remaining) throw new GgufFormatError(`file ends inside ${what}`);
    this.pos += len;
  }

  /** A count read from the file, refused when its items could not fit in what is left. */
  async length(count: bigint, minItemBytes: number, what: string): Promise<number> {
    if (count * BigInt(minItemBytes) > BigInt(this.remaining)) {
      throw new GgufFormatError(`${what}: count ${count} does not fit in the ${this.remaining} bytes left`);
    }
    return Number(count);
  }
}

async function readValue(r: ByteReader, type: number, key: string, maxItems: number): Promise<GgufValue> {
  if (type !== GgufValueType.ARRAY) return r.scalar(type, `value of ${key}`);
  const itemType = await r.u32(`array type of ${key}`);
  if (itemType === GgufValueType.ARRAY) throw new GgufFormatError(`${key}: nested arrays are not valid GGUF`);
  const itemSize = itemType === GgufValueType.STRING ? 8 : FIXED_VALUE_SIZE[itemType];
  if (itemSize === undefined) throw new GgufFormatError(`${key}: unknown array item type ${itemType}`);
  const length = await r.length(await r.u64(`array length of ${key}`), itemSize, `array ${key}`);
  if (length <= maxItems) {
    const items: GgufScalar[] = [];
    for (let n = 0; n < length; n++) items.push(await r.scalar(itemType, `item ${n} of ${key}`));
    return { kind: "array", itemType, length, items };
  }
  if (itemType === GgufValueType.STRING) {
    for (let n = 0; n < length; n++) await r.skipString(`item ${n} of ${key}`);
  } else {
    r.pos += length * itemSize; // already bounded by length()
  }
  return { kind: "array", itemType, length };
}

/** Parses the header, KV section and tensor infos of a GGUF file without reading tensor data. */
export async function parseGgufHeader(source: GgufSource, options: ReadGgufOptions = {}): Promise<GgufHeader> {
  const maxItems = options.maxArrayItems ?? 64;
  const size = source.size;
  const r = new ByteReader(source);
  if (size < 24) throw new GgufFormatError(`file is ${size} bytes, too short for a GGUF header`);
  const magic = await r.u32("magic");
  if (magic !== GGUF_MAGIC) throw new GgufFormatError("not a GGUF file (magic is not 'GGUF')");
  const version = await r.u32("version");
  if (version !== 2 && version !== 3) throw new GgufFormatError(`unsupported GGUF version ${version} (expected 2 or 3)`);
  // Smallest tensor info: 8 (name len) + 4 (n_dims) + 4 (type) + 8 (offset); smallest KV: 8 + 4 + 1.
  const tensorCount = await r.length(await r.u64("tensor count"), 24, "tensor count");
  const kvCount = await r.length(await r.u64("kv count"), 13, "kv count");

  const kv = new Map<string, GgufValue>();
  const kvTypes = new Map<string, number>();
  for (let n = 0; n < kvCount; n++) {
    const key = await r.string(`key of kv ${n}`);
    const type = await r.u32(`type of ${key}`);
    kvTypes.set(key, type);
    kv.set(key, await readValue(r, type, key, maxItems));
  }

  const tensors: GgufTensorInfo[] = [];
  for (let n = 0; n < tensorCount; n++) {
    const name = await r.string(`name of tensor ${n}`);
    const nDims = await r.u32(`dims of ${name}`);
    if (nDims < 1 || nDims > 4) throw new GgufFormatError(`tensor ${name} has ${nDims} dimensions (1 to 4 allowed)`);
    const dims: bigint[] = [];
    for (let d = 0; d < nDims; d++) dims.push(await r.u64(`dim ${d} of ${name}`));
    const type = await r.u32(`type of ${name}`);
    const offset = await r.u64(`offset of ${name}`);
    tensors.push({ name, dims, type, offset });
  }

  const arch = kv.get("general.architecture");
  if (typeof arch !== "string" || arch.length === 0) throw new GgufFormatError("general.architecture is missing");
  const alignValue = kv.get("general.alignment");
  const alignment = alignValue === undefined ? GGUF_DEFAULT_ALIGNMENT : Number(alignValue);
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new GgufFormatError(`general.alignment ${String(alignValue)} is not a power of two`);
  }
  const dataOffset = Math.ceil(r.pos / alignment) * alignment;
  return { version, kv, kvTypes, tensors, architecture: arch, alignment, dataOffset, fileSize: size };
}

/** Every tensor's data lies inside the file; the first problem found, or null. */
export function tensorBoundsProblem(header: GgufHeader): string | null {
  const dataBytes = BigInt(header.fileSize - header.dataOffset);
  if (dataBytes < 0n && header.tensors.length > 0) return "tensor data section starts past the end of the file";
  for (const t of header.tensors) {
    if (t.offset % BigInt(header.alignment) !== 0n) return `tensor ${t.name} offset ${t.offset} is not aligned to ${header.alignment}`;
    const bytes = ggmlTensorBytes(t.type, t.dims);
    if (bytes === "ragged") return `tensor ${t.name} (type ${t.type}) rows are not a whole number of blocks`;
    const end = t.offset + (bytes === "unknown" ? 0n : bytes);
    if (end > dataBytes || t.offset > dataBytes) {
      return `tensor ${t.name} ends at byte ${end} of the data section, which has ${dataBytes} bytes (file truncated?)`;
    }
  }
  return null;
}

