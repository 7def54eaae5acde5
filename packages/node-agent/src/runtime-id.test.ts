import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadOrCreateRuntimeId, RuntimeIdError } from "./runtime-id.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "og-runtime-id-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadOrCreateRuntimeId", () => {
  it("creates a UUID in the state dir (made if missing) and returns the same one on the next start", async () => {
    const stateDir = join(dir, "nested", "state");
    const id = await loadOrCreateRuntimeId(stateDir);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect((await readFile(join(stateDir, "runtime-id"), "utf8")).trim()).toBe(id);
    expect(await loadOrCreateRuntimeId(stateDir)).toBe(id);
    // No temporary file left behind.
    expect(await readdir(stateDir)).toEqual(["runtime-id"]);
  });

  it("refuses a file that does not hold a UUID rather than silently becoming another node", async () => {
    await writeFile(join(dir, "runtime-id"), "not-a-uuid\n");
    await expect(loadOrCreateRuntimeId(dir)).rejects.toBeInstanceOf(RuntimeIdError);
  });
});
