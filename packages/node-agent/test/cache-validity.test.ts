import { open, readFile, truncate, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { InsufficientDiskError, UnsafeInputError } from "../src/cache/cache-errors.js";
import { HubBadResponseError, OfflineError } from "../src/hub/hub-errors.js";
import { CacheScope, bytes, tree } from "./cache-test-utils.js";

const scope = new CacheScope();
afterEach(() => scope.cleanup());

const big = bytes(300_000, 4);
const repos = { "org/m": { revisions: { main: { files: { "w.bin": big, "c.json": '{"x":1}' } } } } };
const ref = (files: string[] = [], repo = "org/m", revision = "main") => ({ repo, revision, files });

describe("cached files are checked before use", () => {
  async function pulledThenDamaged(damage: (blob: string) => Promise<void>) {
    const hub = await scope.hub({ repos });
    const dir = await scope.tempDir();
    await scope.cache(hub, dir).pull(ref());
    const blob = join(dir, "models--org--m", "blobs", hub.file("org/m", "main", "w.bin")!.etag);
    await damage(blob);
    hub.clearLog();
    const model = await scope.cache(hub, dir).pull(ref()); // a fresh process would do the same
    expect((await readFile(join(model.snapshotDir, "w.bin"))).equals(big)).toBe(true);
    return hub.log.filter((e) => e.server === "cdn").length;
  }

  it("reuses a good cached file without downloading it again", async () => {
    expect(await pulledThenDamaged(async () => {})).toBe(0);
  });
  it("replaces a zero-byte file", async () => {
    expect(await pulledThenDamaged((b) => truncate(b, 0))).toBe(1);
  });
  it("replaces a truncated file", async () => {
    expect(await pulledThenDamaged((b) => truncate(b, 1000))).toBe(1);
  });
  it("replaces a same-size file with corrupt bytes (sha256)", async () => {
    expect(
      await pulledThenDamaged(async (b) => {
        const fh = await open(b, "r+");
        await fh.write(Buffer.from([0xde, 0xad]), 0, 2, 150_000);
        await fh.close();
      }),
    ).toBe(1);
  });

  it("resumes a partial download left behind, and discards one with wrong bytes", async () => {
    const hub = await scope.hub({ repos });
    const etag = hub.file("org/m", "main", "w.bin")!.etag;
    for (const [partial, expectedRanges] of [
      [big.subarray(0, 120_000), ["bytes=120000-"]],
      [Buffer.alloc(120_000, 7), ["bytes=120000-", null]], // garbage prefix: hash fails, downloaded again from zero
    ] as const) {
      const dir = await scope.tempDir();
      await mkdir(join(dir, "models--org--m", "blobs"), { recursive: true });
      await writeFile(join(dir, "models--org--m", "blobs", `${etag}.incomplete`), partial);
      hub.clearLog();
      const model = await scope.cache(hub, dir).pull(ref(["w.bin"]));
      expect((await readFile(join(model.snapshotDir, "w.bin"))).equals(big)).toBe(true);
      expect(hub.log.filter((e) => e.server === "cdn").map((e) => e.range)).toEqual(expectedRanges);
    }
  });
});

describe("HF_HUB_OFFLINE=1", () => {
  it("serves a pulled model without touching the network, by revision or commit", async () => {
    const hub = await scope.hub({ repos });
    const dir = await scope.tempDir();
    const online = await scope.cache(hub, dir).pull(ref());
    hub.clearLog();
    const offline = scope.cache({ url: "http://127.0.0.1:9" }, dir, { offline: true });
    expect(await offline.pull(ref())).toEqual(online);
    expect(await offline.pull(ref(["*.bin"]))).toEqual({ ...online, files: ["w.bin"] });
    expect(await offline.pull(ref([], "org/m", online.commit))).toEqual(online);
    expect(hub.log).toEqual([]);
  });

  it("fails clearly for what is not cached", async () => {
    const hub = await scope.hub({ repos });
    const dir = await scope.tempDir();
    await scope.cache(hub, dir).pull(ref(["c.json"]));
    const offline = scope.cache(hub, dir, { offline: true });
    const never = offline.pull(ref([], "org/other"));
    await expect(never).rejects.toBeInstanceOf(OfflineError);
    await expect(never).rejects.toThrow(`org/other@main is not usable from the cache at ${dir}: revision 'main' was never pulled (HF_HUB_OFFLINE=1: pull it while online)`);
    await expect(offline.pull(ref(["w.bin"]))).rejects.toThrow(`org/m@main is not usable from the cache at ${dir}: missing 'w.bin' (HF_HUB_OFFLINE=1: pull it while online)`);
    expect(hub.log.filter((e) => e.server === "cdn" || e.stage === "revision")).toHaveLength(1); // only the online pull
  });

  it("refuses a corrupt cached file instead of serving it", async () => {
    const hub = await scope.hub({ repos });
    const dir = await scope.tempDir();
    await scope.cache(hub, dir).pull(ref());
    await truncate(join(dir, "models--org--m", "blobs", hub.file("org/m", "main", "w.bin")!.etag), 10);
    await expect(scope.cache(hub, dir, { offline: true }).pull(ref())).rejects.toThrow(/'w\.bin' has sha256 [0-9a-f]{64}, expected [0-9a-f]{64} \(HF_HUB_OFFLINE=1/);
  });
});

describe("hostile input never escapes the cache folder", () => {
  async function setup(extraTreeEntries?: unknown[], commit?: string) {
    const hub = await scope.hub({
      repos: { "org/evil": { revisions: { main: { commit, files: { "ok.txt": "fine" }, extraTreeEntries } } } },
    });
    const parent = await scope.tempDir();
    const dir = join(parent, "cache");
    await mkdir(dir);
    return { hub, parent, cache: scope.cache(hub, dir) };
  }

  it.each([
    ["a repo id with ..", ref([], "../../etc"), /^repo "\.\.\/\.\.\/etc" refused/],
    ["an absolute repo id", ref([], "/etc/passwd"), /^repo "\/etc\/passwd" refused/],
    ["a revision with ..", ref([], "org/evil", "../../../tmp"), /^revision "\.\.\/\.\.\/\.\.\/tmp" refused/],
    ["a file pattern with ..", ref(["../../x"], "org/evil"), /^file pattern "\.\.\/\.\.\/x" refused: it contains a '\.' or '\.\.' segment/],
    ["an absolute file pattern", ref(["/etc/passwd"], "org/evil"), /it is absolute/],
    ["a backslash", ref(["..\\..\\x"], "org/evil"), /it contains a backslash/],
    ["a NUL byte", ref(["a\0.txt"], "org/evil"), /it contains a NUL byte/],
  ])("refuses %s before any request", async (_name, model, message) => {
    const { hub, parent, cache } = await setup();
    const err = await cache.pull(model).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeInputError);
    expect((err as Error).message).toMatch(message);
    expect(hub.log).toEqual([]);
    expect(await tree(parent)).toEqual(["d cache"]);
  });

  it.each([
    ["a path with ..", { type: "file", path: "../../evil.txt", size: 4, oid: "a".repeat(40) }, /file path "\.\.\/\.\.\/evil\.txt" refused/],
    ["an absolute path", { type: "file", path: "/tmp/evil.txt", size: 4, oid: "a".repeat(40) }, /it is absolute/],
    ["an etag that is a path", { type: "file", path: "x.bin", size: 4, oid: "b".repeat(40), lfs: { oid: "../../../../evil", size: 4 } }, /unusable etag for 'x\.bin'/],
  ])("refuses a hub listing with %s", async (_name, entry, message) => {
    const { hub, parent, cache } = await setup([entry]);
    const err = await cache.pull(ref([], "org/evil")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeInputError);
    expect((err as Error).message).toMatch(message);
    expect(hub.log.filter((e) => e.stage === "head" || e.server === "cdn")).toEqual([]);
    expect((await tree(parent)).filter((l) => /evil/.test(l))).toEqual([]);
    // A safe file of the same listing is still pullable by name.
    expect((await cache.pull(ref(["ok.txt"], "org/evil"))).files).toEqual(["ok.txt"]);
  });

  it("refuses a commit hash from the hub that is not one", async () => {
    const { cache } = await setup(undefined, "../../../../tmp/x");
    const err = await cache.pull(ref([], "org/evil")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubBadResponseError);
    expect((err as Error).message).toBe("the hub sent no valid commit hash for org/evil@main");
  });
});

describe("free disk space", () => {
  it("refuses a download that cannot fit, before fetching a byte", async () => {
    const dir = await scope.tempDir();
    // A sparse 10 TB file: the hub advertises it (sha256 given, so it is never read).
    const huge = join(dir, "huge.bin");
    await writeFile(huge, "");
    await truncate(huge, 10 * 1000 ** 4);
    const hub = await scope.hub({ repos: { "org/huge": { revisions: { main: { files: { "huge.bin": { path: huge, sha256: "c".repeat(64) } } } } } } });
    const cacheDir = join(dir, "cache");
    await mkdir(cacheDir);
    const err = await scope.cache(hub, cacheDir).pull(ref([], "org/huge")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InsufficientDiskError);
    expect((err as Error).message).toMatch(new RegExp(`^not enough disk space: needs 10\\.0 TB, [0-9.]+ [kMGT]?B free in ${cacheDir}$`));
    expect(hub.log.filter((e) => e.server === "cdn")).toEqual([]);
  });
});
