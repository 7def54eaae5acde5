import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "@omnigate/testkit/wait";
import { createLogger } from "../../logger.js";
import { IncompleteBlob, presentBytes, type IncompletePaths } from "./incomplete-blob.js";
import { BufferPool } from "./range-writer.js";

let dir: string;
let paths: IncompletePaths;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "omnigate-incomplete-"));
  paths = { file: join(dir, "x.incomplete"), map: join(dir, "x.incomplete.chunks") };
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const blob = { size: 4 << 20, etag: "b".repeat(64) };
const log = createLogger("silent");
const mapOf = async () => JSON.parse(await readFile(paths.map, "utf8")) as { written: number[][]; synced: number[][]; validator?: string };

async function writeRange(b: IncompleteBlob, start: number, end: number): Promise<void> {
  const w = b.writer(start, end, new BufferPool(256 << 10), 4, { onBytes: () => {} });
  const wait = w.write(Buffer.alloc(end - start, 1));
  if (wait) await wait;
  await w.close();
}

describe("IncompleteBlob", () => {
  it("a file without a map is a prefix: what huggingface_hub or one stream left", async () => {
    await writeFile(paths.file, Buffer.alloc(1000, 1));
    const b = await IncompleteBlob.open(paths, blob, log);
    expect([b.mapped, b.prefix, b.bytes]).toEqual([false, 1000, 1000]);
    expect(b.missing()).toEqual([[1000, blob.size]]);
    await b.close();
    expect(await presentBytes(paths, blob)).toBe(1000);
  });

  it("creates the map before the first write at an offset; records written, then synced, ranges", async () => {
    const b = await IncompleteBlob.open(paths, blob, log);
    await b.useMap(60_000);
    expect(await mapOf()).toMatchObject({ written: [], synced: [] });
    await writeRange(b, 1 << 20, 2 << 20);
    await b.checkpoint();
    expect(await mapOf()).toMatchObject({ written: [[1 << 20, 2 << 20]], synced: [] });
    await b.sync();
    expect(await mapOf()).toMatchObject({ written: [[1 << 20, 2 << 20]], synced: [[1 << 20, 2 << 20]] });
    await writeRange(b, 0, 1 << 20);
    expect(b.prefix).toBe(2 << 20);
    await b.close();
    expect((await mapOf()).written).toEqual([[0, 2 << 20]]);

    // The next process (same boot) finds both ranges and only the rest missing.
    const again = await IncompleteBlob.open(paths, blob, log);
    expect([again.mapped, again.bytes]).toEqual([true, 2 << 20]);
    expect(again.missing()).toEqual([[2 << 20, blob.size]]);
    await again.close();
  });

  it("records what has landed every second, a range still being written too", async () => {
    const b = await IncompleteBlob.open(paths, blob, log);
    await b.useMap(60_000);
    const w = b.writer(0, blob.size, new BufferPool(256 << 10), 4, { onBytes: () => {} });
    const wait = w.write(Buffer.alloc(1 << 20, 1));
    if (wait) await wait;
    await w.flush();
    // No range ended and no checkpoint was asked for: the tick writes the map.
    await waitFor(async () => (await mapOf()).written.length > 0, { what: "the partial range in the map" });
    expect((await mapOf()).written).toEqual([[0, 1 << 20]]);
    await w.close();
    await b.close();
  });

  it("toSequential keeps the prefix only and drops the map; restart keeps nothing", async () => {
    const b = await IncompleteBlob.open(paths, blob, log);
    await b.useMap(60_000);
    await writeRange(b, 0, 1 << 20);
    await writeRange(b, 3 << 20, 4 << 20);
    await b.toSequential();
    expect([b.mapped, b.bytes, (await stat(paths.file)).size]).toEqual([false, 1 << 20, 1 << 20]);
    await expect(stat(paths.map)).rejects.toMatchObject({ code: "ENOENT" });
    await b.restart();
    expect([b.bytes, (await stat(paths.file)).size]).toEqual([0, 0]);
    await b.close();
  });

  it("a file longer than the blob without a map is not a prefix: it starts over", async () => {
    await writeFile(paths.file, Buffer.alloc(blob.size + 1, 1));
    const b = await IncompleteBlob.open(paths, blob, log);
    expect(b.bytes).toBe(0);
    expect((await stat(paths.file)).size).toBe(0);
    await b.close();
  });
});
