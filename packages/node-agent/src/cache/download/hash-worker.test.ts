import { createHash } from "node:crypto";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { HashWorker } from "./hash-worker.js";

let dir: string;
const worker = new HashWorker();
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "omnigate-hash-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterAll(() => worker.close());

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
function data(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + seed) & 0xff;
  return b;
}

describe("HashWorker", () => {
  it("hashes a file in order as its prefix grows, two files at once", async () => {
    const a = data(9 * 1024 * 1024 + 7, 1);
    const b = data(5_000_000, 2);
    const fa = await open(join(dir, "a"), "w+");
    const fb = await open(join(dir, "b"), "w+");
    const ja = worker.start(join(dir, "a"), "sha256", a.length);
    const jb = worker.start(join(dir, "b"), "sha256", b.length);
    // Written in steps, each step announced only once it is on disk.
    for (let off = 0; off < Math.max(a.length, b.length); off += 3_000_000) {
      if (off < a.length) {
        const end = Math.min(a.length, off + 3_000_000);
        await fa.write(a, off, end - off, off);
        ja.advance(end);
      }
      if (off < b.length) {
        const end = Math.min(b.length, off + 3_000_000);
        await fb.write(b, off, end - off, off);
        jb.advance(end);
      }
    }
    expect(await ja.result()).toEqual({ bytes: a.length, digest: sha256(a) });
    expect(await jb.result()).toEqual({ bytes: b.length, digest: sha256(b) });
    await fa.close();
    await fb.close();
  });

  it("computes git blob sha1 for non-LFS files", async () => {
    await writeFile(join(dir, "g"), "hello\n");
    const job = worker.start(join(dir, "g"), "git-sha1", 6);
    job.advance(6);
    expect((await job.result()).digest).toBe("ce013625030ba8dba906f756967f9e9ca394464a"); // git hash-object
  });

  it("fails a job whose file is missing or shorter than announced; the thread goes on", async () => {
    const missing = worker.start(join(dir, "nope"), "sha256", 10);
    missing.advance(10);
    await expect(missing.result()).rejects.toMatchObject({ code: "ENOENT" });
    await writeFile(join(dir, "short"), "abc");
    const short = worker.start(join(dir, "short"), "sha256", 10);
    short.advance(10);
    await expect(short.result()).rejects.toThrow("the file ended at 3 bytes while 10 were on disk");
    await writeFile(join(dir, "ok"), "ok");
    const ok = worker.start(join(dir, "ok"), "sha256", 2);
    ok.advance(2);
    expect((await ok.result()).digest).toBe(sha256(Buffer.from("ok")));
  });

  it("a cancelled job rejects as aborted and leaves the thread free", async () => {
    await writeFile(join(dir, "c"), data(1000, 3));
    const job = worker.start(join(dir, "c"), "sha256", 1000);
    job.cancel();
    await expect(job.result()).rejects.toMatchObject({ name: "AbortError" });
  });
});
