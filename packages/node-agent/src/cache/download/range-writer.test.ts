import { open, mkdtemp, readFile, rm, stat, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BufferPool, RangeWriter } from "./range-writer.js";

let dir: string;
let fh: FileHandle;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "omnigate-writer-"));
  fh = await open(join(dir, "blob.incomplete"), "w+");
});
afterEach(async () => {
  await fh.close().catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

function data(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 9)) & 0xff;
  return b;
}

/** Feeds chunks the way the downloader does: waiting whenever write() asks to. */
async function feed(w: RangeWriter, chunks: Buffer[]): Promise<void> {
  for (const c of chunks) {
    const wait = w.write(c);
    if (wait) await wait;
  }
}

/** Cuts `buf` into chunks of varied sizes, some owned, some slices of it. */
function chunksOf(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0, i = 0; off < buf.length; i++) {
    const n = [65536, 3, 3 * 1024 * 1024, 100_000, 1][i % 5]!;
    out.push(i % 2 ? Buffer.from(buf.subarray(off, off + n)) : buf.subarray(off, off + n));
    off += n;
  }
  return out;
}

describe("RangeWriter", () => {
  it("writes more than its buffers hold at its offsets, reporting each landed write", async () => {
    const total = data(12 * 1024 * 1024 + 12345, 1);
    const pool = new BufferPool(1 << 20);
    const written: Array<[number, number]> = [];
    let accepted = 0;
    const hooks = { onBytes: (d: number) => (accepted += d), onWritten: (o: number, n: number) => void written.push([o, n]) };
    // Two lanes, second half first: each lands at its own offset.
    const half = 6 * 1024 * 1024;
    const b = new RangeWriter(fh, half, total.length, pool, 2, hooks);
    const a = new RangeWriter(fh, 0, half, pool, 2, hooks);
    await Promise.all([feed(b, chunksOf(total.subarray(half))), feed(a, chunksOf(total.subarray(0, half)))]);
    await Promise.all([a.close(), b.close()]);
    expect((await readFile(join(dir, "blob.incomplete"))).equals(total)).toBe(true);
    expect(accepted).toBe(total.length);
    expect(written.reduce((n, [, len]) => n + len, 0)).toBe(total.length);
    expect(a.bytes).toBe(half);
    expect(b.bytes).toBe(total.length);
  });

  it("never writes past its range: the rest belongs to another lane", async () => {
    const w = new RangeWriter(fh, 0, 1000, new BufferPool(4096), 2, { onBytes: () => {}, onWritten: () => {} });
    await feed(w, [data(1500, 2)]);
    expect(w.bytes).toBe(1000);
    expect(() => w.write(Buffer.from("x"))).toThrow("the server sent more than the 1000 bytes asked for at offset 0");
    await w.close();
    expect((await stat(join(dir, "blob.incomplete"))).size).toBe(1000);
  });

  it("writes a partial buffer out soon when the link goes quiet (a kill loses little)", async () => {
    const w = new RangeWriter(fh, 0, 1_000_000, new BufferPool(1 << 20), 2, { onBytes: () => {}, onWritten: () => {} });
    await feed(w, [data(70_000, 4)]);
    const path = join(dir, "blob.incomplete");
    for (let i = 0; i < 200 && (await stat(path)).size < 70_000; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await stat(path)).size).toBe(70_000);
    await w.close();
  });

  it("restart() hands the start-over to its owner and continues from byte 0", async () => {
    const total = data(500_000, 3);
    let restarted = 0;
    const w = new RangeWriter(fh, 1000, total.length, new BufferPool(65536), 2, {
      onBytes: () => {},
      onWritten: () => {},
      onRestart: async () => {
        restarted++;
        await fh.truncate(0);
      },
    });
    await feed(w, [Buffer.alloc(1000, 9)]);
    await w.restart();
    expect(restarted).toBe(1);
    expect(w.bytes).toBe(0);
    await feed(w, [total]);
    await w.close();
    expect((await readFile(join(dir, "blob.incomplete"))).equals(total)).toBe(true);
  });

  it("a lane cannot restart: a whole file in answer to a range is an error", async () => {
    const w = new RangeWriter(fh, 1000, 2000, new BufferPool(65536), 2, { onBytes: () => {}, onWritten: () => {} });
    await expect(w.restart()).rejects.toThrow("the server answered a range request with the whole file");
    await w.close();
  });

  it("fails with the file system's error, and every later write says so", async () => {
    const readOnly = await open(join(dir, "blob.incomplete"), "r");
    const w = new RangeWriter(readOnly, 0, 10, new BufferPool(65536), 2, { onBytes: () => {}, onWritten: () => {} });
    await feed(w, [Buffer.from("x")]);
    await expect(w.flush()).rejects.toMatchObject({ code: "EBADF" });
    expect(() => w.write(Buffer.from("y"))).toThrow(expect.objectContaining({ code: "EBADF" }));
    await w.close();
    await readOnly.close();
  });
});
