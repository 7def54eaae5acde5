#!/usr/bin/env node
// `pnpm bench:pull`: pulls a 1 GiB file from the local test hub with the agent's cache CLI (sha256
// verified while streaming) and, in the same run, downloads the same URL with `curl -o /dev/null`
// (the yardstick) and `curl -o <file>` on the cache's file system (the disk-bound ceiling),
// and runs each stage of the pull's data path alone (receive, +sha256, +write, +both) to show where
// the time goes. Prints throughputs, both ratios, CPU per GiB, the pull's peak RSS and the load
// average before and after; writes the "## Pull (issue 3)" section of BENCHMARKS.md.
// Goals: pull ≥ 0.8 × curl -o /dev/null, peak RSS ≤ 150 MiB. Run it under the machine's bench lock
// so no other benchmark shares the cores:
//
//   flock /tmp/omnigate-bench.lock npm run bench:pull
//   BENCH_SIZE_MIB=1024 BENCH_ROUNDS=3 BENCH_DIR=/tmp BENCH_WRITE=0 node packages/node-agent/bench/pull-bench.mjs
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeBenchSection } from "./bench-section.mjs";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const root = resolve(pkg, "..", "..");
// BENCH_CLI: another build of cache-main.js, to compare two versions of the pull on one box.
const cli = process.env.BENCH_CLI ? resolve(process.env.BENCH_CLI) : join(pkg, "dist", "cli", "cache-main.js");
const hubMain = join(root, "packages", "testkit", "hub", "main.mjs");
const stageClient = join(pkg, "bench", "pull-stage-client.mjs");
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

/** CPU seconds (user + sys) a process has used so far: for the hub, which runs all along. */
async function cpuOf(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

/**
 * Runs a command to completion under /usr/bin/time (when present) for its CPU and peak RSS, and
 * the hub's CPU over the same interval. Resolves { code, stdout, stderr, wall, user, sys, rss, hubCpu }.
 */
async function timed(cmd, args, env = process.env) {
  const timeFile = join(work, "time.txt");
  const argv = TIME ? [TIME, "-f", "%U %S %M", "-o", timeFile, cmd, ...args] : [cmd, ...args];
  const hub0 = await cpuOf(hub.child.pid);
  const started = performance.now();
  const child = spawn(argv[0], argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const stopRss = TIME ? undefined : watchPeakRss(child.pid);
  const code = await new Promise((r) => child.once("exit", r));
  const wall = (performance.now() - started) / 1000;
  const watched = stopRss?.();
  const hubCpu = (await cpuOf(hub.child.pid)) - hub0;
  const [user, sys, rssKb] = TIME ? (await readFile(timeFile, "utf8")).trim().split("\n").pop().split(" ").map(Number) : [NaN, NaN, NaN];
  return { code, stdout, stderr, wall, user, sys, rss: TIME ? rssKb * 1024 : watched, hubCpu };
}

/** Dirty pages of the previous contender would be written back during the next one: start clean. */
function settleDisk() {
  spawnSync("sync");
}

const show = (args) => args.map((a) => a.replace(root + "/", "")).map((a) => (/[ %']/.test(a) ? `'${a}'` : a)).join(" ");

async function runPull(hubUrl, cacheDir) {
  await rm(cacheDir, { recursive: true, force: true });
  settleDisk();
  const args = [cli, "pull", "bench/big", "--cache-dir", cacheDir];
  const r = await timed(process.execPath, args, { PATH: process.env.PATH, HF_ENDPOINT: hubUrl, LOG_LEVEL: "warn", OMNIGATE_CACHE_RESERVE_BYTES: "0" });
  if (r.code !== 0) throw new Error(`pull failed (${r.code}): ${r.stderr}`);
  // The CLI's own "… in N s": the pull itself, without Node's start-up and module loading.
  const own = /, [0-9.]+ [kMGT]?B in ([0-9.]+) s\)/.exec(r.stderr);
  if (!own) throw new Error(`pull printed no duration: ${r.stderr}`);
  await rm(cacheDir, { recursive: true, force: true });
  return { ...r, seconds: Number(own[1]), command: `HF_ENDPOINT=${hubUrl} node ${show(args)}` };
}

/** curl to /dev/null (the yardstick) or to a file on the cache's file system (the disk-bound ceiling). */
async function runCurl(url, out) {
  if (out !== "/dev/null") settleDisk();
  const args = ["-sS", "-L", "-o", out, "-w", "%{size_download} %{time_total}", url];
  const r = await timed("curl", args);
  if (r.code !== 0) throw new Error(`curl failed: ${r.stderr}`);
  const [bytes, seconds] = r.stdout.trim().split(" ").map(Number);
  if (bytes !== SIZE) throw new Error(`curl got ${bytes} bytes, expected ${SIZE}`);
  if (out !== "/dev/null") await rm(out, { force: true });
  return { ...r, seconds, command: `curl ${show(args)}` };
}

/** One stage of the pull's data path alone (pull-stage-client.mjs), on the same node:http stack. */
async function runStage(mode, url, out) {
  if (mode === "write" || mode === "all") settleDisk();
  const args = [stageClient, mode, url, ...(out ? [out] : [])];
  const r = await timed(process.execPath, args);
  if (r.code !== 0) throw new Error(`stage ${mode} failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split("\n").pop());
  if (j.bytes !== SIZE) throw new Error(`stage ${mode} got ${j.bytes} bytes`);
  if (out) await rm(out, { force: true });
  // The stage's own CPU from its first byte on: Node's start-up is not part of the data path.
  return { ...r, seconds: j.seconds, user: j.user, sys: j.sys, command: `node ${show(args)}` };
}

/**
 * sha256 of SIZE bytes already in memory, on one thread (Node's crypto: OpenSSL, SHA-NI where the
 * CPU has it): no client that hashes the stream it receives can go faster than this, whatever its
 * network and disk. Seconds for the whole size.
 */
function hashAloneSeconds() {
  const block = randomBytes(8 * MiB);
  const hash = createHash("sha256");
  const t0 = performance.now();
  for (let off = 0; off < SIZE; off += block.length) hash.update(block.subarray(0, Math.min(block.length, SIZE - off)));
  hash.digest();
  return (performance.now() - t0) / 1000;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mibps = (s) => SIZE / MiB / s;
const loadAvg = async () => (await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).join(" ");
/** CPU seconds per GiB moved, from a list of runs (median). */
const cpuPerGiB = (runs, key) => median(runs.map((r) => r[key])) / (SIZE / (1 << 30));
const fmtCpu = (runs) =>
  TIME ? `client ${cpuPerGiB(runs, "user").toFixed(2)} user + ${cpuPerGiB(runs, "sys").toFixed(2)} sys, hub ${cpuPerGiB(runs, "hubCpu").toFixed(2)} CPU-s/GiB` : `hub ${cpuPerGiB(runs, "hubCpu").toFixed(2)} CPU-s/GiB`;

const work = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), "omnigate-bench-pull-"));
let hub;
try {
  const loadBefore = await loadAvg();
  const fsOf = spawnSync("df", ["--output=source,fstype,target", work], { encoding: "utf8" }).stdout.trim().split("\n").pop().replace(/\s+/g, " ");
  console.log(`load average before: ${loadBefore}; generating a ${SIZE / MiB} MiB file in ${work} (${fsOf}) …`);
  const file = join(work, "big.bin");
  const sha256 = await makeFile(file);
  const spec = join(work, "spec.json");
  await writeFile(spec, JSON.stringify({ repos: { "bench/big": { revisions: { main: { files: { "big.bin": { path: file, sha256, lfs: true } } } } } } }));
  hub = await startHub(spec);
  const url = `${hub.url}/bench/big/resolve/main/big.bin`;
  const curlFile = join(work, "curl.bin");
  const stageFile = join(work, "stage.bin");
  await runCurl(url, "/dev/null"); // warm-up: page cache and the hub's JIT, for every contender alike

  // sha256sum of the served file (in the page cache): the hash alone, for reference.
  const sum = await timed("sha256sum", [file]);
  if (!sum.stdout.startsWith(sha256)) throw new Error(`sha256sum disagrees: ${sum.stdout}`);

  const runs = { curlNull: [], curlFile: [], recv: [], hash: [], write: [], all: [], pull: [], hashAlone: [] };
  for (let i = 0; i < ROUNDS; i++) {
    runs.curlNull.push(await runCurl(url, "/dev/null"));
    runs.curlFile.push(await runCurl(url, curlFile));
    for (const mode of ["recv", "hash", "write", "all"]) runs[mode].push(await runStage(mode, url, mode === "write" || mode === "all" ? stageFile : undefined));
    runs.pull.push(await runPull(hub.url, join(work, "cache")));
    runs.hashAlone.push({ seconds: hashAloneSeconds() });
    const r = (k) => mibps(runs[k][i].seconds).toFixed(0);
    console.log(
      `round ${i + 1}: curl→/dev/null ${r("curlNull")}, curl→file ${r("curlFile")}, node recv ${r("recv")}, +sha256 ${r("hash")}, +write ${r("write")}, +both ${r("all")}, pull ${r("pull")} MiB/s, sha256 alone ${r("hashAlone")} MiB/s; pull peak RSS ${(runs.pull[i].rss / MiB).toFixed(1)} MiB`,
    );
  }
  const loadAfter = await loadAvg();
  const rate = (k) => mibps(median(runs[k].map((x) => x.seconds)));
  const pullRate = rate("pull");
  const wallRate = mibps(median(runs.pull.map((p) => p.wall)));
  const peak = Math.max(...runs.pull.map((p) => p.rss)) / MiB;
  const vsNull = pullRate / rate("curlNull");
  const vsFile = pullRate / rate("curlFile");
  const verdict = (ok) => (ok ? "meets the goal" : "MISSES the goal");
  const lines = [
    `file: ${SIZE / MiB} MiB, local test hub (302 to its CDN origin), ${ROUNDS} rounds, medians; work dir on ${fsOf}; \`sync\` before every contender that writes`,
    `curl -o /dev/null: ${rate("curlNull").toFixed(0)} MiB/s (${fmtCpu(runs.curlNull)})`,
    `curl -o <file next to the cache>: ${rate("curlFile").toFixed(0)} MiB/s (${fmtCpu(runs.curlFile)}): the disk-bound ceiling for any client that keeps the bytes`,
    `omnigate pull (sha256 on, written to disk): ${pullRate.toFixed(0)} MiB/s as timed by the CLI (revision, tree, HEAD, download, verify, link); ${wallRate.toFixed(0)} MiB/s over the whole process incl. Node start-up (${fmtCpu(runs.pull)})`,
    `ratio pull / curl -o /dev/null (the issue's figure): ${vsNull.toFixed(2)} (goal ≥ 0.80: ${verdict(vsNull >= 0.8)})`,
    `ratio pull / curl -o file (same disk): ${vsFile.toFixed(2)}`,
    `ceilings for any client that verifies and keeps the bytes, as ratios to curl -o /dev/null: sha256 alone of ${SIZE / MiB} MiB in memory on one thread ${rate("hashAlone").toFixed(0)} MiB/s = ${(rate("hashAlone") / rate("curlNull")).toFixed(2)} (sha256 is sequential: one stream cannot hash faster); curl -o file ${(rate("curlFile") / rate("curlNull")).toFixed(2)}; node:http receive + sha256 + write with nothing around it (stage "+both") ${(rate("all") / rate("curlNull")).toFixed(2)}`,
    `pull peak RSS: ${peak.toFixed(1)} MiB (goal ≤ 150 MiB: ${verdict(peak <= 150)})`,
    `stages alone, node:http like the pull: receive ${rate("recv").toFixed(0)} MiB/s (${fmtCpu(runs.recv)}); + sha256 ${rate("hash").toFixed(0)} (${fmtCpu(runs.hash)}); + write ${rate("write").toFixed(0)} (${fmtCpu(runs.write)}); + sha256 + write ${rate("all").toFixed(0)} MiB/s (${fmtCpu(runs.all)})`,
    `sha256sum of the file from the page cache: ${mibps(sum.wall).toFixed(0)} MiB/s (coreutils; Node's sha256 uses SHA-NI and is faster)`,
    `load average: ${loadBefore} before, ${loadAfter} after; ${spawnSync("nproc", { encoding: "utf8" }).stdout.trim()} cores shared by the hub process and the client; Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
  ];
  const commands = [runs.curlNull[0].command, runs.curlFile[0].command, ...["recv", "hash", "write", "all"].map((k) => runs[k][0].command), runs.pull[0].command, `sha256sum ${file}`];
  console.log(`\n${lines.join("\n")}\n\ncommands:\n  ${commands.join("\n  ")}`);

  await writeBenchSection(root, "Pull (issue 3)", {
    intro: [
      "`pnpm bench:pull` (packages/node-agent/bench/pull-bench.mjs). Each round downloads the same file",
      "from the same local test hub with curl (to /dev/null and to a file), with each stage of the pull's",
      "data path alone (pull-stage-client.mjs) and with the agent's cache CLI, which hashes sha256 while",
      "streaming, writes the blob, checks size and hash and renames it into place. CPU from /usr/bin/time.",
    ],
    lines: lines.map((l) => `- ${l}`),
    commands,
  });
} finally {
  hub?.child.kill("SIGTERM");
  await rm(work, { recursive: true, force: true });
}
