#!/usr/bin/env node
// `pnpm bench` — the data-plane benchmark (issue 5). Every figure is a ratio of two paths measured
// side by side in this one run, with the same load generator (bench/load.mjs, its own process):
//   gateway path: client → gateway → agent → stand-in llama-server   (all separate processes)
//   gateway path with mutual TLS: the same through a second gateway whose agent serves HTTPS
//   gateway path on PostgreSQL: the same through a gateway whose store is PostgreSQL (started here)
//   direct path:  client → stand-in llama-server                     (a second stand-in, same knobs)
// (1) added latency p50/p99 at concurrency 1 and the highest throughput, small non-streaming chats;
// (2) streaming through a stand-in sending 64 chunks 20 ms apart: added time to first token, added
//     p99 inter-chunk gap, the most concurrent streams held without a late or lost chunk;
// (3) gateway RSS holding 1,000 concurrent streams;
// (4) readiness propagation between two gateways on PostgreSQL: a model turning ready in a
//     heartbeat to gateway A, until gateway B routes on it (p50/p99).
// Results go to BENCHMARKS.md, section "## Data plane (issue 5)". Everything on 127.0.0.1, bounded.
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Proc, cleanEnv, cpuMs, freePort, percentile, rssBytes, waitUntil } from "./lib.mjs";
import { writeSection } from "./report.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const GATEWAY = join(root, "packages/gateway/dist/main.js");
const GATEWAY_HOST = join(root, "packages/gateway/bench/gateway-host.mjs");
const AGENT = join(root, "packages/node-agent/dist/main.js");
const LLAMA = join(root, "packages/testkit/engines/llama-server.mjs");
const LOAD = join(root, "packages/gateway/bench/load.mjs");
const BARE_HOP = join(root, "packages/gateway/bench/bare-hop.mjs");
const QUICK = process.argv.includes("--quick");
// --only a,b: run just those sections (latency, throughput, stream, sweep, rss); results are then not written.
const ONLY = process.argv.includes("--only") ? new Set(process.argv[process.argv.indexOf("--only") + 1].split(",")) : undefined;
const runs = (section) => !ONLY || ONLY.has(section);
// --profile DIR: CPU profiles of the agent (node --cpu-prof, written when it stops) and of the
// gateway's main thread during its 64-connection throughput run.
const PROFILE = process.argv.includes("--profile") ? resolve(process.argv[process.argv.indexOf("--profile") + 1]) : undefined;
const profileArgs = (name) => (PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE}`, `--cpu-prof-name=${name}.cpuprofile`] : []);

for (const f of [GATEWAY, AGENT]) if (!existsSync(f)) throw new Error(`${f} is missing: run pnpm build (pnpm bench does).`);

const { startTestHub } = await import(join(root, "packages/testkit/hub/hub-server.mjs"));
const { buildTinyLlamaGguf } = await import(join(root, "packages/testkit/dist/gguf-writer.js"));

const MODEL = "bench-llm";
const BARE_MODEL = "bench-llm-bare";
const PATHS = ["direct", "agent", "gateway", "gateway-only", "gateway-mtls", "gateway-pg"];
// The floor, measured beside them: one and two of the leanest Node proxy hops there is
// (bench/bare-hop.mjs: no auth, no parsing, no validation) in front of the direct stand-in.
// "bare-2" has as many processes as the gateway path: what any two Node hops add on this machine.
const FLOORS = ["bare-1", "bare-2"];
const CHUNKS = 64;
const INTERVAL_MS = 20;
const LATE_MS = 100;
const SLOTS = 2048;
const log = (...a) => console.log(...a);
const ms = (x) => (Number.isFinite(x) ? x.toFixed(2) : String(x));
/** A difference with its sign: "+0.16", "-7.25". */
const signed = (x) => `${x >= 0 ? "+" : ""}${ms(x)}`;
const mib = (b) => (b / 1024 / 1024).toFixed(1);

const work = mkdtempSync(join(tmpdir(), "omnigate-bench-dp-"));
const procs = [];
let hub;
let pg;

async function cleanup() {
  await Promise.allSettled(procs.map((p) => p.stop(3_000)));
  await hub?.close().catch(() => {});
  await pg?.close().catch(() => {});
  rmSync(work, { recursive: true, force: true });
}
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => cleanup().then(() => process.exit(130)));

/** Stand-in knobs shared by the agent's engine and the direct stand-in. */
const standinKnobs = (intervalMs) => ({
  STANDIN_CHUNKS: String(CHUNKS),
  STANDIN_CHUNK_INTERVAL_MS: String(intervalMs),
  STANDIN_PING_EVERY: "0",
  STANDIN_LOAD_MS: "50",
});

/** `shared`: the credentials and store a cluster's gateways share (else fresh ones, SQLite). */
async function startGateway(name = "gateway", shared = undefined) {
  const adminKey = shared?.adminKey ?? `og-admin-bench-${randomBytes(12).toString("hex")}`;
  const nodeToken = shared?.nodeToken ?? `og-node-bench-${randomBytes(12).toString("hex")}`;
  const dataDir = join(work, name);
  const gw = new Proc(name, GATEWAY_HOST, [], cleanEnv({
    OMNIGATE_HOST: "127.0.0.1",
    OMNIGATE_PORT: "0",
    OMNIGATE_DATA_DIR: dataDir,
    OMNIGATE_ADMIN_KEY: adminKey,
    OMNIGATE_NODE_TOKEN: nodeToken,
    OMNIGATE_HEARTBEAT_INTERVAL_MS: "500",
    OMNIGATE_NODE_TIMEOUT_MS: "3000",
    // The gateway reads the model's GGUF header from the hub (its memory estimate) before placing it.
    HF_ENDPOINT: hub.url,
    LOG_LEVEL: "info",
    ...shared?.env,
  }), [], { ipc: true });
  procs.push(gw);
  const url = (await gw.waitFor(/omnigate gateway listening on (http:\/\/\S+)/))[1];
  return Object.assign(gw, { url, adminKey, nodeToken, dataDir });
}

/** `tls`: the agent serves HTTPS with mutual TLS on loopback too (OMNIGATE_AGENT_TLS=on). */
async function startAgent(gw, intervalMs, { name = "agent", tls = false } = {}) {
  const agent = new Proc(name, AGENT, [], cleanEnv({
    OMNIGATE_GATEWAY_URL: gw.url,
    OMNIGATE_NODE_TOKEN: gw.nodeToken,
    OMNIGATE_AGENT_HOST: "127.0.0.1",
    OMNIGATE_AGENT_PORT: "0",
    ...(tls ? { OMNIGATE_AGENT_TLS: "on" } : {}),
    OMNIGATE_STATE_DIR: join(work, `${name}-state`),
    HF_HOME: join(work, "hf"),
    HF_HUB_CACHE: join(work, "hf", "hub"),
    HF_ENDPOINT: hub.url,
    OMNIGATE_LLAMA_SERVER_BIN: LLAMA,
    OMNIGATE_WHISPER_SERVER_BIN: "/nonexistent/whisper-server",
    OMNIGATE_SD_SERVER_BIN: "/nonexistent/sd-server",
    OMNIGATE_SD_CLI_BIN: "/nonexistent/sd-cli",
    OMNIGATE_TTS_BIN: "/nonexistent/sherpa-onnx-offline-tts",
    OMNIGATE_NVIDIA_SMI_BIN: "/nonexistent/nvidia-smi",
    OMNIGATE_ENGINE_ENV_PASS: "STANDIN_*",
    OMNIGATE_LLAMA_ARGS: `-np ${SLOTS}`,
    LOG_LEVEL: "info",
    ...standinKnobs(intervalMs),
  }), profileArgs(`${name}-${intervalMs}`));
  procs.push(agent);
  const url = (await agent.waitFor(/omnigate agent listening on (https?:\/\/\S+)/))[1];
  return Object.assign(agent, { url });
}

async function startDirectStandin(ggufPath) {
  const port = await freePort();
  const p = new Proc("stand-in", LLAMA, ["-m", ggufPath, "--host", "127.0.0.1", "--port", String(port), "-np", String(SLOTS)], cleanEnv(standinKnobs(INTERVAL_MS)));
  procs.push(p);
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(async () => (await fetch(`${url}/health`)).status === 200, "direct stand-in ready");
  return Object.assign(p, { url });
}

/** bare-1: client → bare hop → direct stand-in; bare-2: client → bare hop → bare hop → direct stand-in. */
async function startBareHops(directUrl) {
  const hops = {};
  let upstream = directUrl;
  for (const name of FLOORS) {
    const hop = new Proc(name, BARE_HOP, [upstream], cleanEnv({}));
    procs.push(hop);
    upstream = (await hop.waitFor(/bare hop listening on (http:\/\/\S+)/))[1];
    hops[name] = upstream;
  }
  return hops;
}

async function api(gw, path, init = {}) {
  const res = await fetch(`${gw.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json", ...init.headers },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
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

async function waitReady(gw) {
  try {
    await waitUntil(async () => (await api(gw, `/v1/models/${MODEL}`)).body?.ready === true, `${MODEL} ready`, 60_000);
  } catch (err) {
    const model = await api(gw, `/v1/models/${MODEL}`).catch(() => undefined);
    throw new Error(`${err.message}: ${JSON.stringify(model?.body)}\n${procs.map((p) => p.tail(15)).join("\n")}`);
  }
}

/** Runs one load job in its own process; `onLine` sees progress lines. */
function load(job, onLine) {
  return new Promise((resolvePromise, reject) => {
    const p = new Proc("load", LOAD, [JSON.stringify(job)], cleanEnv({}));
    const seen = new Set();
    const poll = setInterval(() => {
      for (const line of p.lines) {
        if (seen.has(line) || !line.startsWith("{")) continue;
        seen.add(line);
        const msg = JSON.parse(line);
        if (msg.event === "result") {
          clearInterval(poll);
          resolvePromise(msg);
        } else onLine?.(msg);
      }
    }, 5);
    p.exited.then((info) => {
      setTimeout(() => {
        clearInterval(poll);
        reject(new Error(`load generator exited (${info.signal ?? info.code}) without a result\n${p.tail()}`));
      }, 50);
    });
  });
}

const chatBody = (stream, model = MODEL) =>
  JSON.stringify(stream
    ? { model, stream: true, messages: [{ role: "user", content: "stream please" }] }
    : { model, max_tokens: 8, messages: [{ role: "user", content: "hello" }] });

/**
 * A node that is just the direct stand-in: registered and heartbeating with the node protocol (the
 * bench holds the node token), reporting BARE_MODEL ready. The stand-in ignores the node secret.
 * BARE_MODEL is placed on this node alone (its label), so it is client → gateway → stand-in: the
 * gateway's own hop with no agent behind.
 */
async function startBareNode(standinUrl) {
  const registration = {
    runtime_id: randomUUID(),
    supported_runtimes: ["llama_cpp"],
    loaded_models: { llm: [BARE_MODEL] },
    agent_url: standinUrl,
    hostname: "bench-bare-node",
    version: "bench",
    labels: { role: "bare" },
  };
  const res = await fetch(`${gw.url}/api/nodes/register`, {
    method: "POST",
    headers: { authorization: `Bearer ${gw.nodeToken}`, "content-type": "application/json" },
    body: JSON.stringify(registration),
  });
  if (res.status !== 200 && res.status !== 201) throw new Error(`bare node register: ${res.status} ${await res.text()}`);
  const { node_secret: secret } = await res.json();
  const beat = () =>
    fetch(`${gw.url}/api/nodes/${registration.runtime_id}/heartbeat`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: JSON.stringify({ ...registration, models: [{ name: BARE_MODEL, state: "ready", in_flight: 0, capacity: SLOTS }], engines: [] }),
    }).then((r) => r.text(), () => undefined);
  await beat();
  const timer = setInterval(beat, 500);
  return { stop: () => clearInterval(timer) };
}

/**
 * The paths: the stand-in alone; the agent alone (node secret); the whole gateway path; and the
 * gateway alone, in front of the stand-in (a node the bench registers itself, see startBareNode).
 */
function target(kind, stream) {
  const base = { path: "/v1/chat/completions", body: chatBody(stream), headers: { "content-type": "application/json" } };
  if (kind === "gateway") return { ...base, url: gw.url, headers: { ...base.headers, authorization: `Bearer ${key}` } };
  if (kind === "gateway-mtls") return { ...base, url: gwTls.url, headers: { ...base.headers, authorization: `Bearer ${keyTls}` } };
  if (kind === "gateway-pg") return { ...base, url: gwPg.url, headers: { ...base.headers, authorization: `Bearer ${keyPg}` } };
  if (kind === "gateway-only") {
    return { ...base, body: chatBody(stream, BARE_MODEL), url: gw.url, headers: { ...base.headers, authorization: `Bearer ${key}` } };
  }
  if (kind === "agent") return { ...base, url: agentNode.agentUrl, headers: { ...base.headers, authorization: `Bearer ${agentNode.secret}` } };
  if (FLOORS.includes(kind)) return { ...base, url: bareHops[kind] };
  return { ...base, url: direct.url };
}

/** The engine process the agent started (its only child here). */
function enginePid(agentProc) {
  const children = readFileSync(`/proc/${agentProc.pid}/task/${agentProc.pid}/children`, "utf8").trim().split(/\s+/);
  return Number(children[0]);
}

// ---------------------------------------------------------------------------------------------
const loadBefore = loadavg();
log("omnigate data-plane benchmark");
log(`command: pnpm bench${QUICK ? " -- --quick" : ""}   (= npm run build && node packages/gateway/bench/run.mjs)`);
log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), Node ${process.version}; everything on 127.0.0.1`);

const gguf = buildTinyLlamaGguf();
const ggufPath = join(work, "tiny-q8_0.gguf");
writeFileSync(ggufPath, gguf);
hub = await startTestHub({ repos: { "bench/tiny-llama": { revisions: { main: { files: { "tiny-q8_0.gguf": gguf } } } } } });
const gw = await startGateway();
let agent = await startAgent(gw, INTERVAL_MS);
const direct = await startDirectStandin(ggufPath);
const bareHops = await startBareHops(direct.url);
const reg = await api(gw, "/api/models", { method: "POST", body: JSON.stringify({ name: MODEL, repo: "bench/tiny-llama", runtime: "llama_cpp", files: ["tiny-q8_0.gguf"] }) });
if (reg.status !== 201) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.body)}`);
await waitReady(gw);
const key = (await api(gw, "/api/keys", { method: "POST", body: JSON.stringify({ name: "bench" }) })).body.key;
// Bench-only: the node secret over the gateway host's IPC channel, to time the agent on its own.
const agentNode = (await gw.ask({ type: "nodes" })).nodes[0];
const bareReg = await api(gw, "/api/models", { method: "POST", body: JSON.stringify({ name: BARE_MODEL, repo: "bench/not-on-the-hub", runtime: "llama_cpp", files: ["absent.gguf"], node_selector: { role: "bare" }, resources: { memory_mib: 1 } }) });
if (bareReg.status !== 201) throw new Error(`register ${BARE_MODEL}: ${bareReg.status} ${JSON.stringify(bareReg.body)}`);
const bareNode = await startBareNode(direct.url);
await waitUntil(async () => (await api(gw, `/v1/models/${BARE_MODEL}`)).body?.ready === true, `${BARE_MODEL} ready`);
// The same path with mutual TLS on the gateway → agent hop: a second gateway whose agent serves HTTPS.
const gwTls = await startGateway("gateway-mtls");
const agentTls = await startAgent(gwTls, INTERVAL_MS, { name: "agent-mtls", tls: true });
const regTls = await api(gwTls, "/api/models", { method: "POST", body: JSON.stringify({ name: MODEL, repo: "bench/tiny-llama", runtime: "llama_cpp", files: ["tiny-q8_0.gguf"] }) });
if (regTls.status !== 201) throw new Error(`register (mTLS): ${regTls.status} ${JSON.stringify(regTls.body)}`);
await waitReady(gwTls);
const keyTls = (await api(gwTls, "/api/keys", { method: "POST", body: JSON.stringify({ name: "bench" }) })).body.key;
// The same path through a gateway whose store is PostgreSQL (a real server, started here), and a
// second gateway on the same database for the propagation section.
const { startPostgres } = await import(join(root, "packages/testkit/dist/postgres.js"));
pg = await startPostgres();
const cluster = {
  adminKey: `og-admin-bench-${randomBytes(12).toString("hex")}`,
  nodeToken: `og-node-bench-${randomBytes(12).toString("hex")}`,
  env: { OMNIGATE_DATABASE_URL: await pg.createDatabase(), OMNIGATE_CLUSTER_SECRET: `og-cluster-bench-${randomBytes(24).toString("hex")}` },
};
const gwPg = await startGateway("gateway-pg", cluster);
// The second gateway signs with the first one's cluster CA (one CA per cluster).
const gwPgB = await startGateway("gateway-pg-b", { ...cluster, env: { ...cluster.env, OMNIGATE_CLUSTER_CA_CERT_FILE: join(gwPg.dataDir, "cluster-ca.crt"), OMNIGATE_CLUSTER_CA_KEY_FILE: join(gwPg.dataDir, "cluster-ca.key") } });
const agentPg = await startAgent(gwPg, INTERVAL_MS, { name: "agent-pg" });
const regPg = await api(gwPg, "/api/models", { method: "POST", body: JSON.stringify({ name: MODEL, repo: "bench/tiny-llama", runtime: "llama_cpp", files: ["tiny-q8_0.gguf"] }) });
if (regPg.status !== 201) throw new Error(`register (PostgreSQL): ${regPg.status} ${JSON.stringify(regPg.body)}`);
await waitReady(gwPg);
const keyPg = (await api(gwPg, "/api/keys", { method: "POST", body: JSON.stringify({ name: "bench" }) })).body.key;
const capacity = (await api(gw, "/api/nodes")).body.find((n) => n.runtime_id === agentNode.runtimeId)?.models.find((m) => m.name === MODEL)?.capacity;
log(`gateway pid ${gw.pid} ${gw.url}; agent pid ${agent.pid}; direct stand-in ${direct.url}; engine slots ${SLOTS}, capacity the node reports ${capacity}`);
log(`mTLS: gateway pid ${gwTls.pid} ${gwTls.url}; agent pid ${agentTls.pid} ${agentTls.url}`);
log(`PostgreSQL ${pg.port}: gateway pid ${gwPg.pid} ${gwPg.url} (and ${gwPgB.url} for propagation); agent pid ${agentPg.pid} ${agentPg.url}`);
if (process.argv.includes("--setup-only")) {
  log(`setup only: ${JSON.stringify({ gateway: gw.url, key, direct: direct.url, gatewayPid: gw.pid, agentPid: agent.pid })}; Ctrl-C stops`);
  await new Promise(() => {});
}
const results = {};

// (1a) latency at concurrency 1: rounds alternate the paths so drift hits them alike.
if (runs("latency")) {
  const rounds = QUICK ? 2 : 5;
  const count = QUICK ? 200 : 400;
  const kinds = [...PATHS, ...FLOORS];
  const lat = Object.fromEntries(kinds.map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const kind of kinds) {
      const job = { mode: "latency", ...target(kind, false), count, warmup: 50 };
      lat[kind].push(...(await load(job)).latencies);
    }
  }
  for (const k of kinds) lat[k].sort((a, b) => a - b);
  const row = (k) => ({ p50: percentile(lat[k], 50), p99: percentile(lat[k], 99) });
  const L = (results.latency = { ...Object.fromEntries(kinds.map((k) => [k, row(k)])), n: lat.direct.length });
  L.added = { p50: L.gateway.p50 - L.direct.p50, p99: L.gateway.p99 - L.direct.p99 };
  L.gatewayHop = { p50: L.gateway.p50 - L.agent.p50, p99: L.gateway.p99 - L.agent.p99 };
  log(`(1) latency, concurrency 1, ${lat.direct.length} requests per path (${rounds} alternating rounds of ${count}):`);
  for (const k of kinds) log(`    ${k.padEnd(12)} p50 ${ms(L[k].p50)} ms  p99 ${ms(L[k].p99)} ms`);
  log(`    added by gateway + agent: p50 ${ms(L.added.p50)} ms (goal ≤ 1), p99 ${ms(L.added.p99)} ms (goal ≤ 3); of which the gateway hop: p50 ${ms(L.gatewayHop.p50)} ms, p99 ${ms(L.gatewayHop.p99)} ms; gateway alone over direct: p50 +${ms(L["gateway-only"].p50 - L.direct.p50)} ms, p99 +${ms(L["gateway-only"].p99 - L.direct.p99)} ms`);
  log(`    floor, two bare Node hops over direct: p50 +${ms(L["bare-2"].p50 - L.direct.p50)} ms, p99 +${ms(L["bare-2"].p99 - L.direct.p99)} ms (one: p50 +${ms(L["bare-1"].p50 - L.direct.p50)} ms, p99 +${ms(L["bare-1"].p99 - L.direct.p99)} ms)`);
  log(`    mutual TLS on the gateway → agent hop adds: p50 ${signed(L["gateway-mtls"].p50 - L.gateway.p50)} ms, p99 ${signed(L["gateway-mtls"].p99 - L.gateway.p99)} ms (over the plain gateway path)`);
  log(`    the store on PostgreSQL instead of SQLite: p50 ${signed(L["gateway-pg"].p50 - L.gateway.p50)} ms, p99 ${signed(L["gateway-pg"].p99 - L.gateway.p99)} ms (goal: equal within noise: nothing of the store is on a request's path)`);

  // What a connection costs, paid once per connection: a full mutual-TLS handshake with the agent
  // (a client certificate from its gateway's CA, as the gateway presents) against a TCP connect.
  const { loadCa, issueCert } = await import(join(root, "packages/testkit/dist/certs.js"));
  const ca = await loadCa(join(gwTls.dataDir, "cluster-ca.crt"), join(gwTls.dataDir, "cluster-ca.key"));
  const client = await issueCert(ca, { usage: "client" });
  const { connect: tlsConnect } = await import("node:tls");
  const { connect: tcpConnect } = await import("node:net");
  const tlsUrl = new URL(agentTls.url);
  const plainUrl = new URL(agent.url);
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

// (1b) throughput: closed loop, a few connection counts, best of each path.
if (runs("throughput")) {
  const durationMs = QUICK ? 2_000 : 5_000;
  const best = Object.fromEntries(PATHS.map((k) => [k, null]));
  const engine = enginePid(agent);
  const engineTls = enginePid(agentTls);
  const enginePg = enginePid(agentPg);
  const tlsPort = Number(new URL(agentTls.url).port);
  for (const connections of QUICK ? [64] : [16, 64, 128]) {
    for (const kind of PATHS) {
      const job = { mode: "throughput", ...target(kind, false), connections, durationMs, warmupMs: 1_000 };
      // CPU each process spends per request (whole run incl. warm-up, so a slight overestimate).
      const mtls = kind === "gateway-mtls";
      const onPg = kind === "gateway-pg";
      const pids = {
        gateway: mtls ? gwTls.pid : onPg ? gwPg.pid : gw.pid,
        agent: mtls ? agentTls.pid : onPg ? agentPg.pid : agent.pid,
        engine: kind === "direct" || kind === "gateway-only" ? direct.pid : mtls ? engineTls : onPg ? enginePg : engine,
      };
      const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));
      // --profile: the gateway's main thread during its run at 64 connections.
      const profiling = PROFILE && kind === "gateway" && connections === 64;
      if (profiling) await gw.ask({ type: "profile-start" });
      const r = await load(job);
      if (profiling) log(`    profile: ${(await gw.ask({ type: "profile-stop", file: join(PROFILE, "gateway-throughput.cpuprofile") })).file}`);
      const reqs = r.rps * (r.seconds + 1);
      const perReq = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, ((cpuMs(pid) - cpu0[k]) * 1000) / reqs]));
      const parts = { direct: ["engine"], agent: ["agent", "engine"], gateway: ["gateway", "agent", "engine"], "gateway-only": ["gateway", "engine"], "gateway-mtls": ["gateway", "agent", "engine"], "gateway-pg": ["gateway", "agent", "engine"] }[kind];
      const cpuText = parts.map((k) => `${k} ${perReq[k].toFixed(0)} µs`).join(", ");
      // The gateway's keep-alive pool to the mTLS agent: how many TLS connections carried the run.
      const tlsConnections = mtls ? establishedTo(tlsPort) : undefined;
      log(`    throughput ${kind.padEnd(7)} ${String(connections).padStart(3)} connections: ${r.rps.toFixed(0)} req/s (p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms, errors ${r.errors}${r.firstError ? `: ${r.firstError}` : ""}); CPU per request: ${cpuText}${mtls ? `; ${tlsConnections} TLS connections to the agent for ${Math.round(reqs)} requests` : ""}`);
      if (!best[kind] || r.rps > best[kind].rps) best[kind] = { ...r, connections, cpuPerRequestUs: perReq, requests: Math.round(reqs), tlsConnections };
    }
  }
  results.throughput = best;
  log(`(1) highest throughput: direct ${best.direct.rps.toFixed(0)} req/s, agent alone ${best.agent.rps.toFixed(0)} req/s, gateway path ${best.gateway.rps.toFixed(0)} req/s (ratio to direct ${(best.gateway.rps / best.direct.rps).toFixed(2)}), gateway alone ${best["gateway-only"].rps.toFixed(0)} req/s (goal ≥ 3000 req/s)`);
  log(`    with mutual TLS on the gateway → agent hop: ${best["gateway-mtls"].rps.toFixed(0)} req/s (ratio to the plain gateway path ${(best["gateway-mtls"].rps / best.gateway.rps).toFixed(2)})`);
  log(`    with the store on PostgreSQL: ${best["gateway-pg"].rps.toFixed(0)} req/s (ratio to the gateway path on SQLite ${(best["gateway-pg"].rps / best.gateway.rps).toFixed(2)}; goal: equal within noise)`);
}

// (2a) streaming TTFT and inter-chunk gaps at low concurrency.
if (runs("stream")) {
  const rounds = QUICK ? 4 : 16;
  results.stream = {};
  // Before the measured streams, 3 rounds of 32 streams at once: every process of the path has
  // run its streaming code often enough for V8 to compile it, as a server that has been up a while.
  const STREAM_WARMUP = { warm: true, warmStreams: 32, warmRounds: 3 };
  for (const kind of [...PATHS, ...FLOORS]) {
    // One stream at a time on a warm connection: the time to first token is the path's own.
    const res = await load({ mode: "streams", ...target(kind, true), streams: 1, rounds, ...STREAM_WARMUP, expectChunks: CHUNKS, lateMs: LATE_MS });
    if (res.failed || res.lost) throw new Error(`${kind} streams failed: ${res.firstProblem}`);
    results.stream[kind] = { ttft: res.ttft.p50, gapP99: res.gap.p99 };
  }
  const S = results.stream;
  S.rounds = rounds;
  S.addedTtft = S.gateway.ttft - S.direct.ttft;
  S.addedGapP99 = S.gateway.gapP99 - S.direct.gapP99;
  log(`(2) streaming, ${CHUNKS} chunks ${INTERVAL_MS} ms apart, one stream at a time × ${rounds} on a warm connection, per path:`);
  for (const k of [...PATHS, ...FLOORS]) log(`    ${k.padEnd(12)} TTFT p50 ${ms(S[k].ttft)} ms, p99 inter-chunk gap ${ms(S[k].gapP99)} ms`);
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
      const r = await load({ mode: "streams", ...target(kind, true), streams: n, expectChunks: CHUNKS, lateMs: LATE_MS });
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
  await agent.stop();
  procs.splice(procs.indexOf(agent), 1);
  const restartedAt = Date.now();
  agent = await startAgent(gw, 100);
  // The same node (runtime id) registers again; until then /api/nodes shows its old "ready".
  await waitUntil(async () => {
    const nodes = (await api(gw, "/api/nodes")).body;
    const node = nodes.find((n) => n.runtime_id === agentNode.runtimeId);
    return node && node.registered_at >= restartedAt && node.online && node.models.some((m) => m.name === MODEL && m.state === "ready");
  }, "agent back with slow streams", 60_000);
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
  const r = await load({ mode: "hold", ...target("gateway", true), streams: 1000, expectChunks: CHUNKS, lateMs: 10_000 }, (msg) => {
    if (msg.event === "open") openAt = rssBytes(gw.pid);
  });
  clearInterval(sampler);
  results.rss = { idle, peak, whenAllOpen: openAt, streams: r };
  log(`(3) gateway RSS: idle ${mib(idle)} MiB; all 1,000 streams open ${openAt ? mib(openAt) : "never"} MiB; peak ${mib(peak)} MiB (goal ≤ 300 MiB); streams failed ${r.failed}, lost ${r.lost}${r.firstProblem ? ` (${r.firstProblem.slice(0, 200)})` : ""}`);
}

// (4) Readiness propagation: a simulated node registered through gateway A (gwPg) reports the model
// ready in a heartbeat to A; timed until gateway B (gwPgB) routes on it, as B's readiness sees it
// (its IPC hook, one clock: both are performance.timeOrigin-based wall times on this machine).
if (runs("propagation")) {
  const samples = QUICK ? 50 : 200;
  const PROP = "bench-propagation";
  const propReg = await api(gwPg, "/api/models", { method: "POST", body: JSON.stringify({ name: PROP, repo: "bench/not-on-the-hub", runtime: "llama_cpp", files: ["absent.gguf"], node_selector: { role: "propagation" }, resources: { memory_mib: 1 } }) });
  if (propReg.status !== 201) throw new Error(`register ${PROP}: ${propReg.status} ${JSON.stringify(propReg.body)}`);
  const registration = { runtime_id: randomUUID(), supported_runtimes: ["llama_cpp"], loaded_models: {}, agent_url: "http://127.0.0.1:9", hostname: "bench-propagation-node", version: "bench", labels: { role: "propagation" } };
  const reg = await fetch(`${gwPg.url}/api/nodes/register`, { method: "POST", headers: { authorization: `Bearer ${gwPg.nodeToken}`, "content-type": "application/json" }, body: JSON.stringify(registration) });
  const { node_secret: secret } = await reg.json();
  const changes = [];
  gwPgB.child.on("message", (m) => m?.type === "ready-change" && changes.push(m));
  await gwPgB.ask({ type: "watch", node: registration.runtime_id, model: PROP });
  const beat = (state) =>
    fetch(`${gwPg.url}/api/nodes/${registration.runtime_id}/heartbeat`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: JSON.stringify({ ...registration, models: [{ name: PROP, state, in_flight: 0, capacity: 1 }], engines: [] }),
    }).then((r) => r.text());
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
  delays.sort((a, b) => a - b);
  results.propagation = { samples, p50: percentile(delays, 50), p99: percentile(delays, 99), max: delays.at(-1) };
  log(`(4) readiness propagation A → B on PostgreSQL, ${samples} changes: p50 ${ms(results.propagation.p50)} ms, p99 ${ms(results.propagation.p99)} ms, max ${ms(results.propagation.max)} ms (goal: p99 ≤ 100 ms)`);
}

bareNode.stop();
await cleanup();
if (ONLY) {
  log("--only: BENCHMARKS.md left as it was");
} else {
  writeSection(join(root, "BENCHMARKS.md"), results, { quick: QUICK, chunks: CHUNKS, intervalMs: INTERVAL_MS, lateMs: LATE_MS, slots: SLOTS, loadBefore });
  log("results written to BENCHMARKS.md (## Data plane (issue 5))");
}
