import { readdir, readFile, stat } from "node:fs/promises";
import { freemem, totalmem } from "node:os";
import { join } from "node:path";
import type { CachedSnapshot, NodeCapacity } from "@omnigate/shared/node-protocol";
import { freeBytes } from "./cache/disk-space.js";

const MIB = 1024 * 1024;
/** The heartbeat schema's bound on files per snapshot. */
const MAX_FILES = 4096;

/** MemAvailable (what the kernel could give without swapping); Node's freemem() counts the page cache as used. */
async function availableMemory(): Promise<number> {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(await readFile("/proc/meminfo", "utf8"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: fall through
  }
  return freemem();
}

/**
 * The snapshots in a Hugging Face cache folder and the files each holds (complete ones: a link
 * whose blob is still downloading does not resolve). `models--org--name/snapshots/<commit>/…`.
 */
export async function scanCache(cacheDir: string): Promise<CachedSnapshot[]> {
  const out: CachedSnapshot[] = [];
  let repos: string[];
  try {
    repos = (await readdir(cacheDir)).filter((d) => d.startsWith("models--")).sort();
  } catch {
    return out;
  }
  for (const folder of repos) {
    const repo = folder.slice("models--".length).replace("--", "/");
    const snapshots = join(cacheDir, folder, "snapshots");
    let commits: string[];
    try {
      commits = (await readdir(snapshots)).filter((c) => /^[0-9a-f]{40}$/.test(c)).sort();
    } catch {
      continue;
    }
    for (const commit of commits) {
      const files: string[] = [];
      await walk(join(snapshots, commit), "", files);
      if (files.length > 0) out.push({ repo, commit, files: files.sort() });
      if (out.length >= 1024) return out;
    }
  }
  return out;
}

async function walk(dir: string, prefix: string, files: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (files.length >= MAX_FILES) return;
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) await walk(join(dir, e.name), rel, files);
    else if (await stat(join(dir, e.name)).then((s) => s.isFile(), () => false)) files.push(rel);
  }
}

/**
 * What the node reports for placement — memory, free disk in the cache, the cached snapshots —
 * refreshed in the background at most every `maxAgeMs`, so building a heartbeat never waits on a
 * disk scan.
 */
export class NodeCapacityProbe {
  #capacity: NodeCapacity | undefined;
  #cached: CachedSnapshot[] = [];
  #probedAt = 0;
  #probing: Promise<void> | undefined;

  constructor(
    private readonly cacheDir: string,
    private readonly reservedMib: number,
    private readonly maxAgeMs = 10_000,
  ) {}

  /** Measures now and waits (agent start; after a model's files arrive or leave). */
  async refresh(): Promise<void> {
    this.#probing ??= (async () => {
      const [available, disk, cached] = await Promise.all([
        availableMemory(),
        freeBytes(this.cacheDir).catch(() => null),
        scanCache(this.cacheDir),
      ]);
      this.#capacity = {
        memory_total_mib: Math.floor(totalmem() / MIB),
        memory_available_mib: Math.floor(available / MIB),
        disk_free_mib: disk === null ? null : Math.floor(disk / MIB),
        reserved_mib: this.reservedMib,
      };
      this.#cached = cached;
    })().finally(() => {
      this.#probedAt = Date.now();
      this.#probing = undefined;
    });
    await this.#probing;
  }

  /** The last measurement; starts a background refresh when stale. */
  current(): { capacity: NodeCapacity | undefined; cached: CachedSnapshot[] } {
    if (Date.now() - this.#probedAt > this.maxAgeMs) void this.refresh().catch(() => undefined);
    return { capacity: this.#capacity, cached: this.#cached };
  }
}
