import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BlobSink, hashFile } from "./blob-sink.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "omnigate-sink-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
function data(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 9)) & 0xff;
  return b;
}

/** Feeds chunks the way the downloader does: waiting whenever write() asks to. */
async function feed(sink: BlobSink, chunks: Buffer[]): Promise<void> {
  for (const c of chunks) {
    const wait = sink.write(c);
    if (wait) await wait;
  }
}

describe("BlobSink", () => {
  it("writes and hashes more than its in-flight limit, whatever the chunk sizes and buffers", async () => {
    const total = data(40 * 1024 * 1024 + 12345, 1);
    const chunks: Buffer[] = [];
    for (let off = 0, i = 0; off < total.length; i++) {
      const n = [65536, 3, 3 * 1024 * 1024, 100_000, 1][i % 5]!;
      // Mix owned buffers with slices of a shared one: both are kept by reference until written.
      chunks.push(i % 2 ? Buffer.from(total.subarray(off, off + n)) : total.subarray(off, off + n));
      off += n;
    }
    const path = join(dir, "blob.incomplete");
    const sink = await BlobSink.open(path, "sha256", total.length, () => {});
    await feed(sink, chunks);
    const result = await sink.finish();
    await sink.close();
    expect(result).toEqual({ bytes: total.length, digest: sha256(total) });
    expect((await readFile(path)).equals(total)).toBe(true);
    expect(await hashFile(path, "sha256", total.length)).toBe(sha256(total));
  });

  it("resumes: the bytes already on disk are hashed once, writing continues after them", async () => {
    const total = data(3_000_000, 2);
    const path = join(dir, "r.incomplete");
    await writeFile(path, total.subarray(0, 1_234_567));
    let reported = 0;
    const sink = await BlobSink.open(path, "sha256", total.length, (d) => (reported += d));
    expect(sink.bytes).toBe(1_234_567);
    await feed(sink, [total.subarray(1_234_567)]);
    expect((await sink.finish()).digest).toBe(sha256(total));
    await sink.close();
    expect(reported).toBe(total.length);
  });

  it("starts over on restart() and on a file longer than the blob", async () => {
    const total = data(500_000, 3);
    const path = join(dir, "s.incomplete");
    await writeFile(path, Buffer.alloc(600_000, 1)); // cannot be a prefix
    const sink = await BlobSink.open(path, "sha256", total.length, () => {});
    expect(sink.bytes).toBe(0);
    await feed(sink, [Buffer.alloc(1000, 9)]);
    await sink.restart();
    expect(sink.bytes).toBe(0);
    await feed(sink, [total]);
    expect(await sink.finish()).toEqual({ bytes: total.length, digest: sha256(total) });
    await sink.close();
    expect((await readFile(path)).equals(total)).toBe(true);
  });

  it("computes git blob sha1 for non-LFS files", async () => {
    const text = Buffer.from("hello\n");
    const sink = await BlobSink.open(join(dir, "g"), "git-sha1", text.length, () => {});
    await feed(sink, [text]);
    expect((await sink.finish()).digest).toBe("ce013625030ba8dba906f756967f9e9ca394464a"); // git hash-object
    await sink.close();
  });

  it("writes a partial batch out soon when the link goes quiet (a kill loses little)", async () => {
    const path = join(dir, "q.incomplete");
    const sink = await BlobSink.open(path, "sha256", 1_000_000, () => {});
    await feed(sink, [data(70_000, 4)]);
    for (let i = 0; i < 200 && (await stat(path)).size < 70_000; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await stat(path)).size).toBe(70_000);
    await sink.close();
  });

  it("fails open() with the file system's error; the next sink works", async () => {
    await expect(BlobSink.open(join(dir, "missing", "x"), "sha256", 10, () => {})).rejects.toMatchObject({ code: "ENOENT" });
    const sink = await BlobSink.open(join(dir, "ok"), "sha256", 1, () => {});
    await feed(sink, [Buffer.from("x")]);
    expect((await sink.finish()).bytes).toBe(1);
    await sink.close();
  });

  it("is aborted while priming a large partial file", async () => {
    const path = join(dir, "big.incomplete");
    await writeFile(path, Buffer.alloc(64 * 1024 * 1024, 1));
    const controller = new AbortController();
    const opening = BlobSink.open(path, "sha256", 128 * 1024 * 1024, () => {}, controller.signal);
    controller.abort();
    await expect(opening).rejects.toMatchObject({ name: "AbortError" });
  });
});
