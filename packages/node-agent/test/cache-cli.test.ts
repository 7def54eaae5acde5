import { existsSync } from "node:fs";
import { open, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildTinyLlamaGguf } from "@omnigate/testkit/gguf-writer";
import { waitFor } from "@omnigate/testkit/wait";
import { CACHE_CLI, CacheScope, bytes, tree } from "./cache-test-utils.js";

/**
 * The cache commands as separate processes (dist/cli/cache-main.js, built by `pnpm build`): what
 * ops run to pre-pull a box, and the crash/concurrency cases only real processes can show.
 */
const scope = new CacheScope();
afterEach(() => scope.cleanup());
beforeAll(() => {
  if (!existsSync(CACHE_CLI)) throw new Error(`${CACHE_CLI} is missing: run pnpm build first`);
});

const big = bytes(3_000_000, 11);
const repos = {
  "org/m": { revisions: { main: { files: { "big.bin": big, "config.json": '{"a":1}', "sub/t.txt": "tok" } } } },
  "org/private": { private: true, revisions: { main: { files: { "w.bin": bytes(20_000, 2) } } } },
};

async function env(hubUrl: string, extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
  const home = await scope.tempDir("omnigate-hfhome-");
  return { HF_ENDPOINT: hubUrl, HF_HOME: home, HF_HUB_CACHE: join(home, "hub"), ...extra };
}

describe("pnpm agent pull / verify / rm", () => {
  it("pull prints each file's local path, plain progress lines off a TTY, exit 0", async () => {
    const hub = await scope.hub({ repos });
    const e = await env(hub.url);
    const r = await scope.cli(["pull", "org/m"], e).result();
    expect(r.stderr).toMatch(/pull org\/m: 100\.0% \(3\.0 MB of 3\.0 MB/);
    expect(r.code).toBe(0);
    const snap = join(e.HF_HUB_CACHE!, "models--org--m", "snapshots", hub.commit("org/m", "main")!);
    expect(r.stdout.trim().split("\n")).toEqual([join(snap, "big.bin"), join(snap, "config.json"), join(snap, "sub/t.txt")]);
    expect((await readFile(join(snap, "big.bin"))).equals(big)).toBe(true);
  });

  it("pull takes --file globs, --revision and --cache-dir", async () => {
    const hub = await scope.hub({ repos });
    const dir = await scope.tempDir();
    const r = await scope.cli(["pull", "org/m", "--file", "*.json", "--file", "sub/*", "--revision", "main", "--cache-dir", dir], await env(hub.url)).result();
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").map((l) => l.slice(l.lastIndexOf("/snapshots/") + 52))).toEqual(["config.json", "sub/t.txt"]);
    expect(existsSync(join(dir, "models--org--m"))).toBe(true);
  });

  it("pull --runtime llama_cpp takes what the agent would: one quantization of a GGUF repo", async () => {
    const quants = { "m-Q8_0.gguf": buildTinyLlamaGguf({ seed: 1 }), "m-Q4_K_M.gguf": buildTinyLlamaGguf({ seed: 2 }), "README.md": "# m" };
    const hub = await scope.hub({ repos: { "org/quants": { revisions: { main: { files: quants } } } } });
    const e = await env(hub.url);
    const r = await scope.cli(["pull", "org/quants", "--runtime", "llama_cpp"], e).result();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n").map((l) => l.slice(l.lastIndexOf("/") + 1))).toEqual(["m-Q4_K_M.gguf"]);
    const bad = await scope.cli(["pull", "org/quants", "--runtime", "vllm"], e).result();
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("error: --runtime must be one of llama_cpp, whisper, stable_diffusion, onnx_runtime, not 'vllm'");
  });

  it("pull exits non-zero with the reason", async () => {
    const hub = await scope.hub({ repos });
    const e = await env(hub.url);
    const missing = await scope.cli(["pull", "org/nope"], e).result();
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`error: repository 'org/nope' not found on ${hub.url}, or it is private`);
    const hostile = await scope.cli(["pull", "org/m", "--file", "../../etc/passwd"], e).result();
    expect(hostile.code).toBe(1);
    expect(hostile.stderr).toContain(`error: file pattern "../../etc/passwd" refused: it contains a '.' or '..' segment`);
    const badEnv = await scope.cli(["pull", "org/m"], { ...e, OMNIGATE_DOWNLOAD_CONCURRENCY: "zero" }).result();
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain("OMNIGATE_DOWNLOAD_CONCURRENCY");
    const badChunk = await scope.cli(["pull", "org/m"], { ...e, OMNIGATE_DOWNLOAD_CHUNK_BYTES: "1000", OMNIGATE_DOWNLOAD_CONNECTIONS: "0" }).result();
    expect(badChunk.code).toBe(2);
    expect(badChunk.stderr).toContain("OMNIGATE_DOWNLOAD_CHUNK_BYTES");
    expect(badChunk.stderr).toContain("OMNIGATE_DOWNLOAD_CONNECTIONS");
  });

  it("reads the token from $HF_HOME/token and sends it to the hub only", async () => {
    const hub = await scope.hub({ repos, token: "hf_filetoken" });
    const e = await env(hub.url);
    expect((await scope.cli(["pull", "org/private"], e).result()).code).toBe(1);
    await writeFile(join(e.HF_HOME!, "token"), "hf_filetoken\n");
    hub.clearLog();
    const r = await scope.cli(["pull", "org/private"], e).result();
    expect(r.code).toBe(0);
    expect(hub.log.filter((x) => x.server === "cdn").every((x) => !x.auth)).toBe(true);
    expect(hub.log.filter((x) => x.server === "hub").every((x) => x.auth)).toBe(true);
  });

  it("serves a cached model with HF_HUB_OFFLINE=1 and no request", async () => {
    const hub = await scope.hub({ repos });
    const e = await env(hub.url);
    const online = await scope.cli(["pull", "org/m"], e).result();
    hub.clearLog();
    const offline = await scope.cli(["pull", "org/m"], { ...e, HF_HUB_OFFLINE: "1" }).result();
    expect(offline.code).toBe(0);
    expect(offline.stdout).toBe(online.stdout);
    expect(hub.log).toEqual([]);
    const missing = await scope.cli(["pull", "org/private"], { ...e, HF_HUB_OFFLINE: "1" }).result();
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("HF_HUB_OFFLINE=1: pull it while online");
  });

  it("verify reports a corrupt file, --fix removes it, the next pull restores it; rm clears the repo", async () => {
    const hub = await scope.hub({ repos });
    const e = await env(hub.url);
    expect((await scope.cli(["pull", "org/m"], e).result()).code).toBe(0);
    const good = await scope.cli(["verify"], e).result();
    expect(good.code).toBe(0);
    expect(good.stderr).toContain("checked 3 files");
    expect(good.stdout).toMatch(/^ok {7}org\/m@[0-9a-f]{10} big\.bin$/m);

    const blob = join(e.HF_HUB_CACHE!, "models--org--m", "blobs", hub.file("org/m", "main", "big.bin")!.etag);
    const fh = await open(blob, "r+");
    await fh.write(Buffer.from("XX"), 0, 2, 1000);
    await fh.close();
    const bad = await scope.cli(["verify", "org/m"], e).result();
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^CORRUPT {2}org\/m@[0-9a-f]{10} big\.bin: 'big\.bin' has sha256 [0-9a-f]{64}, expected [0-9a-f]{64}$/m);
    const fixed = await scope.cli(["verify", "org/m", "--fix"], e).result();
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toMatch(/^removed {2}org\/m@[0-9a-f]{10} big\.bin/m);
    expect(existsSync(blob)).toBe(false);
    expect((await scope.cli(["verify"], e).result()).stderr).toContain("checked 2 files");

    expect((await scope.cli(["pull", "org/m"], e).result()).code).toBe(0);
    expect((await readFile(blob)).equals(big)).toBe(true);

    const rm = await scope.cli(["rm", "org/m"], e).result();
    expect(rm.code).toBe(0);
    expect(rm.stderr).toContain(`removed org/m from ${e.HF_HUB_CACHE}`);
    expect(await tree(e.HF_HUB_CACHE!)).toEqual([]);
    expect((await scope.cli(["rm", "org/m"], e).result()).stderr).toContain("org/m is not in");
  });
});

describe("processes sharing one cache", () => {
  it("a pull SIGKILLed mid-file is resumed by the next process, which fetches only the missing bytes", async () => {
    const hub = await scope.hub({ repos });
    const e = await env(hub.url);
    const etag = hub.file("org/m", "main", "big.bin")!.etag;
    const incomplete = join(e.HF_HUB_CACHE!, "models--org--m", "blobs", `${etag}.incomplete`);
    hub.addRule({ stage: "bytes", path: "big.bin", stallAfter: 1_200_000, times: 1 });

    const first = scope.cli(["pull", "org/m", "--file", "big.bin"], { ...e, OMNIGATE_HUB_TIMEOUT_MS: "60000" });
    const have = await waitFor(
      async () => {
        const s = await stat(incomplete).catch(() => undefined);
        return s && s.size >= 1_200_000 ? s.size : undefined;
      },
      { what: "partial download on disk", timeoutMs: 15_000 },
    );
    await first.kill();
    expect((await first.result()).signal).toBe("SIGKILL");
    expect((await stat(incomplete)).size).toBe(have);

    // The dead process's lock is still on disk; the new one takes it over once stale (2 s here).
    const second = await scope.cli(["pull", "org/m", "--file", "big.bin"], e).result();
    expect(second.stderr).not.toContain("error");
    expect(second.code).toBe(0);
    const g = hub.log.filter((x) => x.server === "cdn" && x.method === "GET");
    expect(g.map((x) => x.range)).toEqual([null, `bytes=${have}-`]);
    expect(g[1]!.bytesSent).toBe(big.length - have);
    const snap = join(e.HF_HUB_CACHE!, "models--org--m", "snapshots", hub.commit("org/m", "main")!);
    expect((await readFile(join(snap, "big.bin"))).equals(big)).toBe(true);
  }, 60_000);

  it("two processes pulling the same model at once download each blob once and both succeed", async () => {
    const hub = await scope.hub({ repos });
    hub.addRule({ stage: "bytes", path: "big.bin", bytesPerSec: 2_000_000 });
    const e = await env(hub.url);
    const [a, b] = await Promise.all([scope.cli(["pull", "org/m"], e).result(), scope.cli(["pull", "org/m"], e).result()]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(a.stdout).toBe(b.stdout);
    expect(hub.log.filter((x) => x.server === "cdn" && x.method === "GET")).toHaveLength(1);
    for (const path of ["config.json", "sub/t.txt"]) {
      expect(hub.log.filter((x) => x.stage === "get" && x.path === path)).toHaveLength(1);
    }
    const snap = join(e.HF_HUB_CACHE!, "models--org--m", "snapshots", hub.commit("org/m", "main")!);
    expect((await readFile(join(snap, "big.bin"))).equals(big)).toBe(true);
  }, 60_000);

  describe("a big file in parallel ranges", () => {
    const KiB = 1024;
    const CHUNK = 256 * KiB;
    const huge = bytes(6 * 1024 * KiB + 777, 31);
    const hugeRepos = { "org/huge": { revisions: { main: { files: { "huge.bin": huge } } } } };
    const ranged = { OMNIGATE_DOWNLOAD_PARALLEL_MIN_BYTES: String(1024 * KiB), OMNIGATE_DOWNLOAD_CHUNK_BYTES: String(CHUNK), OMNIGATE_DOWNLOAD_CONNECTIONS: "4" };
    const rangeOf = (h: string | null): [number, number] => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(h ?? "");
      return m ? [Number(m[1]), Number(m[2]) + 1] : [0, huge.length];
    };

    it("SIGKILLed mid-pull, the next process fetches only the chunks the map does not hold", async () => {
      const hub = await scope.hub({ repos: hugeRepos, connectionBytesPerSec: 1_000_000 });
      const e = await env(hub.url, ranged);
      const etag = hub.file("org/huge", "main", "huge.bin")!.etag;
      const map = join(e.HF_HUB_CACHE!, "models--org--huge", "blobs", `${etag}.incomplete.chunks`);
      const recorded = async (): Promise<Array<[number, number]>> => {
        const text = await readFile(map, "utf8").catch(() => undefined);
        return text ? (JSON.parse(text) as { written: Array<[number, number]> }).written : [];
      };
      const first = scope.cli(["pull", "org/huge"], e);
      await waitFor(async () => (await recorded()).reduce((n, [s, t]) => n + t - s, 0) >= 0.6 * huge.length, {
        what: "60 % of the file recorded in the chunk map",
        timeoutMs: 60_000,
      });
      await first.kill();
      expect((await first.result()).signal).toBe("SIGKILL");
      const kept = await recorded();
      const firstBytes = hub.served({ path: "huge.bin" }).bytes;
      const firstRequests = hub.log.length;

      hub.setLimits({ connectionBytesPerSec: 0 });
      // The dead process's lock is still on disk; the new one takes it over once stale (2 s here).
      const second = await scope.cli(["pull", "org/huge"], e).result();
      expect(second.code, second.stderr).toBe(0);
      const snap = join(e.HF_HUB_CACHE!, "models--org--huge", "snapshots", hub.commit("org/huge", "main")!);
      expect((await readFile(join(snap, "huge.bin"))).equals(huge)).toBe(true);

      const again = hub.log.slice(firstRequests).filter((x) => x.server === "cdn" && x.method === "GET");
      // No range of the second process overlaps what the map recorded as on disk.
      for (const [s, t] of again.map((x) => rangeOf(x.range))) {
        for (const [ks, kt] of kept) expect(t <= ks || s >= kt, `refetched ${s}-${t} inside ${ks}-${kt}`).toBe(true);
      }
      // What was sent twice: at most what was in flight, one chunk per connection.
      const secondBytes = hub.served({ path: "huge.bin" }).bytes - firstBytes;
      expect(firstBytes + secondBytes - huge.length).toBeLessThanOrEqual(4 * CHUNK);
      expect(await tree(join(e.HF_HUB_CACHE!, "models--org--huge", "blobs"))).toEqual([`f ${etag}`]);
    }, 120_000);

    it("two processes pulling it at once: one downloads, the other waits and shares it", async () => {
      const hub = await scope.hub({ repos: hugeRepos, connectionBytesPerSec: 2_000_000 });
      const e = await env(hub.url, ranged);
      const [a, b] = await Promise.all([scope.cli(["pull", "org/huge"], e).result(), scope.cli(["pull", "org/huge"], e).result()]);
      expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
      expect(a.stdout).toBe(b.stdout);
      expect(hub.served({ path: "huge.bin" }).bytes).toBe(huge.length);
      expect(hub.log.filter((x) => x.stage === "head")).toHaveLength(1);
      const snap = join(e.HF_HUB_CACHE!, "models--org--huge", "snapshots", hub.commit("org/huge", "main")!);
      expect((await readFile(join(snap, "huge.bin"))).equals(huge)).toBe(true);
    }, 60_000);
  });
});
