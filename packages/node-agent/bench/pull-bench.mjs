#!/usr/bin/env node
// `pnpm bench:pull`: the agent's pull of a 1 GiB file from the local test hub, side by side with
// curl in one run, in three settings:
//   1. local, uncapped: pull (8 connections, and 1) vs `curl -o <file>` on the same disk, with the
//      floors: curl -o /dev/null, sha256 alone, each stage of the data path alone, and the three
//      ways to hash parallel ranges (none, after the download, on the hashing thread).
//   2. a hub that caps each connection (as a CDN does): pull with 8 connections vs single-stream
//      curl under the same cap, and vs min(link, 8 × cap), the link being curl -o /dev/null uncapped.
//   3. a pull SIGKILLed at 60 % of the file, then pulled again: bytes the hub sent twice.
// Prints throughputs, ratios against the goals, CPU per GiB, the pull's peak RSS and the load
// average; writes the "## Pull" section of BENCHMARKS.md (packages/testkit/bench/bench-section.mjs). Run it under the
// machine's bench lock:
//
//   flock /tmp/omnigate-bench.lock npm run bench:pull
//   BENCH_SIZE_MIB=1024 BENCH_ROUNDS=3 BENCH_CAP_MIBPS=50 BENCH_DIR=/tmp BENCH_WRITE=0 node packages/node-agent/bench/pull-bench.mjs
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeBenchSection } from "../../testkit/bench/bench-section.mjs";
import { makeFile, measuresCpu, settleDisk, startHub, timed } from "./pull-bench-procs.mjs";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const root = resolve(pkg, "..", "..");
// BENCH_CLI: another build of cache-main.js, to compare two versions of the pull on one box.
const cli = process.env.BENCH_CLI ? resolve(process.env.BENCH_CLI) : join(pkg, "dist", "cli", "cache-main.js");
const hubMain = join(root, "packages", "testkit", "hub", "main.mjs");
const stageClient = join(pkg, "bench", "pull-stage-client.mjs");
const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_SIZE_MIB ?? 1024) * MiB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CAP = Number(process.env.BENCH_CAP_MIBPS ?? 50) * MiB;
const CONNECTIONS = 8;
const CHUNK = 16 * MiB; // OMNIGATE_DOWNLOAD_CHUNK_BYTES's default

if (!existsSync(cli)) {
  console.error(`${cli} is missing: run pnpm build first`);
  process.exit(1);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mibps = (s) => SIZE / MiB / s;
const loadAvg = async () => (await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).join(" ");
const show = (args) => args.map((a) => a.replace(root + "/", "")).map((a) => (/[ %']/.test(a) ? `'${a}'` : a)).join(" ");
const verdict = (ok) => (ok ? "meets the goal" : "MISSES the goal");
const cpuPerGiB = (runs, key) => median(runs.map((r) => r[key])) / (SIZE / (1 << 30));
const fmtCpu = (runs) =>
  measuresCpu
    ? `client ${cpuPerGiB(runs, "user").toFixed(2)} user + ${cpuPerGiB(runs, "sys").toFixed(2)} sys, hub ${cpuPerGiB(runs, "hubCpu").toFixed(2)} CPU-s/GiB`
    : `hub ${cpuPerGiB(runs, "hubCpu").toFixed(2)} CPU-s/GiB`;

const work = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), "omnigate-bench-pull-"));
let hub;

function pullEnv(extra = {}) {
  // Lock taken over after 2 s: the pull after a SIGKILL need not wait out the default 10 s.
  return { PATH: process.env.PATH, HF_ENDPOINT: hub.url, LOG_LEVEL: "warn", OMNIGATE_CACHE_RESERVE_BYTES: "0", OMNIGATE_CACHE_LOCK_STALE_MS: "2000", ...extra };
}
const pullArgs = (cacheDir) => [cli, "pull", "bench/big", "--cache-dir", cacheDir];

async function runPull(cacheDir, connections = CONNECTIONS) {
  await rm(cacheDir, { recursive: true, force: true });
  settleDisk();
  const args = pullArgs(cacheDir);
  const env = pullEnv({ OMNIGATE_DOWNLOAD_CONNECTIONS: String(connections) });
  const r = await timed(work, hub.child.pid, process.execPath, args, env);
  if (r.code !== 0) throw new Error(`pull failed (${r.code}): ${r.stderr}`);
  // The CLI's own "… in N s": the pull itself, without Node's start-up and module loading.
  const own = /, [0-9.]+ [kMGT]?B in ([0-9.]+) s\)/.exec(r.stderr);
  if (!own) throw new Error(`pull printed no duration: ${r.stderr}`);
  await rm(cacheDir, { recursive: true, force: true });
  return { ...r, seconds: Number(own[1]), command: `HF_ENDPOINT=${hub.url} OMNIGATE_DOWNLOAD_CONNECTIONS=${connections} node ${show(args)}` };
}

/** curl to /dev/null (the link) or to a file on the cache's file system (what keeping the bytes costs). */
async function runCurl(url, out) {
  if (out !== "/dev/null") settleDisk();
  const args = ["-sS", "-L", "-o", out, "-w", "%{size_download} %{time_total}", url];
  const r = await timed(work, hub.child.pid, "curl", args);
  if (r.code !== 0) throw new Error(`curl failed: ${r.stderr}`);
  const [bytes, seconds] = r.stdout.trim().split(" ").map(Number);
  if (bytes !== SIZE) throw new Error(`curl got ${bytes} bytes, expected ${SIZE}`);
  if (out !== "/dev/null") await rm(out, { force: true });
  return { ...r, seconds, command: `curl ${show(args)}` };
}

/** One stage of the data path alone (pull-stage-client.mjs), on the same node:http stack. */
async function runStage(mode, url, out) {
  if (out) settleDisk();
  const args = [stageClient, mode, url, ...(out ? [out] : [])];
  const r = await timed(work, hub.child.pid, process.execPath, args);
  if (r.code !== 0) throw new Error(`stage ${mode} failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split("\n").pop());
  if (j.bytes !== SIZE) throw new Error(`stage ${mode} got ${j.bytes} bytes`);
  if (out) await rm(out, { force: true });
  // The stage's own CPU from its first byte on: Node's start-up is not part of the data path.
  return { ...r, seconds: j.seconds, user: j.user, sys: j.sys, digest: j.digest, command: `node ${show(args)}` };
}

/** sha256 of SIZE bytes already in memory, on one thread: no verifying client of one stream goes faster. */
async function hashAloneSeconds() {
  const { createHash, randomBytes } = await import("node:crypto");
  const block = randomBytes(8 * MiB);
  const hash = createHash("sha256");
  const t0 = performance.now();
  for (let off = 0; off < SIZE; off += block.length) hash.update(block.subarray(0, Math.min(block.length, SIZE - off)));
  hash.digest();
  return (performance.now() - t0) / 1000;
}

/**
 * Part 3: a pull (capped, so 60 % is a moment one can hit) SIGKILLed once the hub has sent 60 % of
 * the file, then an uncapped pull of the same cache. Refetched = bytes sent in all − file size.
 */
async function killAndResume(cacheDir) {
  await rm(cacheDir, { recursive: true, force: true });
  settleDisk();
  await hub.admin("DELETE", "log");
  await hub.admin("POST", "limits", { connectionBytesPerSec: CAP });
  // Spawned bare (not under /usr/bin/time): the signal must reach the pull itself.
  const child = spawn(process.execPath, pullArgs(cacheDir), { env: pullEnv(), stdio: "ignore" });
  const exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  for (;;) {
    const served = await hub.admin("GET", "served?path=big.bin");
    if (served.bytes >= 0.6 * SIZE) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill("SIGKILL");
  const first = await exited;
  if (first.signal !== "SIGKILL") throw new Error(`the pull ended before the kill (${JSON.stringify(first)})`);
  const atKill = (await hub.admin("GET", "served?path=big.bin")).bytes;
  await hub.admin("POST", "limits", { connectionBytesPerSec: 0 });
  const second = await timed(work, hub.child.pid, process.execPath, pullArgs(cacheDir), pullEnv());
  if (second.code !== 0) throw new Error(`resumed pull failed (${second.code}): ${second.stderr}`);
  const total = (await hub.admin("GET", "served?path=big.bin")).bytes;
  await rm(cacheDir, { recursive: true, force: true });
  return { atKill, resumed: total - atKill, refetched: total - SIZE, command: `HF_ENDPOINT=${hub.url} node ${show(pullArgs(cacheDir))}  # SIGKILL once the hub sent 60 %, then again` };
}

try {
  const loadBefore = await loadAvg();
  const fsOf = spawnSync("df", ["--output=source,fstype,target", work], { encoding: "utf8" }).stdout.trim().split("\n").pop().replace(/\s+/g, " ");
  console.log(`load average before: ${loadBefore}; generating a ${SIZE / MiB} MiB file in ${work} (${fsOf}) …`);
  const file = join(work, "big.bin");
  const sha256 = await makeFile(file, SIZE);
  const spec = join(work, "spec.json");
  await writeFile(spec, JSON.stringify({ repos: { "bench/big": { revisions: { main: { files: { "big.bin": { path: file, sha256, lfs: true } } } } } } }));
  hub = await startHub(hubMain, spec);
  const url = `${hub.url}/bench/big/resolve/main/big.bin`;
  const out = join(work, "out.bin");
  const cacheDir = join(work, "cache");
  await runCurl(url, "/dev/null"); // warm-up: page cache and the hub's JIT, for every contender alike

  // 1. Local, uncapped.
  const STAGES = ["recv", "hash", "write", "all", "ranges", "ranges+after", "ranges+worker"];
  const runs = { curlNull: [], curlFile: [], pull: [], pull1: [], hashAlone: [], ...Object.fromEntries(STAGES.map((s) => [s, []])) };
  for (let i = 0; i < ROUNDS; i++) {
    runs.curlNull.push(await runCurl(url, "/dev/null"));
    runs.curlFile.push(await runCurl(url, out));
    for (const mode of STAGES) runs[mode].push(await runStage(mode, url, mode === "recv" || mode === "hash" ? undefined : out));
    runs.pull.push(await runPull(cacheDir));
    runs.pull1.push(await runPull(cacheDir, 1));
    runs.hashAlone.push({ seconds: await hashAloneSeconds() });
    const r = (k) => mibps(runs[k][i].seconds).toFixed(0);
    console.log(
      `round ${i + 1}: curl→/dev/null ${r("curlNull")}, curl→file ${r("curlFile")}, pull ${r("pull")} (1 connection: ${r("pull1")}), stages: ${STAGES.map((s) => `${s} ${r(s)}`).join(", ")}, sha256 alone ${r("hashAlone")} MiB/s; pull peak RSS ${(runs.pull[i].rss / MiB).toFixed(1)} MiB`,
    );
  }
  for (const s of ["all", "ranges+after", "ranges+worker"]) if (runs[s].some((x) => x.digest !== sha256)) throw new Error(`stage ${s} hashed wrong`);

  // 2. Capped per connection.
  await hub.admin("POST", "limits", { connectionBytesPerSec: CAP });
  // Where the link, not the CPU, sets the pace, hashing after the last byte adds its whole time;
  // the hashing thread hides it. The two designs alone, on the same lanes, under the same cap.
  const capped = { curl: [await runCurl(url, out)], pull: [], "ranges+after": [], "ranges+worker": [] };
  for (let i = 0; i < ROUNDS; i++) {
    capped.pull.push(await runPull(cacheDir));
    for (const mode of ["ranges+after", "ranges+worker"]) capped[mode].push(await runStage(mode, url, out));
  }
  await hub.admin("POST", "limits", { connectionBytesPerSec: 0 });
  console.log(
    `capped at ${CAP / MiB} MiB/s per connection: curl→file ${mibps(capped.curl[0].seconds).toFixed(0)}, pull ${capped.pull.map((p) => mibps(p.seconds).toFixed(0)).join(" / ")}, ranges+after ${capped["ranges+after"].map((p) => mibps(p.seconds).toFixed(0)).join(" / ")}, ranges+worker ${capped["ranges+worker"].map((p) => mibps(p.seconds).toFixed(0)).join(" / ")} MiB/s`,
  );

  // 3. SIGKILL at 60 %, then resume.
  const kill = await killAndResume(cacheDir);
  console.log(`SIGKILL at 60 %: hub had sent ${(kill.atKill / MiB).toFixed(0)} MiB; the resumed pull fetched ${(kill.resumed / MiB).toFixed(0)} MiB; sent twice ${(kill.refetched / MiB).toFixed(1)} MiB`);
  const loadAfter = await loadAvg();

  const rate = (set, k) => mibps(median(set[k].map((x) => x.seconds)));
  const link = rate(runs, "curlNull");
  const curlFile = rate(runs, "curlFile");
  const pull = rate(runs, "pull");
  const peak = Math.max(...runs.pull.map((p) => p.rss), ...capped.pull.map((p) => p.rss)) / MiB;
  const cappedCurl = rate(capped, "curl");
  const cappedPull = rate(capped, "pull");
  const ceiling = Math.min(link, (CONNECTIONS * CAP) / MiB);
  const lines = [
    `file: ${SIZE / MiB} MiB, local test hub (302 to its CDN origin), ${ROUNDS} rounds, medians; work dir on ${fsOf}; \`sync\` before every contender that writes; pull = the agent's cache CLI with the defaults (${CONNECTIONS} connections, ${CHUNK / MiB} MiB chunks), sha256 verified, renamed into place`,
    `**local, uncapped**: omnigate pull ${pull.toFixed(0)} MiB/s (${fmtCpu(runs.pull)}) vs curl -o <file> ${curlFile.toFixed(0)} MiB/s (${fmtCpu(runs.curlFile)}): ratio ${(pull / curlFile).toFixed(2)} (goal ≥ 0.80: ${verdict(pull / curlFile >= 0.8)})`,
    `floors in the same run: curl -o /dev/null ${link.toFixed(0)} MiB/s (${fmtCpu(runs.curlNull)}); sha256 alone of ${SIZE / MiB} MiB in memory on one thread ${rate(runs, "hashAlone").toFixed(0)} MiB/s; pull with 1 connection ${rate(runs, "pull1").toFixed(0)} MiB/s (${fmtCpu(runs.pull1)})`,
    `stages alone, one stream (node:http): receive ${rate(runs, "recv").toFixed(0)} (${fmtCpu(runs.recv)}); + sha256 ${rate(runs, "hash").toFixed(0)}; + write ${rate(runs, "write").toFixed(0)}; + sha256 on the receiving thread + write ${rate(runs, "all").toFixed(0)} MiB/s (${fmtCpu(runs.all)})`,
    `stages alone, ${CONNECTIONS} ranges written at their offsets: no hash ${rate(runs, "ranges").toFixed(0)} (${fmtCpu(runs.ranges)}); sha256 read back after the download ${rate(runs, "ranges+after").toFixed(0)} (${fmtCpu(runs["ranges+after"])}); sha256 on the hashing thread following the prefix ${rate(runs, "ranges+worker").toFixed(0)} MiB/s (${fmtCpu(runs["ranges+worker"])})`,
    `**capped at ${CAP / MiB} MiB/s per connection**: omnigate pull ${cappedPull.toFixed(0)} MiB/s vs single-stream curl -o <file> ${cappedCurl.toFixed(0)} MiB/s: ratio ${(cappedPull / cappedCurl).toFixed(2)} (goal ≥ 5: ${verdict(cappedPull / cappedCurl >= 5)}); vs min(link ${link.toFixed(0)}, ${CONNECTIONS} × cap ${(CONNECTIONS * CAP) / MiB}) = ${ceiling.toFixed(0)} MiB/s: ${(cappedPull / ceiling).toFixed(2)} (goal ≥ 0.80: ${verdict(cappedPull / ceiling >= 0.8)})`,
    `the hashing designs alone under the same cap (${CONNECTIONS} ranges): sha256 read back after the download ${rate(capped, "ranges+after").toFixed(0)} MiB/s; on the hashing thread following the prefix ${rate(capped, "ranges+worker").toFixed(0)} MiB/s`,
    `**SIGKILL at 60 %**: the hub had sent ${(kill.atKill / MiB).toFixed(0)} MiB when the pull was killed; the next pull fetched ${(kill.resumed / MiB).toFixed(0)} MiB; sent twice: ${(kill.refetched / MiB).toFixed(1)} MiB (goal ≤ one chunk per connection, ${CONNECTIONS} × ${CHUNK / MiB} = ${(CONNECTIONS * CHUNK) / MiB} MiB: ${verdict(kill.refetched <= CONNECTIONS * CHUNK)})`,
    `pull peak RSS (${CONNECTIONS} connections): ${peak.toFixed(1)} MiB (goal ≤ 200 MiB: ${verdict(peak <= 200)})`,
    `load average: ${loadBefore} before, ${loadAfter} after; ${spawnSync("nproc", { encoding: "utf8" }).stdout.trim()} cores shared by the hub process and the client; Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
  ];
  const commands = [
    runs.curlNull[0].command,
    runs.curlFile[0].command,
    ...STAGES.map((k) => runs[k][0].command),
    runs.pull[0].command,
    runs.pull1[0].command,
    `curl -X POST ${hub.url}/_admin/limits -d '{"connectionBytesPerSec":${CAP}}'  # then curl and the pull again`,
    kill.command,
  ];
  console.log(`\n${lines.join("\n")}\n\ncommands:\n  ${commands.join("\n  ")}`);

  await writeBenchSection(root, "Pull", {
    intro: [
      "`pnpm bench:pull` (packages/node-agent/bench/pull-bench.mjs): the same file from the same local",
      "test hub (a separate process) to the agent's cache CLI and to curl, side by side in one run; CPU",
      "from /usr/bin/time.",
    ],
    lines: lines.map((l) => `- ${l}`),
    commands,
  });
} finally {
  hub?.child.kill("SIGTERM");
  await rm(work, { recursive: true, force: true });
}
