#!/usr/bin/env node
// pnpm bench:fleet — placement and the node protocol at fleet scale, side by side with their floor:
//  1. computePlacement for 1,000 models on 5,000 nodes (first placement, then a recompute with
//     nothing changed), in this process;
//  2. one gateway (its own process) holding 5,000 simulated nodes heartbeating every 5 s from a
//     load generator speaking the node protocol (fleet-load.mjs, its own process): heartbeat p50/p99
//     and the gateway's CPU as a share of one core; beside it the same load against the leanest
//     Node server that parses each body and answers (bare-heartbeat.mjs): the floor.
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

async function runLoad(url, token, pid) {
  const gen = spawn(process.execPath, [join(here, "fleet-load.mjs"), url, token, String(NODES), String(INTERVAL), String(MEASURE_S)], { stdio: ["ignore", "pipe", "inherit"] });
  let cpu0 = 0, t0 = 0, share = 0, result;
  for await (const line of createInterface({ input: gen.stdout })) {
    const msg = JSON.parse(line);
    if (msg.measuring === true) {
      cpu0 = cpuSeconds(pid);
      t0 = performance.now();
    } else if (msg.measuring === false) {
      share = (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000);
    } else if (msg.sent !== undefined) result = msg;
  }
  return { ...result, cpu: share };
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
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${gw.url}/api/models`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: `m${i}`, repo: `bench/m${i}`, runtime: "llama_cpp", replicas: 1 + (i % 3), resources: { memory_mib: 4096 } }),
    });
    if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  }
  gateway = await runLoad(gw.url, nodeToken, gw.child.pid);
} finally {
  // Waited for: a profile is written as the gateway exits.
  const exited = new Promise((r) => gw.child.once("exit", r));
  gw.child.kill("SIGTERM");
  await exited;
  rmSync(dataDir, { recursive: true, force: true });
}
const bare = await startProcess(join(here, "bare-heartbeat.mjs"), {}, /listening (http:\S+)/);
try {
  floor = await runLoad(bare.url, "x", bare.child.pid);
} finally {
  bare.child.kill("SIGTERM");
}
const rate = (r) => (r.sent / MEASURE_S).toFixed(0);
const loadAfter = loadavg().map((l) => l.toFixed(2)).join(" ");
const lines = [
  `- ${placementLine}`,
  `- heartbeats, ${NODES} nodes every ${INTERVAL / 1000} s, ${MEASURE_S} s measured (100 models placed):`,
  `  - **gateway**: ${rate(gateway)}/s, ${gateway.errors} errors, p50 ${gateway.p50.toFixed(2)} ms, p99 ${gateway.p99.toFixed(2)} ms, CPU ${(gateway.cpu * 100).toFixed(1)} % of one core (goals: p99 ≤ 20 ms, CPU ≤ 50 %)`,
  `  - **floor** (a bare Node server parsing each body): ${rate(floor)}/s, p50 ${floor.p50.toFixed(2)} ms, p99 ${floor.p99.toFixed(2)} ms, CPU ${(floor.cpu * 100).toFixed(1)} %`,
  `  - **ratio gateway / floor**: CPU ×${(gateway.cpu / Math.max(1e-9, floor.cpu)).toFixed(2)}, p99 ×${(gateway.p99 / Math.max(1e-9, floor.p99)).toFixed(2)}`,
  `- load average: ${loadBefore} before, ${loadAfter} after; ${cpus().length} cores shared with whatever else runs; Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
];
console.log(["", ...lines].join("\n"));
await writeBenchSection(root, "Fleet (issue 9)", {
  intro: [
    "`pnpm bench:fleet` (packages/gateway/bench/fleet.mjs). Placement computed for a fleet, then one gateway",
    "holding a fleet of simulated nodes that heartbeat every 5 s over real HTTP (bench/fleet-load.mjs, its",
    "own process, speaking the node protocol as the agent does: desired_version sent back), side by side",
    "with the same load against the floor, the leanest Node server that parses each body (bench/bare-heartbeat.mjs).",
  ],
  lines,
  commands: [COMMAND],
});