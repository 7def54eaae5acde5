#!/usr/bin/env node
// pnpm bench:fleet — placement and the node protocol at fleet scale, side by side with their floor:
//  1. computePlacement for 1,000 models on 5,000 nodes (first placement, then a recompute with
//     nothing changed), in this process;
//  2. one gateway (its own process) holding 5,000 simulated nodes heartbeating every 5 s from a
//     load generator speaking the node protocol (fleet-load.mjs, its own process): heartbeat p50/p99
//     and the gateway's CPU as a share of one core; beside it the same load against the leanest
//     Node server that parses each body and answers (bare-heartbeat.mjs): the floor;
//  3. the same fleet split over two gateways sharing a PostgreSQL (started here): heartbeat p50/p99,
//     each gateway's CPU, and the database's load while measured (transactions, rows written,
//     the server's CPU).
//   node packages/gateway/bench/fleet.mjs [--nodes 5000] [--models 1000] [--measure 20] [--profile DIR]
// --profile writes the gateway's CPU profile (node --cpu-prof) into DIR, for Chrome DevTools.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { writeBenchSection } from "../../testkit/bench/bench-section.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const NODES = arg("nodes", 5000), MODELS = arg("models", 1000), MEASURE_S = arg("measure", 20), INTERVAL = 5000;
const PROFILE_DIR = process.argv.includes("--profile") ? process.argv[process.argv.indexOf("--profile") + 1] : undefined;
const COMMAND = `node packages/gateway/bench/fleet.mjs --nodes ${NODES} --models ${MODELS} --measure ${MEASURE_S}`;
const loadBefore = loadavg().map((l) => l.toFixed(2)).join(" ");
console.log(`command: ${COMMAND}`);
console.log(`load average before: ${loadBefore}`);

// 1. Placement alone.
const { computePlacement } = await import(join(root, "packages/gateway/dist/placement/compute-placement.js"));
const runtimes = new Set(["llama_cpp"]);
const nodes = Array.from({ length: NODES }, (_, i) => ({
  id: `node-${String(i).padStart(5, "0")}`,
  label: `gpu-${i}`,
  runtimes,
  labels: { zone: i % 2 ? "eu" : "us", gpu: i % 5 === 0 ? "a100" : "l4" },
  capacityMib: i % 5 === 0 ? 81920 : 24576,
  standing: i % 97 === 0 ? "cordoned" : "schedulable",
}));
const models = Array.from({ length: MODELS }, (_, i) => ({
  name: `model-${i}`,
  runtime: "llama_cpp",
  replicas: 1 + (i % 3),
  selector: i % 10 === 0 ? { gpu: "a100" } : i % 7 === 0 ? { zone: "eu" } : {},
  policy: i % 4 === 0 ? "binpack" : "spread",
}));
const need = new Map(models.map((m, i) => [m.name, 2048 + ((i * 7919) % 14) * 1024]));
const input = (current) => ({
  models,
  nodes,
  current,
  now: Date.now(),
  needMib: (m) => need.get(m.name),
  holdsFiles: (m, n) => (m.name.length + n.id.length) % 41 === 0,
  isReady: () => true,
  load: () => 0,
});
const timings = [];
let first;
for (let run = 0; run < 3; run++) {
  const t = performance.now();
  first = computePlacement(input(new Map()));
  timings.push(performance.now() - t);
}
const stable = [];
for (let run = 0; run < 3; run++) {
  const t = performance.now();
  const again = computePlacement(input(first.placement));
  stable.push(performance.now() - t);
  if (again.changed.size !== 0) throw new Error("a recompute with nothing changed moved replicas");
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const placed = [...first.placement.values()].reduce((s, r) => s + r.length, 0);
const placementLine = `placement, ${MODELS} models on ${NODES} nodes (${placed} replicas placed, ${first.errors.size} models short): first ${median(timings).toFixed(0)} ms, recompute unchanged ${median(stable).toFixed(0)} ms (median of 3; goal ≤ 1000 ms)`;
console.log(placementLine);

// 2. Heartbeats: the gateway, then the floor.
function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Runs the fleet against `url` (several: comma-separated); CPU shares of `pids` and `probe` taken over the measured window. */
async function runLoad(url, token, pids, probe = async () => ({})) {
  const gen = spawn(process.execPath, [join(here, "fleet-load.mjs"), url, token, String(NODES), String(INTERVAL), String(MEASURE_S)], { stdio: ["ignore", "pipe", "inherit"] });
  let cpu0 = [], t0 = 0, shares = [], before = {}, delta = {}, result;
  for await (const line of createInterface({ input: gen.stdout })) {
    const msg = JSON.parse(line);
    if (msg.measuring === true) {
      cpu0 = pids().map(cpuSeconds);
      before = await probe();
      t0 = performance.now();
    } else if (msg.measuring === false) {
      const seconds = (performance.now() - t0) / 1000;
      shares = pids().map((pid, i) => (cpuSeconds(pid) - cpu0[i]) / seconds);
      const after = await probe();
      delta = Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] - before[k]) / seconds]));
    } else if (msg.sent !== undefined) result = msg;
  }
  return { ...result, cpu: shares[0] ?? 0, cpus: shares, rates: delta };
}

/**
 * A process's CPU seconds with all its children's (PostgreSQL: the postmaster and every backend),
 * the children that exited included (their time moves to the parent's cutime/cstime when reaped:
 * without it, an autovacuum worker ending in the window would count as negative time).
 */
function treeCpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  let total = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
  let children = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // exited meanwhile
  }
  for (const child of children) {
    try {
      total += treeCpuSeconds(child);
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** The 100 models both gateway runs place (1 to 3 replicas each, 4 GiB apiece: no hub to ask). */
async function registerModels(url, adminKey) {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${url}/api/models`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: `m${i}`, repo: `bench/m${i}`, runtime: "llama_cpp", replicas: 1 + (i % 3), resources: { memory_mib: 4096 } }),
    });
    if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  }
}

function startProcess(file, env, ready, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, file], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((res, rej) => {
    const rl = createInterface({ input: child.stdout });
    rl.on("line", (line) => {
      const m = ready.exec(line);
      if (m) res({ child, url: m[1] });
    });
    child.once("exit", (code) => rej(new Error(`${file} exited ${code}`)));
  });
}

const dataDir = mkdtempSync(join(tmpdir(), "omnigate-bench-fleet-"));
const nodeToken = `bench-node-token-${Date.now()}`;
const adminKey = `bench-admin-key-${Date.now()}`;
const gw = await startProcess(join(root, "packages/gateway/dist/main.js"), {
  OMNIGATE_PORT: "0",
  OMNIGATE_DATA_DIR: dataDir,
  OMNIGATE_ADMIN_KEY: adminKey,
  OMNIGATE_NODE_TOKEN: nodeToken,
  OMNIGATE_HEARTBEAT_INTERVAL_MS: String(INTERVAL),
  OMNIGATE_NODE_TIMEOUT_MS: "30000",
  // No hub here: every model gives its memory, and the estimate's hub reads fail at once.
  HF_ENDPOINT: "http://127.0.0.1:9",
  LOG_LEVEL: "warn",
}, /listening on (http:\S+)/, PROFILE_DIR ? ["--cpu-prof", "--cpu-prof-dir", PROFILE_DIR] : []);
let gateway, floor;
try {
  await registerModels(gw.url, adminKey);
  gateway = await runLoad(gw.url, nodeToken, () => [gw.child.pid]);
} finally {
  // Waited for: a profile is written as the gateway exits.
  const exited = new Promise((r) => gw.child.once("exit", r));
  gw.child.kill("SIGTERM");
  await exited;
  rmSync(dataDir, { recursive: true, force: true });
}
const bare = await startProcess(join(here, "bare-heartbeat.mjs"), {}, /listening (http:\S+)/);
try {
  floor = await runLoad(bare.url, "x", () => [bare.child.pid]);
} finally {
  bare.child.kill("SIGTERM");
}
// 3. Two gateways on one PostgreSQL, the fleet split between them.
const { startPostgres } = await import(join(root, "packages/testkit/dist/postgres.js"));
const pg = await startPostgres();
const databaseUrl = await pg.createDatabase();
const sharedEnv = {
  OMNIGATE_PORT: "0",
  OMNIGATE_ADMIN_KEY: adminKey,
  OMNIGATE_NODE_TOKEN: nodeToken,
  OMNIGATE_HEARTBEAT_INTERVAL_MS: String(INTERVAL),
  OMNIGATE_NODE_TIMEOUT_MS: "30000",
  OMNIGATE_DATABASE_URL: databaseUrl,
  OMNIGATE_CLUSTER_SECRET: `bench-cluster-secret-${Date.now()}-0123456789abcdef`,
  HF_ENDPOINT: "http://127.0.0.1:9",
  LOG_LEVEL: "warn",
};
const dirA = mkdtempSync(join(tmpdir(), "omnigate-bench-fleet-a-"));
const dirB = mkdtempSync(join(tmpdir(), "omnigate-bench-fleet-b-"));
let shared;
const gwA = await startProcess(join(root, "packages/gateway/dist/main.js"), { ...sharedEnv, OMNIGATE_DATA_DIR: dirA }, /listening on (http:\S+)/);
const gwB = await startProcess(join(root, "packages/gateway/dist/main.js"), { ...sharedEnv, OMNIGATE_DATA_DIR: dirB, OMNIGATE_CLUSTER_CA_CERT_FILE: join(dirA, "cluster-ca.crt"), OMNIGATE_CLUSTER_CA_KEY_FILE: join(dirA, "cluster-ca.key") }, /listening on (http:\S+)/);
const { default: pg0 } = await import("pg");
const { Client } = pg0;
const db = new Client({ connectionString: databaseUrl });
await db.connect();
const dbName = new URL(databaseUrl).pathname.slice(1);
// The database's own counters (this database only) and the server's CPU, the bench's own queries aside.
const probe = async () => {
  const { rows } = await db.query("SELECT xact_commit + xact_rollback AS xacts, tup_inserted + tup_updated + tup_deleted AS written, tup_returned + tup_fetched AS read FROM pg_stat_database WHERE datname = $1", [dbName]);
  await db.query("SELECT pg_stat_clear_snapshot()");
  return { xacts: Number(rows[0].xacts), written: Number(rows[0].written), read: Number(rows[0].read), cpu: treeCpuSeconds(pg.pid()) };
};
try {
  await registerModels(gwA.url, adminKey);
  shared = await runLoad(`${gwA.url},${gwB.url}`, nodeToken, () => [gwA.child.pid, gwB.child.pid], probe);
} finally {
  await db.end().catch(() => {});
  const exited = Promise.all([gwA, gwB].map((g) => new Promise((r) => g.child.once("exit", r))));
  gwA.child.kill("SIGTERM");
  gwB.child.kill("SIGTERM");
  await exited;
  await pg.close();
  rmSync(dirA, { recursive: true, force: true });
  rmSync(dirB, { recursive: true, force: true });
}

const rate = (r) => (r.sent / MEASURE_S).toFixed(0);
const loadAfter = loadavg().map((l) => l.toFixed(2)).join(" ");
const lines = [
  `- ${placementLine}`,
  `- heartbeats, ${NODES} nodes every ${INTERVAL / 1000} s, ${MEASURE_S} s measured (100 models placed):`,
  `  - **gateway**: ${rate(gateway)}/s, ${gateway.errors} errors, p50 ${gateway.p50.toFixed(2)} ms, p99 ${gateway.p99.toFixed(2)} ms, CPU ${(gateway.cpu * 100).toFixed(1)} % of one core (goals: p99 ≤ 20 ms, CPU ≤ 50 %)`,
  `  - **floor** (a bare Node server parsing each body): ${rate(floor)}/s, p50 ${floor.p50.toFixed(2)} ms, p99 ${floor.p99.toFixed(2)} ms, CPU ${(floor.cpu * 100).toFixed(1)} %`,
  `  - **ratio gateway / floor**: CPU ×${(gateway.cpu / Math.max(1e-9, floor.cpu)).toFixed(2)}, p99 ×${(gateway.p99 / Math.max(1e-9, floor.p99)).toFixed(2)}`,
  `- the same fleet split over **two gateways on one PostgreSQL** (each node talks to one of them; 100 models placed):`,
  `  - heartbeats: ${rate(shared)}/s, ${shared.errors} errors, p50 ${shared.p50.toFixed(2)} ms, p99 ${shared.p99.toFixed(2)} ms (goal p99 ≤ 20 ms); CPU gateway A ${(shared.cpus[0] * 100).toFixed(1)} %, gateway B ${(shared.cpus[1] * 100).toFixed(1)} % of one core`,
  `  - database load while measured: ${shared.rates.xacts.toFixed(1)} transactions/s, ${shared.rates.written.toFixed(1)} rows written/s (inserted + updated + deleted) for ${rate(shared)} heartbeats/s, ${shared.rates.read.toFixed(0)} rows read/s, PostgreSQL ${(shared.rates.cpu * 100).toFixed(1)} % of one core (liveness travels as notifications; a node's row is written when what it reports changes, and checkpointed once a minute)`,
  `- load average: ${loadBefore} before, ${loadAfter} after; ${cpus().length} cores shared with whatever else runs; Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
];
console.log(["", ...lines].join("\n"));
await writeBenchSection(root, "Fleet (issue 9)", {
  intro: [
    "`pnpm bench:fleet` (packages/gateway/bench/fleet.mjs). Placement computed for a fleet, then one gateway",
    "holding a fleet of simulated nodes that heartbeat every 5 s over real HTTP (bench/fleet-load.mjs, its",
    "own process, speaking the node protocol as the agent does: desired_version sent back), side by side",
    "with the same load against the floor, the leanest Node server that parses each body (bench/bare-heartbeat.mjs);",
    "then the same fleet split over two gateways sharing a PostgreSQL the bench starts, with the database's load.",
  ],
  lines,
  commands: [COMMAND],
});