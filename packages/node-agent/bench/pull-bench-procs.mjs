// Processes for pull-bench.mjs: the test hub, timed contenders (CPU and peak RSS), the test file.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";

const MiB = 1024 * 1024;

/** The test file: random 8 MiB blocks (incompressible), hashed as written. */
export async function makeFile(path, size) {
  const block = randomBytes(8 * MiB);
  const hash = createHash("sha256");
  const fh = await open(path, "w");
  for (let off = 0; off < size; off += block.length) {
    block.writeUInt32LE(off / block.length, 0); // every block differs
    const part = block.subarray(0, Math.min(block.length, size - off));
    hash.update(part);
    await fh.write(part);
  }
  await fh.close();
  return hash.digest("hex");
}

/** The test hub as its own process (so its CPU is its own); resolves { child, url, cdnUrl, admin }. */
export function startHub(hubMain, specPath) {
  const child = spawn(process.execPath, [hubMain, "--spec", specPath], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolveHub, reject) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      if (!buf.includes("\n")) return;
      const { url, cdnUrl } = JSON.parse(buf.split("\n")[0]);
      const admin = async (method, path, body) => {
        const res = await fetch(`${url}/_admin/${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
        return res.json();
      };
      resolveHub({ child, url, cdnUrl, admin });
    });
    child.once("exit", (code) => reject(new Error(`hub exited ${code}`)));
  });
}

/** Peak RSS (VmHWM) of a running process, sampled until it exits: when there is no /usr/bin/time. */
function watchPeakRss(pid) {
  let peak = 0;
  const timer = setInterval(async () => {
    const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    if (m) peak = Math.max(peak, Number(m[1]) * 1024);
  }, 20);
  return () => (clearInterval(timer), peak);
}

const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
const TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
export const measuresCpu = TIME !== undefined;

/** CPU seconds (user + sys) a process has used so far: for the hub, which runs all along. */
async function cpuOf(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

/**
 * Starts a contender under /usr/bin/time (when present) for its CPU and peak RSS. Returns
 * { child, done } where done resolves { code, signal, stdout, stderr, wall, user, sys, rss, hubCpu }
 * (the hub's CPU over the same interval).
 */
export function startTimed(work, hubPid, cmd, args, env = process.env) {
  const timeFile = join(work, `time-${Math.random().toString(36).slice(2)}.txt`);
  const argv = TIME ? [TIME, "-f", "%U %S %M", "-o", timeFile, cmd, ...args] : [cmd, ...args];
  const hub0 = cpuOf(hubPid);
  const started = performance.now();
  const child = spawn(argv[0], argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const stopRss = TIME ? undefined : watchPeakRss(child.pid);
  const done = (async () => {
    const [code, signal] = await new Promise((r) => child.once("exit", (c, s) => r([c, s])));
    const wall = (performance.now() - started) / 1000;
    const watched = stopRss?.();
    const hubCpu = (await cpuOf(hubPid)) - (await hub0);
    const timeText = TIME ? await readFile(timeFile, "utf8").catch(() => "") : "";
    const [user, sys, rssKb] = timeText ? timeText.trim().split("\n").pop().split(" ").map(Number) : [NaN, NaN, NaN];
    return { code, signal, stdout, stderr, wall, user, sys, rss: TIME ? rssKb * 1024 : watched, hubCpu };
  })();
  return { child, done };
}

export const timed = (...args) => startTimed(...args).done;

/** Dirty pages of the previous contender would be written back during the next one: start clean. */
export function settleDisk() {
  spawnSync("sync");
}
