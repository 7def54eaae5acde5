#!/usr/bin/env node
// The fleet bench's load generator, its own process: N simulated nodes speaking the node protocol
// (register with the node token, then heartbeat every INTERVAL ms with their node secret, sending
// back the desired_version they were given, as a real agent does), phases spread over the interval.
//   node fleet-load.mjs <gateway url> <node token> <nodes> <interval ms> <measure s>
// <gateway url> may list several gateways separated by commas: node i talks to gateway i mod n.
// Prints one JSON line: heartbeats sent, errors, latency p50/p99 (ms).
import { randomUUID } from "node:crypto";
import { Agent, request } from "undici";

const [urlsArg, token, nodesArg, intervalArg, measureArg] = process.argv.slice(2);
const urls = urlsArg.split(",");
const N = Number(nodesArg), INTERVAL = Number(intervalArg), MEASURE_MS = Number(measureArg) * 1000;
const pool = new Agent({ connections: 256, pipelining: 1, keepAliveTimeout: 60_000 });

async function post(url, path, auth, body) {
  const res = await request(`${url}${path}`, { method: "POST", dispatcher: pool, headers: { authorization: `Bearer ${auth}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode} ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

const nodes = Array.from({ length: N }, (_, i) => {
  const id = randomUUID();
  const registration = {
    runtime_id: id,
    supported_runtimes: ["llama_cpp"],
    loaded_models: {},
    // Distinct loopback addresses: a plain-HTTP agent_url must be on loopback (beyond it, agents serve HTTPS).
    agent_url: `http://127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8081`,
    hostname: `sim-${i}`,
    version: "bench",
    gpus: [{ index: 0, name: "Sim GPU", memory_total_mib: 81920, memory_used_mib: 0 }],
    labels: { zone: i % 2 ? "eu" : "us" },
    capacity: { memory_total_mib: 262144, memory_available_mib: 200000, disk_free_mib: 500000, reserved_mib: 0 },
    cached: [],
  };
  return { id, url: urls[i % urls.length], registration, secret: "", version: undefined, models: [] };
});

// Register, 64 at a time.
for (let i = 0; i < N; i += 64) {
  await Promise.all(nodes.slice(i, i + 64).map(async (n) => {
    n.secret = (await post(n.url, "/api/nodes/register", token, n.registration)).node_secret;
  }));
}
process.stdout.write(JSON.stringify({ registered: N }) + "\n");

let measuring = false, sent = 0, errors = 0;
const latencies = [];
let stop = false;
async function beat(n) {
  const body = { ...n.registration, models: n.models, engines: [], ...(n.version ? { desired_version: n.version } : {}) };
  const t0 = performance.now();
  try {
    const answer = await post(n.url, `/api/nodes/${n.id}/heartbeat`, n.secret, body);
    if (answer.models) {
      n.version = answer.desired_version;
      n.models = answer.models.map((m) => ({ name: m.name, state: "ready", in_flight: 0, capacity: 4 }));
    }
    if (measuring) { latencies.push(performance.now() - t0); sent++; }
  } catch {
    if (measuring) errors++;
  }
}
for (const [i, n] of nodes.entries()) {
  const loop = async () => { while (!stop) { await beat(n); await new Promise((r) => setTimeout(r, INTERVAL)); } };
  setTimeout(loop, (i / N) * INTERVAL);
}
// One interval to settle (every node has its desired set), then measure; the parent reads CPU between the marks.
await new Promise((r) => setTimeout(r, INTERVAL * 2));
measuring = true;
process.stdout.write(JSON.stringify({ measuring: true }) + "\n");
await new Promise((r) => setTimeout(r, MEASURE_MS));
measuring = false;
process.stdout.write(JSON.stringify({ measuring: false }) + "\n");
stop = true;
latencies.sort((a, b) => a - b);
const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
process.stdout.write(JSON.stringify({ sent, errors, p50: q(0.5), p99: q(0.99) }) + "\n");
await pool.close();
process.exit(0);
