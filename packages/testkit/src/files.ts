import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";

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
