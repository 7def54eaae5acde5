#!/usr/bin/env node
// `pnpm bench:pull`: pulls a 1 GiB file from the local test hub with the agent's cache CLI (sha256
// verified while streaming) and downloads the same URL with `curl -o /dev/null` in the same run.
// Prints both throughputs, their ratio and the pull process's peak RSS; writes the
// "## Pull (issue 3)" section of BENCHMARKS.md. Goals: ratio ≥ 0.8, peak RSS ≤ 150 MiB.
//
//   BENCH_SIZE_MIB=1024 BENCH_ROUNDS=3 node packages/node-agent/bench/pull-bench.mjs
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const root = resolve(pkg, "..", "..");
const cli = join(pkg, "dist", "cli", "cache-main.js");
const hubMain = join(pkg, "test", "fixtures", "hub", "main.mjs");
const SIZE = Number(process.env.BENCH_SIZE_MIB ?? 1024) * 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const MiB = 1024 * 1024;

if (!existsSync(cli)) {
  console.error(`${cli} is missing: run pnpm build first`);
  process.exit(1);
}

/** The test file: random 8 MiB blocks (incompressible), hashed as written. */
async function makeFile(path) {
  const block = randomBytes(8 * MiB);
  const hash = createHash("sha256");
  const fh = await open(path, "w");
  for (let off = 0; off < SIZE; off += block.length) {
    block.writeUInt32LE(off / block.length, 0); // every block differs
    const part = block.subarray(0, Math.min(block.length, SIZE - off));
    hash.update(part);
    await fh.write(part);
  }
  await fh.close();
  return hash.digest("hex");
}

function startHub(specPath) {
  const child = spawn(process.execPath, [hubMain, "--spec", specPath], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolveUrl, reject) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const line = buf.split("\n")[0];
      if (buf.includes("\n")) resolveUrl({ child, ...JSON.parse(line) });
    });
    child.once("exit", (code) => reject(new Error(`hub exited ${code}`)));
  });
}

/** Peak RSS (VmHWM) of a running process, sampled until it exits. */
function watchPeakRss(pid) {
  let peak = 0;
  const timer = setInterval(async () => {
    const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    if (m) peak = Math.max(peak, Number(m[1]) * 1024);
  }, 20);
  return () => (clearInterval(timer), peak);
}

async function runPull(hubUrl, cacheDir) {
  await rm(cacheDir, { recursive: true, force: true });
  const args = [cli, "pull", "bench/big", "--cache-dir", cacheDir];
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH, HF_ENDPOINT: hubUrl, LOG_LEVEL: "warn", OMNIGATE_CACHE_RESERVE_BYTES: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stopRss = watchPeakRss(child.pid);
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise((r) => child.once("exit", r));
  const seconds = (performance.now() - started) / 1000;
  const peak = stopRss();
  if (code !== 0) throw new Error(`pull failed (${code}): ${stderr}`);
  // The CLI's own "… in N s": the pull itself, without Node's start-up and module loading.
  const own = /, [0-9.]+ [kMGT]?B in ([0-9.]+) s\)/.exec(stderr);
  if (!own) throw new Error(`pull printed no duration: ${stderr}`);
  return { seconds, pullSeconds: Number(own[1]), peak, command: `HF_ENDPOINT=${hubUrl} node ${args.map((a) => a.replace(root + "/", "")).join(" ")}` };
}

function runCurl(url) {
  const args = ["-sS", "-L", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", url];
  const r = spawnSync("curl", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`curl failed: ${r.stderr}`);
  const [bytes, seconds] = r.stdout.trim().split(" ").map(Number);
  if (bytes !== SIZE) throw new Error(`curl got ${bytes} bytes, expected ${SIZE}`);
  return { seconds, command: `curl ${args.map((a) => (a.includes(" ") || a.includes("%") ? `'${a}'` : a)).join(" ")}` };
}

/**
 * Context, not a contender: how fast a bare Node client (node:http, the same stack the pull uses,
 * no hashing, no disk) drains the URL. The pull cannot beat it; curl is not bound by it.
 */
function runNodeDrain(url) {
  const script = `
    const http = require("node:http");
    const get = (u) => http.get(u, (r) => {
      if (r.statusCode >= 300 && r.statusCode < 400) { r.resume(); return get(new URL(r.headers.location, u).href); }
      const t0 = performance.now(); let n = 0;
      r.on("data", (c) => { n += c.length; });
      r.on("end", () => console.log(n, (performance.now() - t0) / 1000));
    });
    get(process.argv[1]);`;
  const r = spawnSync(process.execPath, ["-e", script, url], { encoding: "utf8" });
  const [bytes, seconds] = r.stdout.trim().split(" ").map(Number);
  if (bytes !== SIZE) throw new Error(`node drain got ${bytes} bytes: ${r.stderr}`);
  return { seconds };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mibps = (s) => SIZE / MiB / s;

const work = await mkdtemp(join(tmpdir(), "omnigate-bench-pull-"));
let hub;
try {
  console.log(`generating a ${SIZE / MiB} MiB file in ${work} …`);
  const file = join(work, "big.bin");
  const sha256 = await makeFile(file);
  const spec = join(work, "spec.json");
  await writeFile(spec, JSON.stringify({ repos: { "bench/big": { revisions: { main: { files: { "big.bin": { path: file, sha256, lfs: true } } } } } } }));
  hub = await startHub(spec);
  const url = `${hub.url}/bench/big/resolve/main/big.bin`;
  runCurl(url); // warm-up: page cache and the hub's JIT, for both contenders alike

  const curls = [];
  const pulls = [];
  const drains = [];
  for (let i = 0; i < ROUNDS; i++) {
    curls.push(runCurl(url));
    drains.push(runNodeDrain(url));
    pulls.push(await runPull(hub.url, join(work, "cache")));
    const p = pulls[i];
    console.log(`round ${i + 1}: curl ${mibps(curls[i].seconds).toFixed(0)} MiB/s, bare node:http drain ${mibps(drains[i].seconds).toFixed(0)} MiB/s, pull ${mibps(p.pullSeconds).toFixed(0)} MiB/s (${mibps(p.seconds).toFixed(0)} MiB/s process wall clock), pull peak RSS ${(p.peak / MiB).toFixed(1)} MiB`);
  }
  const curlRate = mibps(median(curls.map((c) => c.seconds)));
  const pullRate = mibps(median(pulls.map((p) => p.pullSeconds)));
  const wallRate = mibps(median(pulls.map((p) => p.seconds)));
  const peak = Math.max(...pulls.map((p) => p.peak)) / MiB;
  const ratio = pullRate / curlRate;
  const verdict = (ok) => (ok ? "meets the goal" : "MISSES the goal");
  const lines = [
    `file: ${SIZE / MiB} MiB, local test hub (302 to its CDN origin), ${ROUNDS} rounds, medians`,
    `curl -o /dev/null: ${curlRate.toFixed(0)} MiB/s`,
    `omnigate pull (sha256 on, written to disk): ${pullRate.toFixed(0)} MiB/s as timed by the CLI (revision, tree, HEAD, download, verify, link); ${wallRate.toFixed(0)} MiB/s over the whole process incl. Node start-up`,
    `ratio pull/curl: ${ratio.toFixed(2)} (goal ≥ 0.80: ${verdict(ratio >= 0.8)}); whole process: ${(wallRate / curlRate).toFixed(2)}`,
    `for context, a bare node:http client draining the same URL (no hash, no disk): ${mibps(median(drains.map((d) => d.seconds))).toFixed(0)} MiB/s`,
    `pull peak RSS (VmHWM): ${peak.toFixed(1)} MiB (goal ≤ 150 MiB: ${verdict(peak <= 150)})`,
  ];
  console.log(`\n${lines.join("\n")}\n\ncommands:\n  ${curls[0].command}\n  ${pulls[0].command}`);

  const loadAvg = (await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).join(" ");
  const section = [
    "## Pull (issue 3)",
    "",
    "`pnpm bench:pull` (packages/node-agent/bench/pull-bench.mjs). Each round downloads the same file",
    "with curl and with the agent's cache CLI from the same local test hub; the pull hashes sha256 while",
    "streaming, checks the size and renames the blob into place.",
    "",
    ...lines.map((l) => `- ${l}`),
    `- machine: ${spawnSync("nproc", { encoding: "utf8" }).stdout.trim()} cores shared by the hub process, the pull (main + writer thread) or curl, and other work (load average ${loadAvg} at the end of the run), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
    "- curl writes to /dev/null; the pull hashes every byte and writes it to disk, so it needs several times curl's CPU per byte: on a CPU-starved box the ratio measures CPU, not the network",
    "",
    "```",
    curls[0].command,
    pulls[0].command,
    "```",
    "",
  ].join("\n");
  const benchFile = join(root, "BENCHMARKS.md");
  const current = existsSync(benchFile) ? await readFile(benchFile, "utf8") : "# Benchmarks\n\n";
  const re = /## Pull \(issue 3\)\n[\s\S]*?(?=\n## |$)/;
  const next = re.test(current) ? current.replace(re, section.trimEnd() + "\n") : `${current.trimEnd()}\n\n${section}`;
  await writeFile(benchFile, next.endsWith("\n") ? next : `${next}\n`);
  console.log(`\nwrote the "Pull (issue 3)" section of ${benchFile}`);
} finally {
  hub?.child.kill("SIGTERM");
  await rm(work, { recursive: true, force: true });
}
