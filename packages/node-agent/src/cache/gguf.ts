import { open, type FileHandle } from "node:fs/promises";
import {
  FIXED_VALUE_SIZE,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GgufValueType,
  ggmlTensorBytes,
} from "@omnigate/shared/gguf";

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

const CHUNK = 64 * 1024;

/** Positional, buffered reads: the header is parsed in one pass without loading the file. */
class ByteReader {
  private buf = Buffer.alloc(CHUNK);
  private bufStart = 0; // file offset of buf[0]
  private bufLen = 0;
  pos = 0;

  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
  ) {}

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
    const { bytesRead } = await this.fh.read(this.buf, 0, want, this.pos);
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
export async function readGgufHeader(path: string, options: ReadGgufOptions = {}): Promise<GgufHeader> {
  const maxItems = options.maxArrayItems ?? 64;
  const fh = await open(path, "r");
  try {
    const size = (await fh.stat()).size;
    const r = new ByteReader(fh, size);
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
  } finally {
    await fh.close();
  }
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

export type GgufCheck = { ok: true; header: GgufHeader } | { ok: false; reason: string };

/** The cheap structural check (magic, version, counts, tensor bounds): a file that fails it is never handed to an engine. */
export async function checkGgufFile(path: string): Promise<GgufCheck> {
  try {
    const header = await readGgufHeader(path, { maxArrayItems: 0 });
    const problem = tensorBoundsProblem(header);
    return problem ? { ok: false, reason: problem } : { ok: true, header };
  } catch (err) {
    if (err instanceof GgufFormatError) return { ok: false, reason: err.message };
    throw err;
  }
}
