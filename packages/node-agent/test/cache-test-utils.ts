import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, lstat, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { HfModelCache, type HfModelCacheOptions } from "../src/cache/model-cache.js";
import { createLogger } from "../src/logger.js";
import { startTestHub, type TestHub, type TestHubOptions } from "./fixtures/hub/hub-server.mjs";

export const PKG_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The cache commands as their own program (built JS; `pnpm build` first). */
export const CACHE_CLI = join(PKG_DIR, "dist", "cli", "cache-main.js");

/** Temp dirs and hubs made by a test, removed/closed by `cleanup()` in afterEach. */
export class Scope {
  private dirs: string[] = [];
  private hubs: TestHub[] = [];
  private caches: HfModelCache[] = [];
  private children: ChildProcess[] = [];

  async tmp(prefix = "omnigate-cache-"): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  async hub(options: TestHubOptions): Promise<TestHub> {
    const h = await startTestHub(options);
    this.hubs.push(h);
    return h;
  }

  /** A cache with fast retries (tests must not sleep seconds between attempts). */
  cache(hub: TestHub | { url: string }, cacheDir: string, overrides: Partial<HfModelCacheOptions> = {}): HfModelCache {
    const c = new HfModelCache({
      cacheDir,
      endpoint: hub.url,
      offline: false,
      concurrency: 2,
      timeoutMs: 2_000,
      retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 5_000 },
      lockStaleMs: 2_000,
      reserveBytes: 0,
      logger: createLogger("silent"),
      ...overrides,
    });
    this.caches.push(c);
    return c;
  }

  /** Runs the cache CLI; resolves with its exit code and output. */
  cli(args: string[], env: NodeJS.ProcessEnv): CliRun {
    const child = spawn(process.execPath, [CACHE_CLI, ...args], {
      env: { PATH: process.env.PATH, OMNIGATE_HUB_RETRY_BASE_MS: "20", OMNIGATE_CACHE_LOCK_STALE_MS: "2000", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.children.push(child);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((res) =>
      child.once("close", (code, signal) => res({ code, signal, stdout, stderr })),
    );
    return { child, done, output: () => ({ stdout, stderr }) };
  }

  async cleanup(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await Promise.all(this.children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once("close", r)) : undefined)));
    await Promise.all(this.caches.map((c) => c.close().catch(() => undefined)));
    await Promise.all(this.hubs.map((h) => h.close()));
    await Promise.all(this.dirs.map((d) => rm(d, { recursive: true, force: true })));
    this.children = [];
    this.caches = [];
    this.hubs = [];
    this.dirs = [];
  }
}

export interface CliRun {
  readonly child: ChildProcess;
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  output(): { stdout: string; stderr: string };
}

/** Every entry under `dir` as "f path", "d path" or "l path -> target", sorted (layout and debris assertions). */
export async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    const entries = await readdir(join(dir, rel)).catch(() => [] as string[]);
    for (const name of entries) {
      const path = rel ? `${rel}/${name}` : name;
      const s = await lstat(join(dir, path));
      if (s.isSymbolicLink()) out.push(`l ${path} -> ${await readlink(join(dir, path))}`);
      else if (s.isDirectory()) {
        out.push(`d ${path}`);
        await walk(path);
      } else out.push(`f ${path}`);
    }
  }
  await walk("");
  return out.sort();
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && (v as unknown) !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Deterministic pseudo-random bytes (content of test files). */
export function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}
