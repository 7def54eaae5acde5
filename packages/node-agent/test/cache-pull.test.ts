import { createHash } from "node:crypto";
import { readFile, readlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DownloadProgress } from "@omnigate/shared/models";
import { buildTinyLlamaGguf } from "@omnigate/testkit/gguf-writer";
import { EntryNotFoundError } from "../src/hub/hub-errors.js";
import { InvalidGgufError, NoDefaultFilesError, NoMatchingFilesError } from "../src/cache/cache-errors.js";
import { defaultFilesFor } from "@omnigate/shared/default-files";
import { CacheScope, bytes, tree } from "./cache-test-utils.js";

const scope = new CacheScope();
afterEach(() => scope.cleanup());

const gguf = buildTinyLlamaGguf({ seed: 5 });
const weights = bytes(300_000, 9);
const files = {
  "model.gguf": gguf,
  "weights.bin": weights,
  "config.json": '{"arch":"llama"}',
  "tokenizer/vocab.txt": "a\nb\nc\n",
  "README.md": "# tiny",
};

describe("pull: layout and selection", () => {
  it("stores LFS and plain files in the huggingface_hub layout with relative links and refs", async () => {
    const hub = await scope.hub({ repos: { "org/tiny": { revisions: { main: { files } } } } });
    const dir = await scope.tempDir();
    const cache = scope.cache(hub, dir);
    const model = await cache.pull({ repo: "org/tiny", revision: "main", files: [] });

    const commit = hub.commit("org/tiny", "main")!;
    expect(model.commit).toBe(commit);
    expect(model.snapshotDir).toBe(join(dir, "models--org--tiny", "snapshots", commit));
    expect(model.files).toEqual(["README.md", "config.json", "model.gguf", "tokenizer/vocab.txt", "weights.bin"]);
    const ggufEtag = createHash("sha256").update(gguf).digest("hex");
    expect(hub.file("org/tiny", "main", "model.gguf")!.etag).toBe(ggufEtag);
    const cfgEtag = hub.file("org/tiny", "main", "config.json")!.etag;
    expect(cfgEtag).toMatch(/^[0-9a-f]{40}$/); // git blob sha1 of a non-LFS file

    const snap = model.snapshotDir;
    expect(await readlink(join(snap, "model.gguf"))).toBe(`../../blobs/${ggufEtag}`);
    expect(await readlink(join(snap, "config.json"))).toBe(`../../blobs/${cfgEtag}`);
    expect(await readlink(join(snap, "tokenizer/vocab.txt"))).toMatch(/^\.\.\/\.\.\/\.\.\/blobs\/[0-9a-f]{40}$/);
    expect((await readFile(join(snap, "model.gguf"))).equals(gguf)).toBe(true);
    expect((await readFile(join(snap, "weights.bin"))).equals(weights)).toBe(true);
    expect(await readFile(join(snap, "config.json"), "utf8")).toBe('{"arch":"llama"}');
    expect(await readFile(join(dir, "models--org--tiny", "refs", "main"), "utf8")).toBe(commit);

    const t = await tree(dir);
    expect(t.filter((l) => l.startsWith("f ") && l.includes("/blobs/"))).toHaveLength(5);
    expect(t.some((l) => l.endsWith(".incomplete"))).toBe(false);
    expect(t.some((l) => l.endsWith(".omnigate.lock"))).toBe(false); // every lock released
  });

  it("follows tree pagination (Link rel=next) and gets every file", async () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 23; i++) many[`shard-${String(i).padStart(2, "0")}.txt`] = `content ${i}`;
    const hub = await scope.hub({ pageSize: 5, repos: { "org/many": { revisions: { main: { files: many } } } } });
    const model = await scope.cache(hub, await scope.tempDir()).pull({ repo: "org/many", revision: "main", files: [] });
    expect(model.files).toHaveLength(23);
    expect(hub.log.filter((e) => e.stage === "tree")).toHaveLength(5);
    expect(hub.log.filter((e) => e.stage === "tree").map((e) => new URL(e.url, hub.url).searchParams.get("cursor"))).toEqual([null, "5", "10", "15", "20"]);
  });

  it("picks files by literal path and by * / ** / ? globs", async () => {
    const hub = await scope.hub({ repos: { "org/tiny": { revisions: { main: { files } } } } });
    const cache = scope.cache(hub, await scope.tempDir());
    const pick = async (patterns: string[]) => (await cache.pull({ repo: "org/tiny", revision: "main", files: patterns })).files;
    expect(await pick(["*.gguf"])).toEqual(["model.gguf"]);
    expect(await pick(["config.json", "**/*.txt"])).toEqual(["config.json", "tokenizer/vocab.txt"]);
    expect(await pick(["READM?.md", "tokenizer/*"])).toEqual(["README.md", "tokenizer/vocab.txt"]);
    // `*` stays inside one folder.
    await expect(pick(["*.txt"])).rejects.toBeInstanceOf(NoMatchingFilesError);
  }, 30_000);

  it("refuses patterns that match nothing: a literal path as file-not-found, globs by name", async () => {
    const hub = await scope.hub({ repos: { "org/tiny": { revisions: { main: { files } } } } });
    const cache = scope.cache(hub, await scope.tempDir());
    const literal = cache.pull({ repo: "org/tiny", revision: "main", files: ["missing.gguf"] });
    await expect(literal).rejects.toBeInstanceOf(EntryNotFoundError);
    await expect(literal).rejects.toThrow("file 'missing.gguf' not found in repository 'org/tiny' at revision 'main'");
    const glob = cache.pull({ repo: "org/tiny", revision: "main", files: ["model.gguf", "*.safetensors"] });
    await expect(glob).rejects.toBeInstanceOf(NoMatchingFilesError);
    await expect(glob).rejects.toThrow("no file in 'org/tiny' at revision 'main' matches '*.safetensors'");
    expect(hub.log.some((e) => e.server === "cdn")).toBe(false); // refused before any download
  });

  it("reports progress: total of every picked file, monotonic bytes, ends at 100 %", async () => {
    const big = bytes(2_000_000, 3);
    const hub = await scope.hub({ repos: { "org/p": { revisions: { main: { files: { "a.bin": big, "b.txt": "x" } } } } } });
    hub.addRule({ stage: "bytes", path: "a.bin", bytesPerSec: 1_500_000 });
    const seen: DownloadProgress[] = [];
    await scope.cache(hub, await scope.tempDir()).pull({ repo: "org/p", revision: "main", files: [] }, { onProgress: (p) => seen.push(p) });
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((p) => p.total === big.length + 1)).toBe(true);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.bytes).toBeGreaterThanOrEqual(seen[i - 1]!.bytes);
    expect(seen.at(-1)).toMatchObject({ bytes: big.length + 1, percent: 100 });
    expect(seen.some((p) => p.percent > 0 && p.percent < 100 && p.rate > 0)).toBe(true);
  });

  it("calls onVerifying once, after the bytes are in", async () => {
    const hub = await scope.hub({ repos: { "org/tiny": { revisions: { main: { files } } } } });
    const events: string[] = [];
    await scope.cache(hub, await scope.tempDir()).pull(
      { repo: "org/tiny", revision: "main", files: ["*.gguf"] },
      { onProgress: (p) => events.push(`p${p.percent}`), onVerifying: () => events.push("verifying") },
    );
    expect(events.filter((e) => e === "verifying")).toHaveLength(1);
    expect(events.at(-1)).toBe("verifying");
    expect(events.at(-2)).toBe("p100");
  });

  it("sends the token to the hub only, never to the CDN it redirects to", async () => {
    const token = "hf_testtoken_1234567890";
    const hub = await scope.hub({ token, repos: { "org/private": { private: true, revisions: { main: { files } } } } });
    await scope.cache(hub, await scope.tempDir(), { token }).pull({ repo: "org/private", revision: "main", files: [] });
    const cdn = hub.log.filter((e) => e.server === "cdn");
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.every((e) => !e.auth)).toBe(true);
    expect(hub.log.filter((e) => e.server === "hub").every((e) => e.auth)).toBe(true);
  });

  it("follows the hub's relative redirect for a renamed repo", async () => {
    const hub = await scope.hub({ aliases: { "old/name": "org/tiny" }, repos: { "org/tiny": { revisions: { main: { files } } } } });
    const model = await scope.cache(hub, await scope.tempDir()).pull({ repo: "old/name", revision: "main", files: ["config.json"] });
    expect(await readFile(join(model.snapshotDir, "config.json"), "utf8")).toBe('{"arch":"llama"}');
  });

  it("takes an absolute redirect, even to the hub's own host, as where the bytes are: a mirror serving LFS itself", async () => {
    const token = "hf_testtoken_1234567890";
    const hub = await scope.hub({ token, lfsFrom: "hub", repos: { "org/mirrored": { private: true, revisions: { main: { files } } } } });
    const model = await scope.cache(hub, await scope.tempDir(), { token }).pull({ repo: "org/mirrored", revision: "main", files: [] });
    for (const [path, content] of Object.entries(files)) {
      expect(await readFile(join(model.snapshotDir, path)), path).toEqual(Buffer.isBuffer(content) ? content : Buffer.from(content as string));
    }
    // The HEAD was answered by its 302 (not followed), the bytes came from the Location it named,
    // on the hub's own host: so with the token.
    const lfs = hub.log.filter((e) => e.stage === "bytes" && e.server === "hub" && e.sha256);
    expect(lfs.length).toBeGreaterThan(0);
    expect(lfs.every((e) => e.method === "GET" && e.auth)).toBe(true);
    expect(hub.log.filter((e) => e.server === "cdn")).toEqual([]);
  });

  it("pulls by commit hash and by a tag, both in one cache", async () => {
    const hub = await scope.hub({ repos: { "org/r": { revisions: { main: { files: { "a.txt": "one" } }, "v1.0": { files: { "a.txt": "zero" } } } } } });
    const cache = scope.cache(hub, await scope.tempDir());
    const commit = hub.commit("org/r", "v1.0")!;
    const byCommit = await cache.pull({ repo: "org/r", revision: commit, files: [] });
    expect(byCommit.commit).toBe(commit);
    expect(await readFile(join(byCommit.snapshotDir, "a.txt"), "utf8")).toBe("zero");
    const main = await cache.pull({ repo: "org/r", revision: "main", files: [] });
    expect(await readFile(join(main.snapshotDir, "a.txt"), "utf8")).toBe("one");
  });

  it("downloads a blob once when two pulls in one process want it at the same time", async () => {
    const hub = await scope.hub({ repos: { "org/tiny": { revisions: { main: { files } } } } });
    hub.addRule({ stage: "bytes", path: "weights.bin", bytesPerSec: 1_000_000 });
    const cache = scope.cache(hub, await scope.tempDir());
    const ref = { repo: "org/tiny", revision: "main", files: ["weights.bin"] };
    const [a, b] = await Promise.all([cache.pull(ref), cache.pull(ref)]);
    expect(a).toEqual(b);
    expect(hub.log.filter((e) => e.server === "cdn" && e.method === "GET")).toHaveLength(1);
  });

  it("refuses a .gguf that fails the header check even though its hash matches", async () => {
    const broken = gguf.subarray(0, gguf.length - 1000); // tensor data cut off
    const hub = await scope.hub({ repos: { "org/bad": { revisions: { main: { files: { "m.gguf": broken } } } } } });
    const dir = await scope.tempDir();
    const pull = scope.cache(hub, dir).pull({ repo: "org/bad", revision: "main", files: [] });
    await expect(pull).rejects.toBeInstanceOf(InvalidGgufError);
    await expect(pull).rejects.toThrow(/'m\.gguf' is not a valid GGUF file: tensor .* ends at byte/);
    expect((await tree(dir)).filter((l) => l.includes("snapshots/") && l.startsWith("l "))).toEqual([]);
  });
});

describe("pull: a runtime's default files, for a model registered without 'files'", () => {
  // A GGUF repo as quantizers publish them: one file per quantization, a projector, a README.
  const quantRepo = {
    "README.md": "# quants",
    "m-Q2_K.gguf": buildTinyLlamaGguf({ seed: 21 }),
    "m-Q4_K_M.gguf": buildTinyLlamaGguf({ seed: 22 }),
    "m-Q8_0.gguf": buildTinyLlamaGguf({ seed: 23 }),
    "mmproj-m-F16.gguf": buildTinyLlamaGguf({ seed: 24 }),
  };
  const downloaded = (hub: { log: Array<{ server: string; method: string; stage?: string; path?: string }> }) =>
    [...new Set(hub.log.filter((e) => e.stage === "bytes" && e.method === "GET").map((e) => e.path))].sort();

  it("downloads only what llama_cpp's pick takes: one quantization and the projector", async () => {
    const hub = await scope.hub({ repos: { "org/quants": { revisions: { main: { files: quantRepo } } } } });
    const dir = await scope.tempDir();
    const model = await scope.cache(hub, dir).pull({ repo: "org/quants", revision: "main", files: [] }, { defaultFiles: defaultFilesFor("llama_cpp") });
    expect(model.files).toEqual(["m-Q4_K_M.gguf", "mmproj-m-F16.gguf"]);
    expect(downloaded(hub)).toEqual(["m-Q4_K_M.gguf", "mmproj-m-F16.gguf"]);
    expect((await tree(dir)).filter((l) => l.startsWith("f ") && l.includes("/blobs/"))).toHaveLength(2);
    expect((await readFile(join(model.snapshotDir, "m-Q4_K_M.gguf"))).equals(quantRepo["m-Q4_K_M.gguf"])).toBe(true);
  });

  it("lets explicit files win over the pick", async () => {
    const hub = await scope.hub({ repos: { "org/quants": { revisions: { main: { files: quantRepo } } } } });
    const model = await scope.cache(hub, await scope.tempDir()).pull({ repo: "org/quants", revision: "main", files: ["m-Q8_0.gguf"] }, { defaultFiles: defaultFilesFor("llama_cpp") });
    expect(model.files).toEqual(["m-Q8_0.gguf"]);
    expect(downloaded(hub)).toEqual(["m-Q8_0.gguf"]);
  });

  it("refuses a repo the pick cannot serve before downloading anything, with the reason", async () => {
    const hub = await scope.hub({ repos: { "org/safetensors": { revisions: { main: { files: { "model.safetensors": weights, "config.json": "{}" } } } } } });
    const pull = scope.cache(hub, await scope.tempDir()).pull({ repo: "org/safetensors", revision: "main", files: [] }, { defaultFiles: defaultFilesFor("llama_cpp") });
    await expect(pull).rejects.toBeInstanceOf(NoDefaultFilesError);
    await expect(pull).rejects.toThrow(
      "'org/safetensors' at revision 'main' cannot be pulled without 'files': it has no .gguf model file for llama-server (it has config.json, model.safetensors); register a GGUF repo, or name the files with 'files'",
    );
    expect(downloaded(hub)).toEqual([]);
  });

  it("picks the same way offline, among what is cached", async () => {
    const hub = await scope.hub({ repos: { "org/quants": { revisions: { main: { files: quantRepo } } } } });
    const dir = await scope.tempDir();
    await scope.cache(hub, dir).pull({ repo: "org/quants", revision: "main", files: ["*.gguf"] });
    await hub.close();
    const offline = scope.cache({ url: "http://127.0.0.1:9" }, dir, { offline: true });
    const model = await offline.pull({ repo: "org/quants", revision: "main", files: [] }, { defaultFiles: defaultFilesFor("llama_cpp") });
    expect(model.files).toEqual(["m-Q4_K_M.gguf", "mmproj-m-F16.gguf"]);
    // A corrupt file the pick leaves out does not stand in the way.
    await writeFile(join(model.snapshotDir, "..", "..", "blobs", hub.file("org/quants", "main", "m-Q2_K.gguf")!.etag), "garbage");
    expect((await offline.pull({ repo: "org/quants", revision: "main", files: [] }, { defaultFiles: defaultFilesFor("llama_cpp") })).files).toEqual(["m-Q4_K_M.gguf", "mmproj-m-F16.gguf"]);
    // Without a pick, offline takes every cached file, as before: the corrupt one fails it.
    await expect(offline.pull({ repo: "org/quants", revision: "main", files: [] })).rejects.toThrow(/'m-Q2_K\.gguf' (is|has)/);
    // And with nothing cached, the pick changes nothing about the offline error.
    await expect(offline.pull({ repo: "org/absent", revision: "main", files: [] }, { defaultFiles: defaultFilesFor("llama_cpp") })).rejects.toThrow(/revision 'main' was never pulled/);
  });
});
