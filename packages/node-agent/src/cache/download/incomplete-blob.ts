import { constants } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import type { Logger } from "../../logger.js";
import { RemoteVersion } from "../../hub/hub-download.js";
import { loadChunkMap, removeChunkMap, saveChunkMap } from "./chunk-map.js";
import { RangeSet } from "./range-set.js";
import { RangeWriter, type BufferPool, type RangeWriterHooks } from "./range-writer.js";

/** How often a parallel download records what has landed, between the writes at each range's end. */
const CHECKPOINT_EVERY_MS = 1_000;

export interface IncompletePaths {
  /** `blobs/<etag>.incomplete` */
  readonly file: string;
  /** Its chunk map, `blobs/<etag>.incomplete.chunks` */
  readonly map: string;
}

export interface BlobIdentity {
  readonly size: number;
  readonly etag: string;
}

/**
 * What an `.incomplete` file holds, and whether it is usable. With a chunk map, the map says
 * (written at offsets, the size means nothing); without one the file is a prefix of the blob, as
 * huggingface_hub and a single-stream download leave it.
 */
async function present(paths: IncompletePaths, blob: BlobIdentity, log?: Logger): Promise<{ ranges: RangeSet; mapped: boolean; validator?: string; discard: boolean }> {
  const fileSize = (await stat(paths.file).catch(() => undefined))?.size ?? 0;
  const map = await loadChunkMap(paths.map, blob);
  if (map.kind === "valid") return { ranges: map.present.clip(fileSize), mapped: true, discard: false, ...(map.validator ? { validator: map.validator } : {}) };
  if (map.kind === "invalid") {
    log?.warn({ map: paths.map, reason: map.reason }, "chunk map unusable: the download starts over");
    return { ranges: new RangeSet(), mapped: false, discard: true };
  }
  // A file longer than the blob cannot be a prefix of it.
  if (fileSize > blob.size) return { ranges: new RangeSet(), mapped: false, discard: true };
  return { ranges: new RangeSet(fileSize > 0 ? [[0, fileSize]] : []), mapped: false, discard: false };
}

/** Bytes of a blob already downloaded (disk-space estimate, another process's progress). */
export async function presentBytes(paths: IncompletePaths, blob: BlobIdentity): Promise<number> {
  return (await present(paths, blob)).ranges.bytes;
}

/**
 * The `.incomplete` file of one blob being downloaded: lanes write into it at offsets
 * (RangeWriter), `written` tracks what is on disk, and the chunk map beside it records that so a
 * killed download resumes without fetching those bytes again. Caller holds the blob's lock.
 */
export class IncompleteBlob {
  /** Called when the gap-free prefix on disk grows (the hash follows it). */
  onPrefix: (to: number) => void = () => {};
  private synced = new RangeSet();
  private saving: Promise<void> | undefined;
  private saveAgain = false;
  private saveDurable = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  /** Bytes landed since the map was last written. */
  private dirty = false;
  private lastPrefix: number;

  private constructor(
    private readonly fh: FileHandle,
    readonly paths: IncompletePaths,
    readonly blob: BlobIdentity,
    private written: RangeSet,
    private hasMap: boolean,
    private remote: RemoteVersion,
  ) {
    this.lastPrefix = written.prefix;
  }

  static async open(paths: IncompletePaths, blob: BlobIdentity, log: Logger): Promise<IncompleteBlob> {
    const state = await present(paths, blob, log);
    const fh = await open(paths.file, constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      if (state.discard) {
        await fh.truncate(0);
        await removeChunkMap(paths.map);
      }
      return new IncompleteBlob(fh, paths, blob, state.ranges, state.mapped, new RemoteVersion(state.validator));
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
  }

  /** Whether a chunk map accompanies the file (else it is a prefix). */
  get mapped(): boolean {
    return this.hasMap;
  }

  /** The server's version of the bytes on disk (their ETag), checked on every answer. */
  get version(): RemoteVersion {
    return this.remote;
  }

  get prefix(): number {
    return this.written.prefix;
  }

  /** Bytes on disk. */
  get bytes(): number {
    return this.written.bytes;
  }

  /** What is still to fetch, in file order. */
  missing(): ReturnType<RangeSet["missing"]> {
    return this.written.missing(this.blob.size);
  }

  get complete(): boolean {
    return this.prefix >= this.blob.size;
  }

  /**
   * From now on bytes land at offsets: create the map first (durable, what is there fsynced), so
   * a file with holes is never left without one. Then, while bytes land, record them every
   * second (the lanes' partial ranges too: a kill then costs about a second, whatever the chunk
   * size) and make them durable every `syncEveryMs`.
   */
  async useMap(syncEveryMs: number): Promise<void> {
    if (!this.hasMap) {
      this.hasMap = true;
      await this.sync();
    }
    let lastSync = performance.now();
    const tick = (): void => {
      this.timer = setTimeout(() => {
        const durable = performance.now() - lastSync >= syncEveryMs;
        if (durable) lastSync = performance.now();
        const step = durable ? this.sync() : this.dirty ? this.checkpoint() : Promise.resolve();
        void step.catch(() => {}).finally(() => this.timer && tick());
      }, CHECKPOINT_EVERY_MS);
      this.timer.unref();
    };
    if (!this.timer) tick();
  }

  /** A writer for `[start, end)`; its writes extend `written`, and the prefix listener with them. */
  writer(start: number, end: number, pool: BufferPool, maxBuffers: number, hooks: Omit<RangeWriterHooks, "onWritten">): RangeWriter {
    return new RangeWriter(this.fh, start, end, pool, maxBuffers, {
      ...hooks,
      onWritten: (offset, length) => {
        this.written.add(offset, offset + length);
        this.dirty = true;
        const prefix = this.written.prefix;
        if (prefix > this.lastPrefix) {
          this.lastPrefix = prefix;
          this.onPrefix(prefix);
        }
      },
    });
  }

  /** Records what is on disk in the map (not fsynced: enough for a killed process). Coalesced. */
  checkpoint(): Promise<void> {
    return this.save(false);
  }

  /** fdatasync, then the map says those bytes survive a power cut too. */
  async sync(): Promise<void> {
    if (!this.mapped) return;
    const snapshot = new RangeSet(this.written.toJSON());
    await this.fh.datasync();
    this.synced = snapshot;
    await this.save(true);
  }

  /** One map write at a time; asks made meanwhile are folded into one more write after it. */
  private save(durable: boolean): Promise<void> {
    if (!this.mapped) return Promise.resolve();
    this.saveAgain = true;
    this.saveDurable ||= durable;
    this.saving ??= (async () => {
      try {
        while (this.saveAgain) {
          this.saveAgain = false;
          this.dirty = false;
          const fsync = this.saveDurable;
          this.saveDurable = false;
          const { size, etag } = this.blob;
          const validator = this.remote.current;
          await saveChunkMap(this.paths.map, { size, etag, written: this.written, synced: this.synced, ...(validator ? { validator } : {}) }, fsync);
        }
      } finally {
        this.saving = undefined;
      }
    })();
    return this.saving;
  }

  /** The server's file changed: nothing on disk is worth keeping. */
  async restart(): Promise<void> {
    await this.saving?.catch(() => {});
    await this.fh.truncate(0);
    this.written = new RangeSet();
    this.synced = new RangeSet();
    this.lastPrefix = 0;
    this.remote = new RemoteVersion();
    if (this.mapped) await this.save(true);
  }

  /**
   * The server ignores ranges: from here on one stream, which can only resume from the prefix.
   * The rest is dropped and the map removed (the file is a prefix again).
   */
  async toSequential(): Promise<void> {
    this.stopTimer();
    await this.saving?.catch(() => {});
    const prefix = this.prefix;
    await this.fh.truncate(prefix);
    await this.fh.datasync();
    this.written = new RangeSet(prefix > 0 ? [[0, prefix]] : []);
    this.hasMap = false;
    await removeChunkMap(this.paths.map);
  }

  /**
   * Every byte is here: the map goes (before the caller's rename; a full-size file without a map
   * is a complete prefix, hashed again if the rename never happens).
   */
  async completed(): Promise<void> {
    this.stopTimer();
    await this.saving?.catch(() => {});
    this.hasMap = false;
    await removeChunkMap(this.paths.map);
  }

  /**
   * Records what is on disk and closes the file; safe twice. Not fsynced: an aborted pull (the
   * agent stopping) resumes in the same boot, and waiting here for the disk would delay the stop.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopTimer();
    try {
      await this.save(false);
    } finally {
      await this.fh.close().catch(() => {});
    }
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
