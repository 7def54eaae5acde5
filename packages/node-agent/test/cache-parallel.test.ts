import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DownloadProgress } from "@omnigate/shared/models";
import { buildTinyLlamaGguf } from "@omnigate/testkit/gguf-writer";
import { ChecksumMismatchError, InvalidGgufError } from "../src/cache/cache-errors.js";
import { SignedUrlRefusedError } from "../src/hub/hub-errors.js";
import type { HfModelCacheOptions } from "../src/cache/model-cache.js";
import type { TestHub, TestHubOptions } from "@omnigate/testkit/hub";
import { waitFor } from "@omnigate/testkit/wait";
import { CacheScope, bytes, tree } from "./cache-test-utils.js";

/**
 * Big files as parallel ranges, scaled down: a 4 MiB file counts as big, chunks are 256 KiB, four
 * connections. Every assertion on what was fetched is counted at the test hub.
 */
const scope = new CacheScope();
afterEach(() => scope.cleanup());

const KiB = 1024;
const CHUNK = 256 * KiB;
const big = bytes(4 * 1024 * KiB + 12_345, 21);
const small = bytes(300 * KiB, 22);
const repos = { "org/big": { revisions: { main: { files: { "big.bin": big, "small.bin": small, "other.bin": bytes(3 * 1024 * KiB, 23) } } } } };
const parallel: Partial<HfModelCacheOptions> = { connections: 4, maxConnections: 16, parallelMinBytes: 1024 * KiB, chunkBytes: CHUNK };
const ref = (files: string[]) => ({ repo: "org/big", revision: "main", files });

/** GETs of a file's bytes on the CDN, in the order they started. */
const gets = (hub: TestHub, path = "big.bin") => hub.log.filter((e) => e.server === "cdn" && e.method === "GET" && e.path === path);
const rangeOf = (header: string | null): [number, number] => {
  const m = /^bytes=(\d+)-(\d+)$/.exec(header ?? "");
  if (!m) throw new Error(`not a bounded range: ${header}`);
  return [Number(m[1]), Number(m[2]) + 1];
};

async function setup(hubOptions: Partial<TestHubOptions> = {}, cacheOptions: Partial<HfModelCacheOptions> = {}) {
  const hub = await scope.hub({ repos, ...hubOptions });
  const dir = await scope.tempDir();
  const cache = scope.cache(hub, dir, { ...parallel, ...cacheOptions });
  const etag = hub.file("org/big", "main", "big.bin")!.etag;
  const blobs = join(dir, "models--org--big", "blobs");
  return { hub, dir, cache, etag, incomplete: join(blobs, `${etag}.incomplete`), map: join(blobs, `${etag}.incomplete.chunks`) };
}

describe("parallel ranges", () => {
  it("fetches a big file as ranges over several connections, byte-identical, each byte once", async () => {
    const { hub, dir, cache } = await setup({ connectionBytesPerSec: 2_000_000 });
    const model = await cache.pull(ref(["big.bin", "small.bin"]));
    expect((await readFile(join(model.snapshotDir, "big.bin"))).equals(big)).toBe(true);
    expect((await readFile(join(model.snapshotDir, "small.bin"))).equals(small)).toBe(true);

    const g = gets(hub);
    expect(g.every((e) => e.status === 206)).toBe(true);
    const ranges = g.map((e) => rangeOf(e.range));
    expect(ranges.every(([s, e]) => e - s <= CHUNK)).toBe(true);
    // Together the ranges are the file, no byte twice.
    const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
    for (let i = 0; i < sorted.length; i++) expect(sorted[i]![0]).toBe(i === 0 ? 0 : sorted[i - 1]![1]);
    expect(sorted.at(-1)![1]).toBe(big.length);
    const served = hub.served({ path: "big.bin" });
    expect(served.bytes).toBe(big.length);
    expect(served.peakConcurrent).toBe(4);
    expect(new Set(g.map((e) => e.conn)).size).toBeGreaterThanOrEqual(4);
    // Below the threshold: one stream, no Range.
    expect(gets(hub, "small.bin").map((e) => [e.range, e.status])).toEqual([[null, 200]]);
    expect((await tree(dir)).filter((l) => /\.incomplete|\.chunks|\.tmp/.test(l))).toEqual([]);
  });

  it("from a mirror that serves LFS bytes on its own host: ranges there, with the token", async () => {
    const token = "hf_mirror_token";
    const hub = await scope.hub({ repos, token, lfsFrom: "hub", connectionBytesPerSec: 2_000_000 });
    const cache = scope.cache(hub, await scope.tempDir(), { ...parallel, token });
    const model = await cache.pull(ref(["big.bin"]));
    expect((await readFile(join(model.snapshotDir, "big.bin"))).equals(big)).toBe(true);
    const g = hub.log.filter((e) => e.stage === "bytes" && e.path === "big.bin");
    expect(g.every((e) => e.server === "hub" && e.auth && e.status === 206)).toBe(true);
    expect(hub.served({ path: "big.bin" })).toMatchObject({ bytes: big.length, peakConcurrent: 4 });
  });

  it("asks with one range first and opens the other connections once the server answered 206", async () => {
    const { hub, cache } = await setup();
    await cache.pull(ref(["big.bin"]));
    const [first, ...rest] = gets(hub);
    expect(first!.range).toBe(`bytes=0-${CHUNK - 1}`);
    expect(rest.every((e) => e.startedAt >= first!.startedAt)).toBe(true);
    expect(rest.length).toBeGreaterThan(3);
  });

  it("progress during a chunked pull is monotonic, summed over the lanes, and ends at 100 %", async () => {
    const { cache } = await setup({ connectionBytesPerSec: 1_000_000 });
    const seen: DownloadProgress[] = [];
    await cache.pull(ref(["big.bin"]), { onProgress: (p) => seen.push(p) });
    expect(seen.length).toBeGreaterThan(2);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.bytes).toBeGreaterThanOrEqual(seen[i - 1]!.bytes);
    expect(seen.every((p) => p.total === big.length)).toBe(true);
    expect(seen.at(-1)).toMatchObject({ bytes: big.length, percent: 100 });
    expect(seen.some((p) => p.percent > 0 && p.percent < 100 && p.rate > 0)).toBe(true);
  });

  it("a chunk that fails mid-way is retried alone, from where it broke", async () => {
    const { hub, cache } = await setup();
    const at = 5 * CHUNK + 1000; // inside the sixth chunk
    hub.addRule({ stage: "bytes", path: "big.bin", covers: at, dropAfter: 100_000, times: 1 });
    const model = await cache.pull(ref(["big.bin"]));
    expect((await readFile(join(model.snapshotDir, "big.bin"))).equals(big)).toBe(true);
    const again = gets(hub).filter((e) => rangeOf(e.range)[0] === 5 * CHUNK + 100_000);
    expect(again.map((e) => e.range)).toEqual([`bytes=${5 * CHUNK + 100_000}-${6 * CHUNK - 1}`]);
    expect(hub.served({ path: "big.bin" }).bytes).toBe(big.length);
  });

  it("corrupt bytes in one chunk: the whole-file hash fails and the file is fetched again", async () => {
    const { hub, cache } = await setup();
    hub.addRule({ stage: "bytes", path: "big.bin", covers: 7 * CHUNK + 5, corrupt: 7 * CHUNK + 5, times: 1 });
    const model = await cache.pull(ref(["big.bin"]));
    expect((await readFile(join(model.snapshotDir, "big.bin"))).equals(big)).toBe(true);
    expect(hub.served({ path: "big.bin" }).bytes).toBe(2 * big.length);
  });

  it("corrupt bytes every time: fails with both hashes and leaves no partial file", async () => {
    const { hub, dir, cache, etag } = await setup();
    hub.addRule({ stage: "bytes", path: "big.bin", covers: 3 * CHUNK, corrupt: 3 * CHUNK });
    const err = (await cache.pull(ref(["big.bin"])).catch((e: unknown) => e)) as ChecksumMismatchError;
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(err.message).toMatch(new RegExp(`^sha256 of 'big\\.bin' is [0-9a-f]{64} but the hub says ${etag} \\(downloaded twice; the first attempt gave [0-9a-f]{64}\\)$`));
    expect((await tree(dir)).filter((l) => l.includes("/blobs/"))).toEqual([]);
  });

  it("a server that ignores Range: one stream after the first answer, not a whole file per connection", async () => {
    const { hub, cache } = await setup();
    hub.addRule({ stage: "bytes", path: "big.bin", ignoreRange: true });
    const model = await cache.pull(ref(["big.bin"]));
    expect((await readFile(join(model.snapshotDir, "big.bin"))).equals(big)).toBe(true);
    // The probe's 200 is cut off at once; then the whole file on one connection.
    expect(gets(hub).map((e) => [e.range, e.status])).toEqual([[`bytes=0-${CHUNK - 1}`, 200], [null, 200]]);
  });

  it("a server that stops honouring Range on a resume: the chunks past the prefix go, one stream from there", async () => {
    const { hub, cache, map } = await setup({ connectionBytesPerSec: 1_000_000 });
    const controller = new AbortController();
    const first = cache.pull(ref(["big.bin"]), { signal: controller.signal });
    await waitFor(() => hub.served({ path: "big.bin" }).bytes > big.length / 3, { what: "a third of the file served" });
    controller.abort();
    await expect(first).rejects.toMatchObject({ name: "AbortError" });
    const { written } = JSON.parse(await readFile(map, "utf8")) as { written: Array<[number, number]> };
    const prefix = written[0]![0] === 0 ? written[0]![1] : 0;
    expect(prefix).toBeGreaterThan(0);

    hub.clearLog();
    hub.setLimits({ connectionBytesPerSec: 0 });
    hub.addRule({ stage: "bytes", path: "big.bin", ignoreRange: true });
    const model = await cache.pull(ref(["big.bin"]));
    expect((await readFile(join(model.snapshotDir, "big.bin"))).equals(big)).toBe(true);
    const g = gets(hub).map((e) => [e.range, e.status]);
    // Probe refused with the whole file; the stream resumes at the prefix, gets 200, takes it all.
    expect(g).toEqual([[expect.stringMatching(/^bytes=\d+-\d+$/), 200], [`bytes=${prefix}-`, 200]]);
    await expect(stat(map)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("an ETag that changes mid-download restarts the file", async () => {
    const { hub, cache } = await setup({ connectionBytesPerSec: 2_000_000 });
    hub.addRule({ stage: "bytes", path: "big.bin", covers: 9 * CHUNK, etag: '"replaced"', times: 1 });
    const model = await cache.pull(ref(["big.bin"]));
    expect((await readFile(join(model.snapshotDir, "big.bin"))).equals(big)).toBe(true);
    const g = gets(hub);
    const changed = g.findIndex((e) => rangeOf(e.range)[0] === 9 * CHUNK);
    // After the changed answer, the download starts again from byte 0 and covers the whole file.
    const after = g.slice(changed + 1).filter((e) => e.startedAt > g[changed]!.startedAt);
    expect(after.some((e) => e.range === `bytes=0-${CHUNK - 1}`)).toBe(true);
    expect(hub.served({ path: "big.bin" }).bytes).toBeGreaterThan(big.length);
  });

  it("asks the hub for a fresh URL when the CDN's signed one expires mid-download", async () => {
    const { hub, cache } = await setup({ connectionBytesPerSec: 1_000_000, urlTtlMs: 600 });
    const model = await cache.pull(ref(["big.bin"]));
    expect((await readFile(join(model.snapshotDir, "big.bin"))).equals(big)).toBe(true);
    expect(gets(hub).some((e) => e.status === 403)).toBe(true);
    expect(hub.log.filter((e) => e.stage === "head" && e.path === "big.bin").length).toBeGreaterThan(1);
    // Refused requests send no bytes: nothing was fetched twice.
    expect(hub.served({ path: "big.bin" }).bytes).toBe(big.length);
  });

  it("a CDN that refuses even a fresh URL fails with what to check", async () => {
    const { hub, cache } = await setup();
    hub.addRule({ stage: "bytes", path: "big.bin", status: 403 });
    const err = (await cache.pull(ref(["big.bin"])).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(SignedUrlRefusedError);
    expect(err.message).toMatch(/^http:\/\/127\.0\.0\.1:\d+ refused the download of 'big\.bin' \(403\) even with a fresh URL from the hub/);
    expect(hub.log.filter((e) => e.stage === "head" && e.path === "big.bin")).toHaveLength(2);
  });

  it("bounds connections across files: two big files at once never exceed the cache's limit", async () => {
    const { hub, cache } = await setup({ connectionBytesPerSec: 3_000_000 }, { maxConnections: 3 });
    await cache.pull(ref(["big.bin", "other.bin"]));
    const all = hub.log.filter((e) => e.server === "cdn" && e.method === "GET");
    expect(new Set(all.map((e) => e.path))).toEqual(new Set(["big.bin", "other.bin"]));
    expect(hub.served({ repo: "org/big" }).peakConcurrent).toBe(3);
  });

  it("an aborted pull keeps its chunks: the next pull fetches only what is missing", async () => {
    const { hub, cache, incomplete, map } = await setup({ connectionBytesPerSec: 1_000_000 });
    const controller = new AbortController();
    const pull = cache.pull(ref(["big.bin"]), { signal: controller.signal });
    await waitFor(() => hub.served({ path: "big.bin" }).bytes > big.length / 2, { what: "half the file served" });
    controller.abort();
    await expect(pull).rejects.toMatchObject({ name: "AbortError" });
    const first = hub.served({ path: "big.bin" }).bytes;
    expect((await stat(map)).size).toBeGreaterThan(0);
    expect((await stat(incomplete)).size).toBeGreaterThan(0);

    hub.clearLog();
    hub.setLimits({ connectionBytesPerSec: 0 });
    const model = await cache.pull(ref(["big.bin"]));
    expect((await readFile(join(model.snapshotDir, "big.bin"))).equals(big)).toBe(true);
    // Bytes the first pull received and wrote are not fetched again; at most what was in flight.
    const second = hub.served({ path: "big.bin" }).bytes;
    expect(first + second - big.length).toBeLessThanOrEqual(4 * CHUNK);
    expect(second).toBeLessThan(big.length);
  });

  it("remove() after an aborted chunked pull leaves no partial file, map or lock behind", async () => {
    const { hub, dir, cache, map } = await setup({ connectionBytesPerSec: 1_000_000 });
    const controller = new AbortController();
    const pull = cache.pull(ref(["big.bin"]), { signal: controller.signal });
    await waitFor(async () => (await stat(map).catch(() => undefined)) && hub.served({ path: "big.bin" }).bytes > 2 * CHUNK, { what: "a chunk recorded" });
    controller.abort();
    await expect(pull).rejects.toMatchObject({ name: "AbortError" });
    await writeFile(`${map}.tmp`, "{"); // what a kill during a map save leaves
    await cache.remove(ref(["big.bin"]), []);
    expect(await tree(dir)).toEqual([]);
  });

  it("a GGUF fetched in ranges passes the header check before the rename; a broken one is refused", async () => {
    const gguf = buildTinyLlamaGguf({ seed: 8 });
    const broken = gguf.subarray(0, gguf.length - 1000); // tensor data cut off
    const hub = await scope.hub({ repos: { "org/g": { revisions: { main: { files: { "m.gguf": gguf, "bad.gguf": broken } } } } } });
    const cache = scope.cache(hub, await scope.tempDir(), { ...parallel, parallelMinBytes: 0, chunkBytes: 64 * KiB });
    const model = await cache.pull({ repo: "org/g", revision: "main", files: ["m.gguf"] });
    expect((await readFile(join(model.snapshotDir, "m.gguf"))).equals(gguf)).toBe(true);
    expect(gets(hub, "m.gguf").length).toBeGreaterThan(1);
    await expect(cache.pull({ repo: "org/g", revision: "main", files: ["bad.gguf"] })).rejects.toBeInstanceOf(InvalidGgufError);
  });

  it("a chunk map that does not check out is never trusted: the file starts over", async () => {
    const { hub, cache, incomplete, map } = await setup();
    await mkdir(dirname(incomplete), { recursive: true });
    await writeFile(incomplete, Buffer.alloc(big.length, 7)); // full size, wrong bytes
    await writeFile(map, '{"version":1,"written":[[0,99999999]]}');
    const model = await cache.pull(ref(["big.bin"]));
    expect((await readFile(join(model.snapshotDir, "big.bin"))).equals(big)).toBe(true);
    expect(hub.served({ path: "big.bin" }).bytes).toBe(big.length);
  });
});
