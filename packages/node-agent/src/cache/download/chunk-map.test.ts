import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { currentBootId, loadChunkMap, saveChunkMap } from "./chunk-map.js";
import { RangeSet } from "./range-set.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "omnigate-map-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const etag = "a".repeat(64);
const map = () => ({ size: 1000, etag, validator: '"v1"', written: new RangeSet([[0, 300], [500, 700]]), synced: new RangeSet([[0, 100]]) });

describe("chunk map", () => {
  it("round-trips: in the same boot what was written is present, with the validator", async () => {
    const path = join(dir, "x.chunks");
    await saveChunkMap(path, map(), true);
    const loaded = await loadChunkMap(path, { size: 1000, etag });
    expect(loaded.kind).toBe("valid");
    if (loaded.kind !== "valid") return;
    expect(loaded.present.toJSON()).toEqual(currentBootId() ? [[0, 300], [500, 700]] : [[0, 100]]);
    expect(loaded.validator).toBe('"v1"');
  });

  it("after a reboot only the fsynced ranges count", async () => {
    const path = join(dir, "x.chunks");
    await saveChunkMap(path, map(), false);
    const { sum, ...file } = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
    expect(sum).toMatch(/^[0-9a-f]{64}$/);
    // Another boot id with a valid checksum: what a map written before a power cut looks like.
    const body = { ...file, boot: "another-boot" };
    await writeFile(path, JSON.stringify({ ...body, sum: createHash("sha256").update(JSON.stringify(body)).digest("hex") }));
    const loaded = await loadChunkMap(path, { size: 1000, etag });
    expect(loaded.kind === "valid" && loaded.present.toJSON()).toEqual([[0, 100]]);
  });

  it("refuses a torn, edited or foreign map; absent is absent", async () => {
    const path = join(dir, "x.chunks");
    expect(await loadChunkMap(path, { size: 1000, etag })).toEqual({ kind: "absent" });
    await saveChunkMap(path, map(), false);
    const text = await readFile(path, "utf8");
    expect(await loadChunkMap(path, { size: 999, etag })).toEqual({ kind: "invalid", reason: "it describes another file" });
    await writeFile(path, text.replace('"written":[[0,300]', '"written":[[0,900]'));
    expect(await loadChunkMap(path, { size: 1000, etag })).toEqual({ kind: "invalid", reason: "its checksum does not match" });
    await writeFile(path, text.slice(0, 40));
    expect(await loadChunkMap(path, { size: 1000, etag })).toEqual({ kind: "invalid", reason: "not JSON (a torn write)" });
  });
});
