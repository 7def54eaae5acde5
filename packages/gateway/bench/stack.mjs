// The processes the data-plane benchmark runs, all built from the repository and on 127.0.0.1: the
// gateway (bench/gateway-host.mjs: dist's startGateway plus an IPC hook), a real agent whose engine
// is the stand-in llama-server, a second stand-in for the direct path, two bare Node relay hops in
// front of it, a node registration of that stand-in (the gateway hop alone), and a second gateway
// whose agent serves HTTPS with mutual TLS (the same path, encrypted), and two gateways sharing a
// PostgreSQL the bench starts, one with an agent (the same path, its store on PostgreSQL) and the
// other for readiness propagation between them. `target(path)`
// says how the load generator reaches each path of bench/paths.mjs; `pids(path)` which processes
// serve it.
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestHub } from "@omnigate/testkit/hub";
import { startPostgres } from "@omnigate/testkit/postgres";
import { buildTinyLlamaGguf } from "@omnigate/testkit/gguf-writer";
import { REPO_ROOT } from "@omnigate/testkit/cluster";
import { standin } from "@omnigate/testkit/stand-ins";
import { waitFor } from "@omnigate/testkit/wait";
import { ask, freePort } from "./lib.mjs";

const GATEWAY_HOST = join(REPO_ROOT, "packages/gateway/bench/gateway-host.mjs");
const AGENT = join(REPO_ROOT, "packages/node-agent/dist/main.js");
const BARE_HOP = join(REPO_ROOT, "packages/gateway/bench/bare-hop.mjs");
const LLAMA = standin("llama-server");

export const MODEL = "bench-llm";
/** Placed only on the stand-in registered as a node (its label): client → gateway → stand-in. */
const BARE_MODEL = "bench-llm-bare";

/**
 * Starts every process of the bench in `scope`. `knobs(intervalMs)`: the stand-ins' environment;
 * `profileDir`: where the agent writes its CPU profile (node --cpu-prof) when it stops;
 * `wrap`: runs one Node process ("gateway", "agent" or "bare-1") under a command (valgrind);
 * `heartbeatMs`: how often the nodes report (the gateway marks a node offline after 6 of them);
 * `mtls`: also start the "gateway-mtls" path; `pg`: also the "gateway-pg" path and its second gateway.
 */
export async function startStack(scope, { work, slots, knobs, intervalMs, profileDir, wrap, heartbeatMs = 500, mtls: mtlsPath = false, pg: pgPath = false }) {
  /** `node script`, or the wrapper running it when `wrap` names this process. */
  const spawnNode = (name, script, options) =>
    wrap?.process === name
      ? scope.spawn(wrap.command[0], { ...options, name, direct: true, args: [...wrap.command.slice(1), process.execPath, ...(options.nodeArgs ?? []), script, ...(options.args ?? [])] })
      : scope.spawn(script, { ...options, name });
  // A wrapped process starts and answers many times slower.
  const startTimeoutMs = wrap ? 300_000 : 30_000;
  const gguf = buildTinyLlamaGguf();
  const ggufPath = join(work, "tiny-q8_0.gguf");
  writeFileSync(ggufPath, gguf);
  const hub = await startTestHub({ repos: { "bench/tiny-llama": { revisions: { main: { files: { "tiny-q8_0.gguf": gguf } } } } } });
  scope.defer(() => hub.close());

  const gw = await startGatewayHost(spawnNode, work, startTimeoutMs, heartbeatMs, hub.url);
  const agentEnv = {
    OMNIGATE_AGENT_HOST: "127.0.0.1",
    OMNIGATE_AGENT_PORT: "0",
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
    OMNIGATE_LLAMA_ARGS: `-np ${slots}`,
    LOG_LEVEL: "info",
  };
  /**
   * An agent of `gateway`, its engine's chunks `ms` apart (restarted with slower streams for the RSS
   * run); `tls`: it serves HTTPS with mutual TLS on loopback too (OMNIGATE_AGENT_TLS=on).
   */
  const startAgent = async (ms, { name = "agent", gateway = gw, tls = false } = {}) => {
    const profile = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}-${ms}.cpuprofile`] : [];
    const env = {
      ...agentEnv,
      ...knobs(ms),
      OMNIGATE_GATEWAY_URL: gateway.url,
      OMNIGATE_NODE_TOKEN: gateway.nodeToken,
      OMNIGATE_STATE_DIR: join(work, `${name}-state`),
      ...(tls ? { OMNIGATE_AGENT_TLS: "on" } : {}),
    };
    const agent = spawnNode(name, AGENT, { env, nodeArgs: profile });
    const url = (await agent.waitForLine(/omnigate agent listening on (https?:\/\/\S+)/, startTimeoutMs))[1];
    return Object.assign(agent, { url });
  };
  let agent = await startAgent(intervalMs);

  const port = await freePort();
  const direct = scope.spawn(LLAMA, { name: "stand-in", args: ["-m", ggufPath, "--host", "127.0.0.1", "--port", String(port), "-np", String(slots)], env: knobs(intervalMs) });
  const directUrl = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${directUrl}/health`)).status === 200, { timeoutMs: 30_000, what: "the direct stand-in ready" });

  // bare-1: client → bare hop → stand-in; bare-2: client → bare hop → bare-1 → stand-in.
  const bare = {};
  let upstream = directUrl;
  for (const name of ["bare-1", "bare-2"]) {
    const hop = spawnNode(name, BARE_HOP, { args: [upstream] });
    upstream = (await hop.waitForLine(/bare hop listening on (http:\/\/\S+)/, startTimeoutMs))[1];
    bare[name] = { proc: hop, url: upstream };
  }

  const admin = (path, init = {}) => adminApi(gw, path, init);
  /** Registers MODEL on `gateway`, waits until it is ready and makes a client key. */
  const serveModel = async (gateway) => {
    const api = (path, init = {}) => adminApi(gateway, path, init);
    const registered = await api("/api/models", { method: "POST", body: JSON.stringify({ name: MODEL, repo: "bench/tiny-llama", runtime: "llama_cpp", files: ["tiny-q8_0.gguf"] }) });
    if (registered.status !== 201) throw new Error(`register: ${registered.status} ${JSON.stringify(registered.body)}`);
    await waitFor(async () => (await api(`/v1/models/${MODEL}`)).body?.ready === true, {
      timeoutMs: 2 * startTimeoutMs,
      what: () => `${MODEL} ready\n${scope.diagnostics()}`,
    });
    return (await api("/api/keys", { method: "POST", body: JSON.stringify({ name: "bench" }) })).body.key;
  };
  const key = await serveModel(gw);
  // bare-e: client → bare hop → the agent's own engine, the agent hop's floor (the same upstream
  // process as the agent's, as bare-1 has the direct stand-in the gateway hop alone calls).
  const enginePort = JSON.parse(agent.lines.find((l) => l.includes('"engine started"')) ?? "{}").port;
  if (!enginePort) throw new Error(`the agent logged no "engine started" line with its port\n${scope.diagnostics()}`);
  const engineUrl = `http://127.0.0.1:${enginePort}`;
  {
    const hop = spawnNode("bare-e", BARE_HOP, { args: [engineUrl] });
    bare["bare-e"] = { proc: hop, url: (await hop.waitForLine(/bare hop listening on (http:\/\/\S+)/, startTimeoutMs))[1] };
  }
  // Bench-only: the node secret over the gateway host's IPC channel, to time the agent on its own.
  const agentNode = (await ask(gw, { type: "nodes" })).nodes[0];
  const bareRegistered = await admin("/api/models", {
    method: "POST",
    body: JSON.stringify({ name: BARE_MODEL, repo: "bench/not-on-the-hub", runtime: "llama_cpp", files: ["absent.gguf"], node_selector: { role: "bare" }, resources: { memory_mib: 1 } }),
  });
  if (bareRegistered.status !== 201) throw new Error(`register ${BARE_MODEL}: ${bareRegistered.status} ${JSON.stringify(bareRegistered.body)}`);
  const bareNode = await registerStandinAsNode(gw, directUrl, slots, heartbeatMs);
  scope.defer(() => bareNode.stop());
  await waitFor(async () => (await admin(`/v1/models/${BARE_MODEL}`)).body?.ready === true, { timeoutMs: startTimeoutMs, what: `${BARE_MODEL} ready` });
  const capacity = (await admin("/api/nodes")).body.find((n) => n.runtime_id === agentNode.runtimeId)?.models.find((m) => m.name === MODEL)?.capacity;
  // The same path with mutual TLS on the gateway → agent hop: a second gateway (its own cluster CA)
  // whose agent serves HTTPS. Not under a wrapper (bench:instructions counts the plain hops).
  const mtls = mtlsPath ? await (async () => {
    const gateway = await startGatewayHost(spawnNode, work, startTimeoutMs, heartbeatMs, hub.url, "gateway-mtls");
    const tlsAgent = await startAgent(intervalMs, { name: "agent-mtls", gateway, tls: true });
    return { gw: gateway, agent: tlsAgent, key: await serveModel(gateway) };
  })() : undefined;
  // The same path through a gateway whose store is PostgreSQL, and a second gateway of that cluster
  // (the same credentials, the first one's cluster CA) for readiness propagation between them.
  const pg = pgPath ? await (async () => {
    const server = await startPostgres();
    scope.defer(() => server.close());
    const shared = {
      adminKey: `og-admin-bench-${randomBytes(12).toString("hex")}`,
      nodeToken: `og-node-bench-${randomBytes(12).toString("hex")}`,
      env: { OMNIGATE_DATABASE_URL: await server.createDatabase(), OMNIGATE_CLUSTER_SECRET: `og-cluster-bench-${randomBytes(24).toString("hex")}` },
    };
    const a = await startGatewayHost(spawnNode, work, startTimeoutMs, heartbeatMs, hub.url, "gateway-pg", shared);
    const caFiles = { OMNIGATE_CLUSTER_CA_CERT_FILE: join(a.dataDir, "cluster-ca.crt"), OMNIGATE_CLUSTER_CA_KEY_FILE: join(a.dataDir, "cluster-ca.key") };
    const b = await startGatewayHost(spawnNode, work, startTimeoutMs, heartbeatMs, hub.url, "gateway-pg-b", { ...shared, env: { ...shared.env, ...caFiles } });
    const pgAgent = await startAgent(intervalMs, { name: "agent-pg", gateway: a });
    return { server, gw: a, b, agent: pgAgent, key: await serveModel(a), admin: (path, init = {}) => adminApi(a, path, init) };
  })() : undefined;

  const chatBody = (stream, model) =>
    JSON.stringify(stream
      ? { model, stream: true, messages: [{ role: "user", content: "stream please" }] }
      : { model, max_tokens: 8, messages: [{ role: "user", content: "hello" }] });
  const bearer = (credential) => ({ "content-type": "application/json", authorization: `Bearer ${credential}` });
  return {
    gw,
    get agent() {
      return agent;
    },
    key,
    directUrl,
    capacity,
    admin,
    /** The "gateway-mtls" path's gateway (its data dir holds the cluster CA), agent and key, when started. */
    mtls,
    /** The "gateway-pg" path's server, gateway, second gateway (`b`), agent, key and admin API, when started. */
    pg,
    /** The load generator's job fields for one path (bench/load.mjs). */
    target(path, stream) {
      const job = (url, model, headers) => ({ url, path: "/v1/chat/completions", body: chatBody(stream, model), headers });
      switch (path) {
        case "gateway":
          return job(gw.url, MODEL, bearer(key));
        case "gateway-only":
          return job(gw.url, BARE_MODEL, bearer(key));
        case "gateway-mtls":
          return job(mtls.gw.url, MODEL, bearer(mtls.key));
        case "gateway-pg":
          return job(pg.gw.url, MODEL, bearer(pg.key));
        case "agent":
          return job(agentNode.agentUrl, MODEL, bearer(agentNode.secret));
        case "bare-1":
        case "bare-2":
        case "bare-e":
          return job(bare[path].url, MODEL, { "content-type": "application/json" });
        case "engine":
          return job(engineUrl, MODEL, { "content-type": "application/json" });
        default:
          return job(directUrl, MODEL, { "content-type": "application/json" });
      }
    },
    /** Process ids by the names paths.mjs uses (`engine` is the stand-in that answers `path`). */
    pids(path) {
      if (path === "gateway-mtls") return { gateway: mtls.gw.pid, agent: mtls.agent.pid, engine: enginePid(mtls.agent) };
      if (path === "gateway-pg") return { gateway: pg.gw.pid, agent: pg.agent.pid, engine: enginePid(pg.agent) };
      const viaAgent = path === "agent" || path === "gateway" || path === "engine" || path === "bare-e";
      return { gateway: gw.pid, agent: agent.pid, engine: viaAgent ? enginePid(agent) : direct.pid, "bare-1": bare["bare-1"].proc.pid, "bare-2": bare["bare-2"].proc.pid, "bare-e": bare["bare-e"].proc.pid };
    },
    /** Restarts the agent with chunks `ms` apart; resolves once the gateway sees its model ready again. */
    async restartAgent(ms) {
      await agent.stop();
      const restartedAt = Date.now();
      agent = await startAgent(ms);
      // The same node (runtime id) registers again; until then /api/nodes shows its old "ready".
      await waitFor(async () => {
        const node = (await admin("/api/nodes")).body.find((n) => n.runtime_id === agentNode.runtimeId);
        return node && node.registered_at >= restartedAt && node.online && node.models.some((m) => m.name === MODEL && m.state === "ready");
      }, { timeoutMs: 60_000, what: "the agent back with slow streams" });
    },
  };
}

/**
 * The gateway as dist/main.js runs it, in the bench host that answers questions over IPC. `shared`:
 * the credentials and store a cluster's gateways share (else fresh credentials, SQLite).
 */
async function startGatewayHost(spawnNode, work, startTimeoutMs, heartbeatMs, hubUrl, name = "gateway", shared = undefined) {
  const adminKey = shared?.adminKey ?? `og-admin-bench-${randomBytes(12).toString("hex")}`;
  const nodeToken = shared?.nodeToken ?? `og-node-bench-${randomBytes(12).toString("hex")}`;
  const dataDir = join(work, name);
  const gw = spawnNode(name, GATEWAY_HOST, {
    ipc: true,
    env: {
      OMNIGATE_HOST: "127.0.0.1",
      OMNIGATE_PORT: "0",
      OMNIGATE_DATA_DIR: dataDir,
      OMNIGATE_ADMIN_KEY: adminKey,
      OMNIGATE_NODE_TOKEN: nodeToken,
      OMNIGATE_HEARTBEAT_INTERVAL_MS: String(heartbeatMs),
      OMNIGATE_NODE_TIMEOUT_MS: String(6 * heartbeatMs),
      // The gateway reads the model's GGUF header from the hub (its memory estimate) before placing it.
      HF_ENDPOINT: hubUrl,
      LOG_LEVEL: "info",
      ...shared?.env,
    },
  });
  const url = (await gw.waitForLine(/omnigate gateway listening on (http:\/\/\S+)/, startTimeoutMs))[1];
  return Object.assign(gw, { url, adminKey, nodeToken, dataDir });
}

async function adminApi(gw, path, init) {
  const res = await fetch(`${gw.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json", ...init.headers },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/**
 * A node that is just the direct stand-in: registered and heartbeating with the node protocol (the
 * bench holds the node token), reporting BARE_MODEL ready. The stand-in ignores the node secret.
 * BARE_MODEL is placed on this node alone (its label), so it is client → gateway → stand-in: the
 * gateway's own hop with no agent behind.
 */
async function registerStandinAsNode(gw, standinUrl, slots, heartbeatMs) {
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
      body: JSON.stringify({ ...registration, models: [{ name: BARE_MODEL, state: "ready", in_flight: 0, capacity: slots }], engines: [] }),
    }).then((r) => r.text(), () => undefined);
  await beat();
  const timer = setInterval(beat, heartbeatMs);
  return { stop: () => clearInterval(timer) };
}

/** The engine process the agent started (its only child here). */
function enginePid(agent) {
  const children = readFileSync(`/proc/${agent.pid}/task/${agent.pid}/children`, "utf8").trim().split(/\s+/);
  return Number(children[0]);
}
