import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TestScope } from "@omnigate/testkit/scope";
import { NodeCapacityProbe, scanCache } from "./node-capacity.js";

// What the agent tells placement about itself, read from a real cache folder.

const scope = new TestScope();
afterEach(() => scope.cleanup());

const COMMIT = "a".repeat(40);

async function file(path: string, content = "x"): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, content);
}

describe("scanCache", () => {
  it("lists each snapshot's complete files, nested ones too, and nothing else", async () => {
    const cache = await scope.tempDir("og-capacity-");
    const snap = join(cache, "models--org--tiny", "snapshots", COMMIT);
    await file(join(cache, "models--org--tiny", "blobs", "etag1"));
    await mkdir(snap, { recursive: true });
    await symlink(join("..", "..", "blobs", "etag1"), join(snap, "tiny.gguf"));
    await file(join(snap, "sub", "config.json"));
    // A link whose blob is still downloading does not resolve: not held yet.
    await symlink(join("..", "..", "blobs", "etag2"), join(snap, "partial.gguf"));
    // Not a commit, not a model repo, a snapshot with nothing in it: ignored.
    await file(join(cache, "models--org--tiny", "snapshots", "main", "x.gguf"));
    await file(join(cache, "datasets--org--data", "snapshots", COMMIT, "d.json"));
    await mkdir(join(cache, "models--org--empty", "snapshots", COMMIT), { recursive: true });
    expect(await scanCache(cache)).toEqual([{ repo: "org/tiny", commit: COMMIT, files: ["sub/config.json", "tiny.gguf"] }]);
    expect(await scanCache(join(cache, "nowhere"))).toEqual([]);
  });
});

describe("NodeCapacityProbe", () => {
  it("measures memory and the cache's disk with the reserve, and sees new files on refresh", async () => {
    const cache = await scope.tempDir("og-capacity-");
    const probe = new NodeCapacityProbe(cache, 2048);
    expect(probe.current()).toEqual({ capacity: undefined, cached: [] });
    await probe.refresh();
    const { capacity, cached } = probe.current();
    expect(capacity).toMatchObject({ reserved_mib: 2048 });
    expect(capacity!.memory_total_mib).toBeGreaterThan(0);
    expect(capacity!.memory_available_mib).toBeGreaterThan(0);
    expect(capacity!.memory_available_mib).toBeLessThanOrEqual(capacity!.memory_total_mib);
    expect(capacity!.disk_free_mib).toBeGreaterThan(0);
    expect(cached).toEqual([]);
    await file(join(cache, "models--org--m", "snapshots", COMMIT, "m.gguf"));
    await probe.refresh();
    expect(probe.current().cached).toEqual([{ repo: "org/m", commit: COMMIT, files: ["m.gguf"] }]);
  });
});
