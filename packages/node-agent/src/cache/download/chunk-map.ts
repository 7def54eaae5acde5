import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { open, readFile, rename, rm } from "node:fs/promises";
import { RangeSet, type ByteRange } from "./range-set.js";

/**
 * What the chunk map beside a parallel download's `.incomplete` file says is on disk. Its bytes
 * are written at their offsets, so the file's size says nothing: without the map the file would
 * have to be fetched again.
 *
 * Two sets, because a killed process and a power cut lose different things: bytes whose write
 * returned are in the page cache and survive the process (`written`), but only bytes flushed with
 * fdatasync survive the machine (`synced`). The map records the kernel's boot id; a resume in the
 * same boot trusts `written`, one after a reboot only `synced`. So a SIGKILL costs only what was
 * in flight, without an fsync per chunk slowing every download to the disk's pace.
 */
export interface ChunkMap {
  readonly size: number;
  readonly etag: string;
  /** The ETag (or Last-Modified) the server sent with the bytes: another one means the file changed. */
  readonly validator?: string;
  readonly written: RangeSet;
  readonly synced: RangeSet;
}

interface ChunkMapFile {
  readonly version: 1;
  readonly size: number;
  readonly etag: string;
  readonly validator?: string;
  readonly boot: string;
  readonly written: ByteRange[];
  readonly synced: ByteRange[];
  /** sha256 of the rest: a torn or hand-edited map is refused, never trusted. */
  readonly sum: string;
}

export type LoadedChunkMap =
  | { readonly kind: "absent" }
  | { readonly kind: "invalid"; readonly reason: string }
  | { readonly kind: "valid"; readonly present: RangeSet; readonly validator?: string };

let bootId: string | undefined;
/** This boot of the kernel ("" where the OS does not say: then only synced bytes are trusted). */
export function currentBootId(): string {
  if (bootId === undefined) {
    try {
      bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
      bootId = "";
    }
  }
  return bootId;
}

const checksum = (body: Omit<ChunkMapFile, "sum">): string => createHash("sha256").update(JSON.stringify(body)).digest("hex");

/** Reads a map for a blob of `size` bytes named `etag`; what it says is present, per the boot it was written in. */
export async function loadChunkMap(path: string, expected: { size: number; etag: string }): Promise<LoadedChunkMap> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "absent" };
    throw err;
  }
  let file: ChunkMapFile;
  try {
    file = JSON.parse(text) as ChunkMapFile;
  } catch {
    return { kind: "invalid", reason: "not JSON (a torn write)" };
  }
  const { sum, ...body } = file;
  if (file.version !== 1 || sum !== checksum(body)) return { kind: "invalid", reason: "its checksum does not match" };
  if (file.size !== expected.size || file.etag !== expected.etag) return { kind: "invalid", reason: "it describes another file" };
  const sameBoot = file.boot !== "" && file.boot === currentBootId();
  const present = new RangeSet(sameBoot ? file.written : file.synced).clip(file.size);
  return { kind: "valid", present, ...(file.validator !== undefined ? { validator: file.validator } : {}) };
}

/**
 * Replaces the map atomically (a temp file renamed over it). `durable`: the temp file is fsynced
 * first, so after a power cut the map is this one or the previous one, never a torn mix. One
 * writer at a time: the caller holds the blob's lock and saves one after the other.
 */
export async function saveChunkMap(path: string, map: ChunkMap, durable: boolean): Promise<void> {
  const body: Omit<ChunkMapFile, "sum"> = {
    version: 1,
    size: map.size,
    etag: map.etag,
    ...(map.validator !== undefined ? { validator: map.validator } : {}),
    boot: currentBootId(),
    written: map.written.toJSON(),
    synced: map.synced.toJSON(),
  };
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, "w", 0o644);
  try {
    await fh.writeFile(JSON.stringify({ ...body, sum: checksum(body) }));
    if (durable) await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** The map, and the temp file a process killed mid-save left. */
export async function removeChunkMap(path: string): Promise<void> {
  await rm(path, { force: true });
  await rm(`${path}.tmp`, { force: true });
}
