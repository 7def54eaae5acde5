#!/usr/bin/env node
// `pnpm bench` — the data-plane benchmark. Every figure is read against another measured side by
// side in this one run, with the same load generator (bench/load.mjs, its own process), on the
// paths of bench/paths.mjs: the stand-in llama-server alone (direct), the agent hop alone, the
// gateway hop alone, the gateway path (client → gateway → agent → stand-in), the same with mutual
// TLS on the gateway → agent hop, the same with the store on PostgreSQL, and one and two bare Node
// relay hops (the floors).
// (1) latency p50/p99 at concurrency 1 and the best throughput of small non-streaming chats, with
//     the CPU each process spends per request; then the hot path's ratios: each hop's added p50
//     and throughput against its bare-hop floor; a mutual-TLS handshake against a TCP connect;
// (2) streaming through a stand-in sending 64 chunks 20 ms apart: added time to first token, added
//     p99 inter-chunk gap, the most concurrent streams held without a late or lost chunk;
// (3) gateway RSS holding 1,000 concurrent streams;
// (4) readiness propagation between two gateways on PostgreSQL: a model turning ready in a
//     heartbeat to gateway A, until gateway B routes on it (p50/p99).
// Results go to BENCHMARKS.md, section "## Data plane (issues 5 and 10)". Everything on 127.0.0.1, bounded.
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { join, resolve } from "node:path";
import { cpus } from "node:os";
import { connect as tlsConnect } from "node:tls";
import { issueCert, loadCa } from "@omnigate/testkit/certs";
import { TestScope } from "@omnigate/testkit/scope";
import { REPO_ROOT, assertBuilt } from "@omnigate/testkit/cluster";
import { ask, cpuMs, loadAverage, percentile, rssBytes } from "./lib.mjs";
import { LATENCY_RATIO_GOAL, PATHS, PATH_NAMES, THROUGHPUT_RATIO_GOAL, hotPathRatios } from "./paths.mjs";
import { writeSection } from "./report.mjs";
import { startStack } from "./stack.mjs";

const LOAD = join(REPO_ROOT, "packages/gateway/bench/load.mjs");
const argValue = (flag) => (process.argv.includes(flag) ? process.argv[process.argv.indexOf(flag) + 1] : undefined);
const QUICK = process.argv.includes("--quick");
// --only a,b: run just those sections (latency, throughput, stream, sweep, rss, propagation); results are then not written.
const ONLY = argValue("--only") ? new Set(argValue("--only").split(",")) : undefined;
const runs = (section) => !ONLY || ONLY.has(section);
// --profile DIR: CPU profiles of the agent (node --cpu-prof, written when it stops) and of the
// gateway's main thread during its 64-connection throughput run.
const PROFILE = argValue("--profile") ? resolve(argValue("--profile")) : undefined;
const COMMAND = `pnpm bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;

const CHUNKS = 64;
const INTERVAL_MS = 20;
const LATE_MS = 100;
const SLOTS = 2048;
const log = (...a) => console.log(...a);
const ms = (x) => (Number.isFinite(x) ? x.toFixed(2) : String(x));
/** A difference with its sign: "+0.16", "-7.25". */
const signed = (x) => `${x >= 0 ? "+" : ""}${ms(x)}`;
const mib = (b) => (b / 1024 / 1024).toFixed(1);

assertBuilt();
const scope = new TestScope();
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => scope.cleanup().finally(() => process.exit(130)));

/** Stand-in knobs shared by the agent's engine and the direct stand-in. */
const knobs = (intervalMs) => ({
  STANDIN_CHUNKS: String(CHUNKS),
  STANDIN_CHUNK_INTERVAL_MS: String(intervalMs),
  STANDIN_PING_EVERY: "0",
  STANDIN_LOAD_MS: "50",
});

/** Runs one load job in its own process; `onOpen` is called when a "hold" job has every stream open. */
async function load(job, onOpen) {
  const p = scope.spawn(LOAD, { name: "load", args: [JSON.stringify(job)] });
  if (onOpen) p.waitForLine(/^\{"event":"open"/, 600_000).then(onOpen, () => {});
  const { code, signal, stdout } = await p.result();
  const line = stdout.split("\n").find((l) => l.startsWith('{"event":"result"'));
  if (!line) throw new Error(`load generator exited (${signal ?? code}) without a result\n${p.tail()}`);
  return JSON.parse(line);
}

/** Sockets in ESTABLISHED state whose local port is `port` (the agent's side of the gateway's pool). */
function establishedTo(port) {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  let n = 0;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const rows = existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(1) : [];
    for (const row of rows) {
      const f = row.trim().split(/\s+/);
      if (f[1]?.endsWith(`:${hex}`) && f[3] === "01") n++;
    }
  }
  return n;
}

/** p50 of `count` sequential connections made by `connectOnce` (each resolves once usable, then closed). */
async function connectP50(count, connectOnce) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const socket = await connectOnce();
    times.push(performance.now() - t0);
    socket.destroy();
  }
  return percentile(times.sort((a, b) => a - b), 50);
}

// ---------------------------------------------------------------------------------------------
const loadBefore = loadAverage();
log("omnigate data-plane benchmark");
log(`command: ${COMMAND}   (= npm run build && node packages/gateway/bench/run.mjs)`);
log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), Node ${process.version}; everything on 127.0.0.1; load average ${loadBefore}`);
log("paths:");
for (const name of PATH_NAMES) log(`    ${name.padEnd(12)} ${PATHS[name].what}${PATHS[name].floor ? `; floor ${PATHS[name].floor}` : ""}`);

const work = await scope.tempDir("omnigate-bench-dp-");
const stack = await startStack(scope, { work, slots: SLOTS, knobs, intervalMs: INTERVAL_MS, profileDir: PROFILE, mtls: true, pg: true });
const { gw } = stack;
log(`gateway pid ${gw.pid} ${gw.url}; agent pid ${stack.agent.pid}; direct stand-in ${stack.directUrl}; engine slots ${SLOTS}, capacity the node reports ${stack.capacity}`);
log(`mTLS: gateway pid ${stack.mtls.gw.pid} ${stack.mtls.gw.url}; agent pid ${stack.mtls.agent.pid} ${stack.mtls.agent.url}`);
log(`PostgreSQL ${stack.pg.server.port}: gateway pid ${stack.pg.gw.pid} ${stack.pg.gw.url} (and ${stack.pg.b.url} for propagation); agent pid ${stack.pg.agent.pid} ${stack.pg.agent.url}`);
if (process.argv.includes("--setup-only")) {
  log(`setup only: ${JSON.stringify({ gateway: gw.url, key: stack.key, direct: stack.directUrl, gatewayPid: gw.pid, agentPid: stack.agent.pid })}; Ctrl-C stops`);
  await new Promise(() => {});
}
const results = { loadAverage: { before: loadBefore } };

// (1a) latency at concurrency 1: rounds alternate the paths so drift hits them alike.
if (runs("latency")) {
  const rounds = QUICK ? 2 : 5;
  const count = QUICK ? 200 : 400;
  const lat = Object.fromEntries(PATH_NAMES.map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const kind of PATH_NAMES) lat[kind].push(...(await load({ mode: "latency", ...stack.target(kind, false), count, warmup: 50 })).latencies);
  }
  for (const k of PATH_NAMES) lat[k].sort((a, b) => a - b);
  const L = (results.latency = Object.fromEntries(PATH_NAMES.map((k) => [k, { p50: percentile(lat[k], 50), p99: percentile(lat[k], 99) }])));
  L.n = lat.direct.length;
  L.added = { p50: L.gateway.p50 - L.direct.p50, p99: L.gateway.p99 - L.direct.p99 };
  L.gatewayHop = { p50: L.gateway.p50 - L.agent.p50, p99: L.gateway.p99 - L.agent.p99 };
  log(`(1) latency, concurrency 1, ${L.n} requests per path (${rounds} alternating rounds of ${count}), and added over direct:`);
  for (const k of PATH_NAMES) log(`    ${k.padEnd(12)} p50 ${ms(L[k].p50)} ms  p99 ${ms(L[k].p99)} ms${k === "direct" ? "" : `   added p50 +${ms(L[k].p50 - L.direct.p50)} ms, p99 +${ms(L[k].p99 - L.direct.p99)} ms`}`);
  log(`    gateway path: added p50 ${ms(L.added.p50)} ms (issue 5's goal ≤ 1), p99 ${ms(L.added.p99)} ms (goal ≤ 3)`);
  log(`    mutual TLS on the gateway → agent hop adds: p50 ${signed(L["gateway-mtls"].p50 - L.gateway.p50)} ms, p99 ${signed(L["gateway-mtls"].p99 - L.gateway.p99)} ms (over the plain gateway path)`);
  log(`    the store on PostgreSQL instead of SQLite: p50 ${signed(L["gateway-pg"].p50 - L.gateway.p50)} ms, p99 ${signed(L["gateway-pg"].p99 - L.gateway.p99)} ms (goal: equal within noise: nothing of the store is on a request's path)`);

  // What a connection costs, paid once per connection: a full mutual-TLS handshake with the agent
  // (a client certificate from its gateway's CA, as the gateway presents) against a TCP connect.
  const ca = await loadCa(join(stack.mtls.gw.dataDir, "cluster-ca.crt"), join(stack.mtls.gw.dataDir, "cluster-ca.key"));
  const client = await issueCert(ca, { usage: "client" });
  const tlsUrl = new URL(stack.mtls.agent.url);
  const plainUrl = new URL(stack.agent.url);
  const connections = QUICK ? 50 : 200;
  const handshake = await connectP50(connections, () => new Promise((res, rej) => {
    const s = tlsConnect({ host: tlsUrl.hostname, port: Number(tlsUrl.port), ca: ca.certPem, cert: client.certPem, key: client.keyPem, minVersion: "TLSv1.3" }, () => res(s));
    s.once("error", rej);
  }));
  const tcp = await connectP50(connections, () => new Promise((res, rej) => {
    const s = tcpConnect({ host: plainUrl.hostname, port: Number(plainUrl.port) }, () => res(s));
    s.once("error", rej);
  }));
  results.handshake = { tls: handshake, tcp, count: connections };
  log(`    a new connection to the agent, p50 of ${connections}: mutual-TLS handshake ${ms(handshake)} ms, TCP connect ${ms(tcp)} ms (paid once per pooled connection)`);
}

// (1b) throughput: closed loop, a few connection counts, the best of each path.
if (runs("throughput")) {
  const durationMs = QUICK ? 2_000 : 5_000;
  const best = {};
  for (const connections of QUICK ? [64] : [16, 64, 128]) {
    for (const kind of PATH_NAMES) {
      const job = { mode: "throughput", ...stack.target(kind, false), connections, durationMs, warmupMs: 1_000 };
      // CPU each process spends per request (whole run incl. warm-up, so a slight overestimate).
      const pids = stack.pids(kind);
      const parts = PATHS[kind].cpu;
      const cpu0 = parts.map((p) => cpuMs(pids[p]));
      // --profile: the gateway's main thread during its run at 64 connections.
      const profiling = PROFILE && kind === "gateway" && connections === 64;
      if (profiling) await ask(gw, { type: "profile-start" });
      const r = await load(job);
      if (profiling) log(`    profile: ${(await ask(gw, { type: "profile-stop", file: join(PROFILE, "gateway-throughput.cpuprofile") })).file}`);
      const reqs = r.rps * (r.seconds + 1);
      const perReq = Object.fromEntries(parts.map((p, i) => [p, ((cpuMs(pids[p]) - cpu0[i]) * 1000) / reqs]));
      const cpuText = parts.map((p) => `${p} ${perReq[p].toFixed(0)} µs`).join(", ");
      // The gateway's keep-alive pool to the mTLS agent: how many TLS connections carried the run.
      const tlsConnections = kind === "gateway-mtls" ? establishedTo(Number(new URL(stack.mtls.agent.url).port)) : undefined;
      log(`    throughput ${kind.padEnd(12)} ${String(connections).padStart(3)} connections: ${r.rps.toFixed(0)} req/s (p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms, errors ${r.errors}${r.firstError ? `: ${r.firstError}` : ""}); CPU per request: ${cpuText}${tlsConnections === undefined ? "" : `; ${tlsConnections} TLS connections to the agent for ${Math.round(reqs)} requests`}`);
      if (!best[kind] || r.rps > best[kind].rps) best[kind] = { ...r, connections, cpuPerRequestUs: perReq, requests: Math.round(reqs), tlsConnections };
    }
  }
  results.throughput = best;
  log(`(1) best throughput: ${PATH_NAMES.map((k) => `${k} ${best[k].rps.toFixed(0)} req/s`).join(", ")} (issue 5's goal for the gateway path ≥ 3000 req/s)`);
  log(`    with mutual TLS on the gateway → agent hop: ${best["gateway-mtls"].rps.toFixed(0)} req/s (ratio to the plain gateway path ${(best["gateway-mtls"].rps / best.gateway.rps).toFixed(2)})`);
  log(`    with the store on PostgreSQL: ${best["gateway-pg"].rps.toFixed(0)} req/s (ratio to the gateway path on SQLite ${(best["gateway-pg"].rps / best.gateway.rps).toFixed(2)}; goal: equal within noise)`);
}

if (results.latency && results.throughput) {
  const H = (results.hotPath = hotPathRatios(results.latency, results.throughput));
  log(`(1) the hot path against bare Node relay hops, this run; goals: each hop's added p50 ≤ ${LATENCY_RATIO_GOAL}× its floor's, the gateway path's throughput ≥ ${THROUGHPUT_RATIO_GOAL}× its floor's:`);
  for (const h of H) {
    const goal = h.rpsGoal === undefined ? "" : h.rpsRatio >= h.rpsGoal ? " (meets the goal)" : " (MISSES the goal)";
    log(`    ${h.name.padEnd(12)} vs ${h.floor}: added p50 +${ms(h.added)} ms vs +${ms(h.floorAdded)} ms = ${h.latencyRatio.toFixed(2)}× (${h.latencyOk ? "meets the goal" : "MISSES the goal"}); throughput ${h.rps.toFixed(0)} vs ${h.floorRps.toFixed(0)} req/s = ${h.rpsRatio.toFixed(2)}×${goal}; hops' CPU per request ${h.cpu.toFixed(0)} vs ${h.floorCpu.toFixed(0)} µs = ${(h.cpu / h.floorCpu).toFixed(2)}×`);
  }
}

// (2a) streaming TTFT and inter-chunk gaps at low concurrency.
if (runs("stream")) {
  const rounds = QUICK ? 4 : 16;
  results.stream = {};
  // Before the measured streams, 3 rounds of 32 streams at once: every process of the path has
  // run its streaming code often enough for V8 to compile it, as a server that has been up a while.
  const warm = { warm: true, warmStreams: 32, warmRounds: 3 };
  for (const kind of PATH_NAMES) {
    // One stream at a time on a warm connection: the time to first token is the path's own.
    const res = await load({ mode: "streams", ...stack.target(kind, true), streams: 1, rounds, ...warm, expectChunks: CHUNKS, lateMs: LATE_MS });
    if (res.failed || res.lost) throw new Error(`${kind} streams failed: ${res.firstProblem}`);
    results.stream[kind] = { ttft: res.ttft.p50, gapP99: res.gap.p99 };
  }
  const S = results.stream;
  S.rounds = rounds;
  S.addedTtft = S.gateway.ttft - S.direct.ttft;
  S.addedGapP99 = S.gateway.gapP99 - S.direct.gapP99;
  log(`(2) streaming, ${CHUNKS} chunks ${INTERVAL_MS} ms apart, one stream at a time × ${rounds} on a warm connection, per path:`);
  for (const k of PATH_NAMES) log(`    ${k.padEnd(12)} TTFT p50 ${ms(S[k].ttft)} ms, p99 inter-chunk gap ${ms(S[k].gapP99)} ms`);
  log(`    added TTFT ${ms(S.addedTtft)} ms (goal ≤ 1; gateway hop ${ms(S.gateway.ttft - S.agent.ttft)} ms, agent hop ${ms(S.agent.ttft - S.direct.ttft)} ms, gateway alone ${ms(S["gateway-only"].ttft - S.direct.ttft)} ms); added p99 gap ${ms(S.addedGapP99)} ms`);
  log(`    floor, bare Node hops over direct: two +${ms(S["bare-2"].ttft - S.direct.ttft)} ms, one +${ms(S["bare-1"].ttft - S.direct.ttft)} ms`);
  log(`    mutual TLS on the gateway → agent hop adds to the TTFT: ${signed(S["gateway-mtls"].ttft - S.gateway.ttft)} ms`);
  log(`    the store on PostgreSQL instead of SQLite, TTFT: ${signed(S["gateway-pg"].ttft - S.gateway.ttft)} ms`);
}

// (2b) the most concurrent streams without a late (gap > LATE_MS) or lost chunk, per path.
if (runs("sweep")) {
  // From 25 up, so a path that cannot hold 100 fresh streams still shows what it does hold.
  const steps = QUICK ? [25, 100, 400, 1000] : [25, 50, 100, 200, 300, 400, 600, 800, 1000, 1500, 2000];
  results.maxStreams = {};
  for (const kind of ["direct", "gateway", "gateway-only"]) {
    let held = 0;
    for (const n of steps) {
      const r = await load({ mode: "streams", ...stack.target(kind, true), streams: n, expectChunks: CHUNKS, lateMs: LATE_MS });
      const clean = r.failed === 0 && r.lost === 0 && r.late === 0;
      log(`    ${kind.padEnd(12)} ${String(n).padStart(4)} streams: late ${r.late}, lost ${r.lost}, failed ${r.failed}, p99 gap ${ms(r.gap.p99)} ms, max gap ${ms(r.gap.max)} ms, TTFT p99 ${ms(r.ttft.p99)} ms${r.firstProblem ? ` (${r.firstProblem.slice(0, 120)})` : ""}`);
      if (!clean) break;
      held = n;
    }
    results.maxStreams[kind] = held;
  }
  log(`(2) most concurrent streams without a late (> ${LATE_MS} ms gap) or lost chunk: direct ${results.maxStreams.direct}, gateway path ${results.maxStreams.gateway}, gateway alone ${results.maxStreams["gateway-only"]} (steps ${steps.join(", ")})`);
}

// (3) gateway RSS holding 1,000 streams: streams made 5× longer (100 ms apart, 6.4 s) by
// restarting the agent with that knob, so all 1,000 are open at once while RSS is sampled.
if (runs("rss")) {
  await stack.restartAgent(100);
  const idle = rssBytes(gw.pid);
  let peak = idle;
  let openAt;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(gw.pid));
    } catch {
      // gateway gone: reported below
    }
  }, 50);
  const r = await load({ mode: "hold", ...stack.target("gateway", true), streams: 1000, expectChunks: CHUNKS, lateMs: 10_000 }, () => {
    openAt = rssBytes(gw.pid);
  });
  clearInterval(sampler);
  results.rss = { idle, peak, whenAllOpen: openAt, streams: r };
  log(`(3) gateway RSS: idle ${mib(idle)} MiB; all 1,000 streams open ${openAt ? mib(openAt) : "never"} MiB; peak ${mib(peak)} MiB (goal ≤ 300 MiB); streams failed ${r.failed}, lost ${r.lost}${r.firstProblem ? ` (${r.firstProblem.slice(0, 200)})` : ""}`);
}

// (4) Readiness propagation: a simulated node registered through gateway A reports the model ready
// in a heartbeat to A; timed until gateway B routes on it, as B's readiness sees it (its IPC hook;
// one clock: both are performance.timeOrigin-based wall times on this machine).
if (runs("propagation")) {
  const { gw: a, b } = stack.pg;
  const samples = QUICK ? 50 : 200;
  const PROP = "bench-propagation";
  const propReg = await stack.pg.admin("/api/models", { method: "POST", body: JSON.stringify({ name: PROP, repo: "bench/not-on-the-hub", runtime: "llama_cpp", files: ["absent.gguf"], node_selector: { role: "propagation" }, resources: { memory_mib: 1 } }) });
  if (propReg.status !== 201) throw new Error(`register ${PROP}: ${propReg.status} ${JSON.stringify(propReg.body)}`);
  const registration = { runtime_id: randomUUID(), supported_runtimes: ["llama_cpp"], loaded_models: {}, agent_url: "http://127.0.0.1:9", hostname: "bench-propagation-node", version: "bench", labels: { role: "propagation" } };
  const reg = await fetch(`${a.url}/api/nodes/register`, { method: "POST", headers: { authorization: `Bearer ${a.nodeToken}`, "content-type": "application/json" }, body: JSON.stringify(registration) });
  if (reg.status !== 200) throw new Error(`register the propagation node: ${reg.status} ${await reg.text()}`);
  const { node_secret: secret } = await reg.json();
  const changes = [];
  b.child.on("message", (m) => m?.type === "ready-change" && changes.push(m));
  await ask(b, { type: "watch", node: registration.runtime_id, model: PROP });
  const beat = (state) =>
    fetch(`${a.url}/api/nodes/${registration.runtime_id}/heartbeat`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: JSON.stringify({ ...registration, models: [{ name: PROP, state, in_flight: 0, capacity: 1 }], engines: [] }),
    }).then(async (r) => {
      if (r.status !== 200) throw new Error(`heartbeat to gateway A: ${r.status} ${await r.text()}`);
    });
  const until = async (ready) => {
    const t = Date.now();
    while (!changes.some((c) => c.ready === ready)) {
      if (Date.now() - t > 10_000) throw new Error(`gateway B never saw ready=${ready}`);
      await new Promise((r) => setTimeout(r, 1));
    }
    return changes.splice(0).find((c) => c.ready === ready);
  };
  const delays = [];
  for (let i = 0; i < samples; i++) {
    await beat("starting");
    if (i > 0) await until(false);
    const t0 = performance.timeOrigin + performance.now();
    await beat("ready");
    delays.push((await until(true)).at - t0);
    // Heartbeats at a realistic pace for one node under test: a few per second.
    await new Promise((r) => setTimeout(r, 20));
  }
  delays.sort((x, y) => x - y);
  results.propagation = { samples, p50: percentile(delays, 50), p99: percentile(delays, 99), max: delays.at(-1) };
  log(`(4) readiness propagation A → B on PostgreSQL, ${samples} changes: p50 ${ms(results.propagation.p50)} ms, p99 ${ms(results.propagation.p99)} ms, max ${ms(results.propagation.max)} ms (goal: p99 ≤ 100 ms)`);
}

results.loadAverage.after = loadAverage();
log(`load average: ${results.loadAverage.before} before, ${results.loadAverage.after} after (1, 5, 15 min; ${cpus().length} cores shared by every process above and whatever else runs)`);
await scope.cleanup();
if (ONLY) {
  log("--only: BENCHMARKS.md left as it was");
} else {
  writeSection(join(REPO_ROOT, "BENCHMARKS.md"), results, { quick: QUICK, command: COMMAND, chunks: CHUNKS, intervalMs: INTERVAL_MS, lateMs: LATE_MS, slots: SLOTS });
  log("results written to BENCHMARKS.md (## Data plane (issues 5 and 10))");
}
