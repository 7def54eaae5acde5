import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ChecksumMismatchError } from "../src/cache/cache-errors.js";
import {
  EntryNotFoundError,
  GatedRepoError,
  HubServerError,
  HubTimeoutError,
  RateLimitedError,
  RepoNotFoundError,
  RevisionNotFoundError,
  UnauthorizedError,
} from "../src/hub/hub-errors.js";
import type { TestHub } from "@omnigate/testkit/hub";
import { CacheScope, bytes, tree } from "./cache-test-utils.js";

const scope = new CacheScope();
afterEach(() => scope.cleanup());

const big = bytes(400_000, 7); // LFS: served by the CDN after a 302
const plain = "p".repeat(5_000); // non-LFS: served by the hub itself
const repos = {
  "org/tiny": { revisions: { main: { files: { "big.bin": big, "plain.txt": { text: plain, lfs: false } } } } },
  "org/private": { private: true, revisions: { main: { files: { "a.txt": "x" } } } },
  "org/gated": { gated: true, revisions: { main: { files: { "a.txt": "x" } } } },
};
const ref = (files: string[] = [], repo = "org/tiny", revision = "main") => ({ repo, revision, files });
/** Requests for a file's bytes: on the CDN (LFS) or the hub's /resolve (plain files). */
const gets = (hub: TestHub, path: string) => hub.log.filter((e) => e.method === "GET" && e.path === path && (e.server === "cdn" || e.stage === "get"));

describe("pull survives a flaky hub", () => {
  it("resumes an LFS download after a dropped connection, fetching only the missing bytes", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "bytes", path: "big.bin", dropAfter: 100_000, times: 1 });
    const model = await scope.cache(hub, await scope.tempDir()).pull(ref(["big.bin"]));
    expect((await readFile(join(model.snapshotDir, "big.bin"))).equals(big)).toBe(true);
    const g = gets(hub, "big.bin");
    expect(g.map((e) => [e.server, e.range, e.status, e.bytesSent])).toEqual([
      ["cdn", null, 200, 100_000],
      ["cdn", "bytes=100000-", 206, big.length - 100_000],
    ]);
  });

  it("resumes a plain file served by the hub itself", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "bytes", path: "plain.txt", dropAfter: 1_000, times: 1 });
    const model = await scope.cache(hub, await scope.tempDir()).pull(ref(["plain.txt"]));
    expect(await readFile(join(model.snapshotDir, "plain.txt"), "utf8")).toBe(plain);
    expect(gets(hub, "plain.txt").map((e) => [e.server, e.range])).toEqual([["hub", null], ["hub", "bytes=1000-"]]);
  });

  it("resumes after the body stalls (no bytes for longer than the timeout)", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "bytes", path: "big.bin", stallAfter: 50_000, times: 1 });
    const model = await scope.cache(hub, await scope.tempDir(), { timeoutMs: 300 }).pull(ref(["big.bin"]));
    expect((await readFile(join(model.snapshotDir, "big.bin"))).equals(big)).toBe(true);
    expect(gets(hub, "big.bin").map((e) => e.range)).toEqual([null, "bytes=50000-"]);
  });

  it("retries 5xx on HEAD and on the bytes, then succeeds", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "head", path: "big.bin", status: 503, times: 2 });
    hub.addRule({ stage: "bytes", path: "big.bin", status: 500, times: 1 });
    await scope.cache(hub, await scope.tempDir()).pull(ref(["big.bin"]));
    expect(hub.log.filter((e) => e.stage === "head").map((e) => e.status)).toEqual([503, 503, 302]);
    expect(gets(hub, "big.bin").map((e) => e.status)).toEqual([500, 200]);
  });

  it("gives up on a hub that keeps failing, saying how often it tried", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "revision", status: 503 });
    const pull = scope.cache(hub, await scope.tempDir()).pull(ref());
    await expect(pull).rejects.toBeInstanceOf(HubServerError);
    await expect(pull).rejects.toThrow("the hub answered 503 for revision info of org/tiny@main after 4 attempts");
  });

  it("waits out a 429 Retry-After, then continues", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "tree", status: 429, retryAfter: 1, times: 1 });
    await scope.cache(hub, await scope.tempDir()).pull(ref(["plain.txt"]));
    expect(hub.log.filter((e) => e.stage === "tree").map((e) => e.status)).toEqual([429, 200]);
  });

  it("fails as rate limited (retrying in N s) when Retry-After is longer than it waits in place", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "tree", status: 429, retryAfter: 120 });
    const pull = scope.cache(hub, await scope.tempDir()).pull(ref());
    await expect(pull).rejects.toBeInstanceOf(RateLimitedError);
    await expect(pull).rejects.toThrow(/^rate limited by the hub on file list of org\/tiny@[0-9a-f]{40} \(retrying in 120 s\)$/);
    expect(hub.log.filter((e) => e.stage === "tree")).toHaveLength(1);
  });

  it("times out a hub that never answers and retries", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "head", hang: true, times: 1 });
    await scope.cache(hub, await scope.tempDir(), { timeoutMs: 300 }).pull(ref(["plain.txt"]));
    expect(hub.log.filter((e) => e.stage === "head")).toHaveLength(2);
  });

  it("fails with a timeout error naming the limit when the hub never answers", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "revision", hang: true });
    const pull = scope.cache(hub, await scope.tempDir(), { timeoutMs: 200, retry: { maxAttempts: 2, baseDelayMs: 10 } }).pull(ref());
    await expect(pull).rejects.toBeInstanceOf(HubTimeoutError);
    await expect(pull).rejects.toThrow("the hub did not answer revision info of org/tiny@main within 200 ms (after 2 attempts)");
  });

  it("starts over when the server ignores the Range header (200) or refuses it (416)", async () => {
    for (const rule of [{ ignoreRange: true }, { status: 416 }]) {
      const hub = await scope.hub({ repos });
      const dir = await scope.tempDir();
      const etag = hub.file("org/tiny", "main", "big.bin")!.etag;
      await mkdir(join(dir, "models--org--tiny", "blobs"), { recursive: true });
      await writeFile(join(dir, "models--org--tiny", "blobs", `${etag}.incomplete`), big.subarray(0, 1000));
      hub.addRule({ stage: "bytes", path: "big.bin", times: 1, ...rule });
      const model = await scope.cache(hub, dir).pull(ref(["big.bin"]));
      expect((await readFile(join(model.snapshotDir, "big.bin"))).equals(big)).toBe(true);
      const g = gets(hub, "big.bin");
      expect(g[0]!.range).toBe("bytes=1000-");
      expect(g.at(-1)!.status).toBe(200);
    }
  });

  it("downloads once more after wrong bytes (sha256 mismatch) and keeps the good copy", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "bytes", path: "big.bin", corrupt: true, times: 1 });
    const model = await scope.cache(hub, await scope.tempDir()).pull(ref(["big.bin"]));
    expect((await readFile(join(model.snapshotDir, "big.bin"))).equals(big)).toBe(true);
    expect(gets(hub, "big.bin").map((e) => e.range)).toEqual([null, null]); // second download from zero
  });

  it("fails on a second mismatch with both hashes, leaving nothing half-verified", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "bytes", path: "big.bin", corrupt: true });
    const dir = await scope.tempDir();
    const pull = scope.cache(hub, dir).pull(ref(["big.bin"]));
    await expect(pull).rejects.toBeInstanceOf(ChecksumMismatchError);
    const etag = hub.file("org/tiny", "main", "big.bin")!.etag;
    const err = (await pull.catch((e: unknown) => e)) as ChecksumMismatchError;
    expect(err.message).toMatch(new RegExp(`^sha256 of 'big\\.bin' is ([0-9a-f]{64}) but the hub says ${etag} \\(downloaded twice; the first attempt gave ([0-9a-f]{64})\\)$`));
    expect(err.actual).not.toBe(etag);
    expect((await tree(dir)).filter((l) => l.startsWith("f ") && l.includes("/blobs/"))).toEqual([]);
  });

  it("checks non-LFS files against their git blob sha1", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "bytes", path: "plain.txt", corrupt: true });
    const err = (await scope.cache(hub, await scope.tempDir()).pull(ref(["plain.txt"])).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(err.message).toMatch(/^git-sha1 of 'plain\.txt' is [0-9a-f]{40} but the hub says [0-9a-f]{40}/);
  });
});

describe("pull names every hub error clearly", () => {
  const cases: Array<{ name: string; token?: string; ref: ReturnType<typeof ref>; rule?: Parameters<TestHub["addRule"]>[0]; type: new (...a: never[]) => Error; message: (url: string) => string }> = [
    { name: "unknown repo, no token", ref: ref([], "org/nope"), type: RepoNotFoundError,
      message: (u) => `repository 'org/nope' not found on ${u}, or it is private: check the name, or set HF_TOKEN to a token that can read it` },
    { name: "unknown repo, with token", token: "hf_good", ref: ref([], "org/nope"), type: RepoNotFoundError,
      message: (u) => `repository 'org/nope' not found on ${u}: check the name (and that HF_TOKEN's account can see it)` },
    { name: "private repo, no token", ref: ref([], "org/private"), type: RepoNotFoundError,
      message: (u) => `repository 'org/private' not found on ${u}, or it is private: check the name, or set HF_TOKEN to a token that can read it` },
    { name: "gated repo, no token", ref: ref([], "org/gated"), type: GatedRepoError,
      message: (u) => `repository 'org/gated' is gated or private: accept its terms at ${u}/org/gated and set HF_TOKEN` },
    { name: "gated repo, token without access", token: "hf_good", ref: ref([], "org/gated"), rule: { stage: "revision", status: 403, errorCode: "GatedRepo" }, type: GatedRepoError,
      message: (u) => `repository 'org/gated' is gated and HF_TOKEN's account has no access: accept its terms at ${u}/org/gated` },
    { name: "invalid token", token: "hf_wrong", ref: ref([], "org/tiny"), type: UnauthorizedError,
      message: () => "the hub refused the token for revision info of org/tiny@main (401): set HF_TOKEN to a valid token with read access" },
    { name: "revision not found", ref: ref([], "org/tiny", "v9"), type: RevisionNotFoundError,
      message: () => "revision 'v9' not found in repository 'org/tiny': use a branch, tag or commit that exists" },
    { name: "file not found on HEAD", ref: ref(["plain.txt"]), rule: { stage: "head", status: 404, errorCode: "EntryNotFound" }, type: EntryNotFoundError,
      message: () => "file 'plain.txt' not found in repository 'org/tiny' at revision" },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const hub = await scope.hub({ repos, token: "hf_good" });
      if (c.rule) hub.addRule(c.rule);
      const err = (await scope.cache(hub, await scope.tempDir(), { token: c.token }).pull(c.ref).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(c.type);
      expect(err.message.startsWith(c.message(hub.url))).toBe(true);
      // Permanent errors are not retried: no request was made twice.
      const keys = hub.log.map((e) => `${e.stage} ${e.path ?? ""}`);
      expect(new Set(keys).size).toBe(keys.length);
    });
  }
});
