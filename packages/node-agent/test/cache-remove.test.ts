import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { buildTinyLlamaGguf } from "@omnigate/testkit/gguf-writer";
import { waitFor } from "@omnigate/testkit/wait";
import { CacheScope, bytes, tree } from "./cache-test-utils.js";

const scope = new CacheScope();
afterEach(() => scope.cleanup());

const a = buildTinyLlamaGguf({ seed: 1 });
const b = buildTinyLlamaGguf({ seed: 2 });
const files = { "a.gguf": a, "b.gguf": b, "shared.json": '{"shared":true}' };
const modelA = { repo: "org/m", revision: "main", files: ["a.gguf", "shared.json"] };
const modelB = { repo: "org/m", revision: "main", files: ["b.gguf", "shared.json"] };

const blobFiles = (t: string[]) => t.filter((l) => l.startsWith("f ") && l.includes("/blobs/")).length;

describe("remove", () => {
  it("keeps blobs another wanted model still uses, and clears everything with the last one", async () => {
    const hub = await scope.hub({ repos: { "org/m": { revisions: { main: { files } } } } });
    const dir = await scope.tempDir();
    const cache = scope.cache(hub, dir);
    await cache.pull(modelA);
    const pulledB = await cache.pull(modelB);
    expect(blobFiles(await tree(dir))).toBe(3);

    await cache.remove(modelA, [modelB]);
    const t = await tree(dir);
    expect(blobFiles(t)).toBe(2);
    expect(t.some((l) => l.includes(hub.file("org/m", "main", "a.gguf")!.etag))).toBe(false);
    expect(await cache.cached(modelB)).toEqual(pulledB);
    expect(await readFile(join(pulledB.snapshotDir, "shared.json"), "utf8")).toBe('{"shared":true}');

    await cache.remove(modelB, []);
    expect(await tree(dir)).toEqual([]);
  });

  it("keeps a blob shared by two revisions while the other revision is wanted", async () => {
    const hub = await scope.hub({
      repos: { "org/m": { revisions: { main: { files: { "m.gguf": a, "v.txt": "main" } }, "v1": { files: { "m.gguf": a, "v.txt": "v1" } } } } },
    });
    const dir = await scope.tempDir();
    const cache = scope.cache(hub, dir);
    const main = { repo: "org/m", revision: "main", files: [] };
    const v1 = { repo: "org/m", revision: "v1", files: [] };
    await cache.pull(main);
    const pulledV1 = await cache.pull(v1);
    expect(blobFiles(await tree(dir))).toBe(3); // m.gguf once, two v.txt

    await cache.remove(main, [v1]);
    const t = await tree(dir);
    expect(t).not.toContain("f models--org--m/refs/main");
    expect(t.filter((l) => l.includes(`snapshots/${hub.commit("org/m", "main")}`))).toEqual([]);
    expect(blobFiles(t)).toBe(2);
    expect(await cache.cached(v1)).toEqual(pulledV1);

    await cache.remove(v1, []);
    expect(await tree(dir)).toEqual([]);
  });

  it("also clears snapshots left behind when the branch moved on", async () => {
    const hub = await scope.hub({ repos: { "org/m": { revisions: { main: { files: { "x.txt": "one" } } } } } });
    const dir = await scope.tempDir();
    const cache = scope.cache(hub, dir);
    const model = { repo: "org/m", revision: "main", files: [] };
    await cache.pull(model);
    await hub.setRepo("org/m", { revisions: { main: { files: { "x.txt": "two" } } } });
    const second = await cache.pull(model);
    expect(await readFile(join(second.snapshotDir, "x.txt"), "utf8")).toBe("two");
    await cache.remove(model, []);
    expect(await tree(dir)).toEqual([]);
  });

  it("is a no-op for a model that was never pulled", async () => {
    const dir = await scope.tempDir();
    await scope.cache({ url: "http://127.0.0.1:9" }, dir).remove({ repo: "org/none", revision: "main", files: [] }, []);
    expect(await tree(dir)).toEqual([]);
  });
});

describe("a model deleted while downloading", () => {
  const big = bytes(3_000_000, 5);
  const repos = { "org/big": { revisions: { main: { files: { "big.bin": big, "small.txt": "s" } } } } };
  const model = { repo: "org/big", revision: "main", files: [] };

  it("stops the download (resumable .incomplete only) and remove() leaves no debris", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "bytes", path: "big.bin", bytesPerSec: 500_000 });
    const dir = await scope.tempDir();
    const cache = scope.cache(hub, dir);
    const controller = new AbortController();
    let seen = 0;
    const pull = cache.pull(model, { signal: controller.signal, onProgress: (p) => (seen = p.bytes) });
    await waitFor(() => seen > 100_000, { what: "download progress", timeoutMs: 15_000 });
    controller.abort();
    const err = (await pull.catch((e: unknown) => e)) as Error;
    expect(err.name).toBe("AbortError");
    const afterAbort = await tree(dir);
    expect(afterAbort.some((l) => l.endsWith(".incomplete"))).toBe(true);
    expect(afterAbort.some((l) => l.endsWith(".omnigate.lock"))).toBe(false);
    expect(afterAbort.some((l) => l.startsWith("f ") && /blobs\/[0-9a-f]{64}$/.test(l))).toBe(false);

    await cache.remove(model, []);
    expect(await tree(dir)).toEqual([]);
  });

  it("remove() right after abort waits for the pull to wind down (the reconciler's order)", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "bytes", path: "big.bin", bytesPerSec: 500_000 });
    const dir = await scope.tempDir();
    const cache = scope.cache(hub, dir);
    const controller = new AbortController();
    let seen = 0;
    const pull = cache.pull(model, { signal: controller.signal, onProgress: (p) => (seen = p.bytes) });
    const settled = pull.catch((e: unknown) => e);
    await waitFor(() => seen > 100_000, { what: "download progress", timeoutMs: 15_000 });
    controller.abort();
    await cache.remove(model, []);
    expect(((await settled) as Error).name).toBe("AbortError");
    expect(await tree(dir)).toEqual([]);
  });

  it("never collects a blob that another download holds the lock of", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "bytes", path: "big.bin", bytesPerSec: 1_500_000 });
    const dir = await scope.tempDir();
    const small = { repo: "org/big", revision: "main", files: ["small.txt"] };
    const other = { repo: "org/big", revision: "main", files: ["big.bin"] };
    await scope.cache(hub, dir).pull(small);
    // Another agent process (its own cache instance) is downloading big.bin into the same folder.
    let seen = 0;
    const downloading = scope.cache(hub, dir).pull(other, { onProgress: (p) => (seen = p.bytes) });
    await waitFor(() => seen > 100_000, { what: "download progress", timeoutMs: 15_000 });
    await scope.cache(hub, dir).remove(small, []); // stillWanted does not know about it: only the lock protects it
    const done = await downloading;
    expect((await readFile(join(done.snapshotDir, "big.bin"))).equals(big)).toBe(true);
  });
});
