/**
 * Models across real processes: the built gateway and agent, the test hub (a real HTTP server
 * speaking the Hub's protocol) and the stand-in llama-server. A model registered at the gateway is
 * assigned, pulled, verified, started and reported ready; deletion reaches online nodes at once and
 * offline ones when they return; a silent node gets no traffic.
 */
import { readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ModelListEntry, ModelState } from "@omnigate/shared/models";
import { buildTinyLlamaGguf } from "@omnigate/testkit/gguf-writer";
import { startTestHub, type TestHub } from "@omnigate/testkit/hub";
import { standInEngineEnv } from "@omnigate/testkit/stand-ins";
import { GatewayApi, httpJson } from "@omnigate/testkit/gateway-api";
import { TestScope } from "@omnigate/testkit/scope";
import {
  restartAgent,
  restartGateway,
  startAgent,
  startCluster,
  startGateway,
  type AgentProcess,
  type GatewayProcess,
} from "@omnigate/testkit/cluster";
import { waitFor } from "@omnigate/testkit/wait";

const REPO = "test-org/tiny-llama";
const MODEL = "test-org/tiny-llama";
const GGUF = buildTinyLlamaGguf();
/** A repo of quantizations, as GGUF publishers lay them out. */
const QUANTS = "test-org/tiny-quants";
const QUANT_FILES = {
  "tiny-Q2_K.gguf": buildTinyLlamaGguf({ seed: 2 }),
  "tiny-Q4_K_M.gguf": buildTinyLlamaGguf({ seed: 4 }),
  "tiny-Q8_0.gguf": buildTinyLlamaGguf({ seed: 8 }),
  "README.md": "# quants\n",
};
/** A repo in another format: nothing in it can serve llama-server. */
const NO_GGUF = "test-org/safetensors-only";

const scope = new TestScope();
let hub: TestHub;

beforeEach(async () => {
  hub = await startTestHub({
    repos: {
      [REPO]: { revisions: { main: { files: { "tiny-q8_0.gguf": GGUF, "README.md": "# tiny llama\n" } } } },
      [QUANTS]: { revisions: { main: { files: QUANT_FILES } } },
      [NO_GGUF]: { revisions: { main: { files: { "model.safetensors": Buffer.alloc(4096, 7), "config.json": "{}" } } } },
    },
  });
});

afterEach(async () => {
  await scope.cleanup();
  await hub.close();
});

/** Every file under `dir` (relative), [] when it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

const repoCacheDir = (agent: AgentProcess, repo = REPO) => join(agent.hfHome, "hub", `models--${repo.replace("/", "--")}`);

interface Stack {
  gateway: GatewayProcess;
  agent: AgentProcess;
  api: GatewayApi;
}

async function startStack(options: { nodeTimeoutMs?: number } = {}): Promise<Stack> {
  const { gateway, agents } = await startCluster(scope, {
    gateway: { heartbeatIntervalMs: 200, nodeTimeoutMs: options.nodeTimeoutMs ?? 2_000, env: { OMNIGATE_NODE_CALL_TIMEOUT_MS: "1000", HF_ENDPOINT: hub.url } },
    agentEnv: { HF_ENDPOINT: hub.url, ...standInEngineEnv() },
  });
  const agent = agents[0]!;
  const api = new GatewayApi(gateway);
  expect((await api.node(agent.runtimeId))?.supported_runtimes).toEqual(["llama_cpp"]);
  return { gateway, agent, api };
}

async function registerAndWaitReady(s: Stack): Promise<ModelListEntry> {
  const res = await s.api.registerModel({ repo: REPO, files: ["*.gguf"] });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return waitFor(async () => {
    const entry = await s.api.model(MODEL);
    return entry?.ready ? entry : undefined;
  }, { what: `${MODEL} ready`, timeoutMs: 20_000 });
}

const chat = (s: Stack, key = s.gateway.adminKey) =>
  httpJson<{ choices?: unknown[]; error?: { code: string; message: string } }>(`${s.gateway.url}/v1/chat/completions`, {
    token: key,
    json: { model: MODEL, messages: [{ role: "user", content: "hello" }], max_tokens: 4 },
  });

describe("models end to end (gateway + agent + test hub + stand-in llama-server)", () => {
  it("assigns a registered model, reports each state, and shows it ready with its node in /v1/models", async () => {
    const s = await startStack();
    // Slow the download so the intermediate states are visible to a poller.
    hub.addRule({ repo: REPO, path: "tiny-q8_0.gguf", stage: "bytes", bytesPerSec: 150_000 });
    const res = await s.api.registerModel({ repo: REPO, files: ["*.gguf"] });
    expect(res.status).toBe(201);
    const seen: ModelState[] = [];
    const percents: number[] = [];
    const ready = await waitFor(
      async () => {
        const entry = await s.api.model(MODEL);
        const node = entry?.nodes.find((n) => n.runtime_id === s.agent.runtimeId);
        if (node && seen.at(-1) !== node.state) seen.push(node.state);
        if (node?.progress && node.state === "downloading") percents.push(node.progress.percent);
        return entry?.ready ? entry : undefined;
      },
      { what: "ready", timeoutMs: 20_000, intervalMs: 50 },
    );
    expect(seen).toContain("downloading");
    // A download in progress shows through: some report strictly between 0 and 100 %.
    expect(percents.some((p) => p > 0 && p < 100), `percents seen: ${percents.join(", ")}`).toBe(true);
    expect(seen.at(-1)).toBe("ready");
    // Monotone: never back to an earlier state on the way up.
    const order: ModelState[] = ["pending", "downloading", "verifying", "starting", "ready"];
    expect(seen.map((st) => order.indexOf(st))).toEqual([...seen.map((st) => order.indexOf(st))].sort((a, b) => a - b));
    expect(ready).toMatchObject({
      id: MODEL,
      ready: true,
      runtime: "llama_cpp",
      capabilities: ["chat", "completion", "embedding"],
      nodes: [{ runtime_id: s.agent.runtimeId, ready: true, state: "ready" }],
    });
    const node = (await s.api.node(s.agent.runtimeId))!;
    expect(node.loaded_models.llm).toEqual([MODEL]);
    expect(node.models).toEqual([expect.objectContaining({ name: MODEL, state: "ready" })]);
    expect(node.engines).toEqual([expect.objectContaining({ model: MODEL, runtime: "llama_cpp", up: true })]);
    // Verified files in the HF cache layout.
    expect(await filesUnder(repoCacheDir(s.agent))).toEqual(expect.arrayContaining([expect.stringMatching(/^snapshots\/[0-9a-f]{40}\/tiny-q8_0\.gguf$/)]));
    // And it answers through the gateway.
    const answer = await chat(s);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.choices).toHaveLength(1);
  });

  it("registered without 'files', a GGUF repo of quantizations pulls and serves only Q4_K_M", async () => {
    const s = await startStack();
    expect((await s.api.registerModel({ repo: QUANTS, runtime: "llama_cpp" })).status).toBe(201);
    const ready = await waitFor(async () => {
      const entry = await s.api.model(QUANTS);
      return entry?.ready ? entry : undefined;
    }, { what: `${QUANTS} ready`, timeoutMs: 20_000 });
    expect(ready.nodes).toEqual([expect.objectContaining({ runtime_id: s.agent.runtimeId, state: "ready" })]);
    const files = await filesUnder(repoCacheDir(s.agent, QUANTS));
    expect(files.filter((f) => f.startsWith("snapshots/")).map((f) => f.replace(/^snapshots\/[0-9a-f]{40}\//, ""))).toEqual(["tiny-Q4_K_M.gguf"]);
    expect(files.filter((f) => f.startsWith("blobs/"))).toHaveLength(1);
    // The agent downloaded Q4_K_M alone; the gateway read only its header (Range) for the estimate.
    const reads = hub.log.filter((e) => e.stage === "bytes" && e.method === "GET");
    expect(reads.filter((e) => e.range === null).map((e) => e.path)).toEqual(["tiny-Q4_K_M.gguf"]);
    expect(new Set(reads.map((e) => e.path))).toEqual(new Set(["tiny-Q4_K_M.gguf"]));
    const answer = await httpJson<{ choices?: unknown[] }>(`${s.gateway.url}/v1/chat/completions`, {
      token: s.gateway.adminKey,
      json: { model: QUANTS, messages: [{ role: "user", content: "hello" }], max_tokens: 4 },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  });

  it("registered without 'files', a repo with no GGUF fails with the reason and downloads nothing", async () => {
    const s = await startStack();
    expect((await s.api.registerModel({ name: "no-gguf", repo: NO_GGUF, runtime: "llama_cpp" })).status).toBe(201);
    const why = "it has no .gguf model file for llama-server (it has config.json, model.safetensors)";
    // The gateway's estimate reads the file list first: placed nowhere, with the reason.
    const unplaced = await waitFor(async () => {
      const entry = await s.api.model("no-gguf");
      return entry?.placement_errors[0]?.includes(why) ? entry : undefined;
    }, { what: "no-gguf unplaced with the reason" });
    expect(unplaced.placement_errors[0]).toContain(`cannot be placed: '${NO_GGUF}' at revision 'main' cannot be served without 'files': ${why}`);
    expect(unplaced.nodes).toEqual([]);
    const refused = await httpJson<{ error?: { code: string; message: string } }>(`${s.gateway.url}/v1/chat/completions`, {
      token: s.gateway.adminKey,
      json: { model: "no-gguf", messages: [{ role: "user", content: "hello" }] },
    });
    expect([refused.status, refused.body.error?.code]).toEqual([503, "model_unplaced"]);
    expect(refused.body.error?.message).toContain(why);
    // Placed anyway (a memory figure needs no estimate), the node fails on the same pick and says so.
    expect((await s.api.call(`/api/models/no-gguf`, { method: "PATCH", json: { resources: { memory_mib: 64 } } })).status).toBe(200);
    const failed = await waitFor(async () => {
      const node = (await s.api.model("no-gguf"))?.nodes[0];
      return node?.state === "failed" ? node : undefined;
    }, { what: "no-gguf failed", timeoutMs: 20_000 });
    expect(failed.error).toContain(`'${NO_GGUF}' at revision 'main' cannot be pulled without 'files': it has no .gguf model file for llama-server (it has config.json, model.safetensors)`);
    expect(hub.log.filter((e) => e.stage === "bytes" && e.repo === NO_GGUF)).toEqual([]);
  });

  it("reports a failed pull with its reason, and readiness says so", async () => {
    const s = await startStack();
    hub.addRule({ repo: REPO, path: "tiny-q8_0.gguf", status: 403, errorMessage: "Access to this file is restricted" });
    // A memory figure, so the gateway reads no header and the refusal reaches the node's pull.
    await s.api.registerModel({ repo: REPO, files: ["*.gguf"], resources: { memory_mib: 64 } });
    const failed = await waitFor(async () => {
      const node = (await s.api.model(MODEL))?.nodes[0];
      return node?.state === "failed" ? node : undefined;
    }, { what: "failed", timeoutMs: 20_000 });
    expect(failed.error).toMatch(/403|restricted|forbidden|access/i);
    const res = await chat(s);
    expect(res.status).toBe(503);
    expect(res.body.error?.code).toBe("model_not_ready");
    expect(res.body.error?.message).toContain("failed");
    expect(res.headers.get("retry-after")).toBeTruthy();
  });

  it("deletes at once on an online node: engine stopped, cache files gone, before DELETE answers", async () => {
    const s = await startStack();
    await registerAndWaitReady(s);
    expect((await filesUnder(repoCacheDir(s.agent))).length).toBeGreaterThan(0);
    const res = await s.api.deleteModel(MODEL);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: MODEL, deleted: true, nodes: [{ runtime_id: s.agent.runtimeId, outcome: "deleted" }] });
    expect(await filesUnder(repoCacheDir(s.agent))).toEqual([]);
    const node = (await s.api.node(s.agent.runtimeId))!;
    // The immediate heartbeat after the delete already carries the news.
    await waitFor(async () => {
      const n = await s.api.node(s.agent.runtimeId);
      return n && n.models.length === 0 && n.engines.length === 0 && n.loaded_models.llm.length === 0;
    }, { what: "the node to report the model gone" });
    expect(node.online).toBe(true);
    expect((await s.api.listModels()).body.data).toEqual([]);
  });

  it("one DELETE: the online node deletes at once, the paused one when it answers again", async () => {
    const { gateway, agents } = await startCluster(scope, {
      agents: 2,
      gateway: { heartbeatIntervalMs: 200, nodeTimeoutMs: 10_000, env: { OMNIGATE_NODE_CALL_TIMEOUT_MS: "1000", HF_ENDPOINT: hub.url } },
      agentEnv: { HF_ENDPOINT: hub.url, ...standInEngineEnv() },
    });
    const [online, paused] = agents as [AgentProcess, AgentProcess];
    const api = new GatewayApi(gateway);
    expect((await api.registerModel({ repo: REPO, files: ["*.gguf"], replicas: "all" })).status).toBe(201);
    await waitFor(async () => (await api.model(MODEL))?.nodes.filter((n) => n.ready).length === 2, { what: "ready on both", timeoutMs: 20_000 });
    paused.pause();
    try {
      const res = await api.deleteModel(MODEL);
      expect(res.status).toBe(200);
      const outcomes = Object.fromEntries(res.body.nodes.map((n) => [n.runtime_id, n.outcome]));
      expect(outcomes).toEqual({ [online.runtimeId]: "deleted", [paused.runtimeId]: "deferred" });
      expect(await filesUnder(repoCacheDir(online))).toEqual([]);
      expect((await filesUnder(repoCacheDir(paused))).length).toBeGreaterThan(0);
    } finally {
      paused.resume();
    }
    await waitFor(async () => (await filesUnder(repoCacheDir(paused))).length === 0, { what: "the paused node's files to go", timeoutMs: 15_000 });
    await waitFor(async () => (await api.node(paused.runtimeId))?.models.length === 0, { what: "the paused node to report no models" });
  });

  it("deletes on a node that was down during the DELETE when it is restarted", async () => {
    const s = await startStack();
    await registerAndWaitReady(s);
    const enginePid = (await s.api.node(s.agent.runtimeId))!.engines[0]!.pid!;
    // A crash: the engine (its own process group) outlives the agent.
    await s.agent.kill();
    expect(isAlive(enginePid)).toBe(true);
    const res = await s.api.deleteModel(MODEL);
    expect(res.status).toBe(200);
    expect(res.body.nodes).toEqual([expect.objectContaining({ outcome: "deferred" })]);
    expect((await filesUnder(repoCacheDir(s.agent))).length).toBeGreaterThan(0);
    const again = await restartAgent(scope, s.agent);
    expect(again.runtimeId).toBe(s.agent.runtimeId);
    await waitFor(async () => (await filesUnder(repoCacheDir(again))).length === 0, { what: "the cache files to go after restart", timeoutMs: 15_000 });
    // The restarted agent reaped the engine its predecessor left behind.
    expect(isAlive(enginePid)).toBe(false);
  });

  it("a node that times out gets no traffic: 503 no_capable_node, then serves again when it resumes", async () => {
    const s = await startStack({ nodeTimeoutMs: 1_000 });
    await registerAndWaitReady(s);
    expect((await chat(s)).status).toBe(200);
    s.agent.pause();
    try {
      await waitFor(async () => (await s.api.node(s.agent.runtimeId))?.online === false, { what: "offline" });
      const res = await chat(s);
      expect(res.status).toBe(503);
      expect(res.body.error?.code).toBe("no_capable_node");
      expect((await s.api.model(MODEL))?.ready).toBe(false);
    } finally {
      s.agent.resume();
    }
    await waitFor(async () => (await s.api.model(MODEL))?.ready === true, { what: "ready again" });
    expect((await chat(s)).status).toBe(200);
  });

  it("after a gateway crash the agent re-registers and the model is ready again without a new download", async () => {
    const s = await startStack();
    await registerAndWaitReady(s);
    const key = await s.api.createKey("survives-restart");
    const downloads = hub.log.filter((e) => e.stage === "bytes" || e.stage === "get").length;
    const gateway = await restartGateway(scope, s.gateway, "kill");
    const api = new GatewayApi(gateway);
    const entry = await waitFor(async () => {
      const m = await api.model(MODEL, key.key);
      return m?.ready ? m : undefined;
    }, { what: "ready after the gateway restart", timeoutMs: 20_000 });
    expect(entry.nodes).toEqual([expect.objectContaining({ runtime_id: s.agent.runtimeId, state: "ready" })]);
    expect(hub.log.filter((e) => e.stage === "bytes" || e.stage === "get").length).toBe(downloads);
    expect((await chat({ ...s, gateway, api }, key.key)).status).toBe(200);
  });

  it("reports state changes at once, not at the next heartbeat tick", async () => {
    // Heartbeats every 30 s: only the immediate heartbeats on state changes can make this fast.
    const gateway = await startGateway(scope, { heartbeatIntervalMs: 30_000, nodeTimeoutMs: 120_000, env: { HF_ENDPOINT: hub.url } });
    const api = new GatewayApi(gateway);
    expect((await api.registerModel({ repo: REPO, files: ["*.gguf"] })).status).toBe(201);
    const agent = await startAgent(scope, { gateway, env: { HF_ENDPOINT: hub.url, ...standInEngineEnv() } });
    // Registration, then the first heartbeat fetches the desired set; every later state arrives by nudge.
    const entry = await waitFor(async () => {
      const m = await api.model(MODEL);
      return m?.ready ? m : undefined;
    }, { what: "ready well before the second tick", timeoutMs: 15_000 });
    expect(entry.nodes[0]!.runtime_id).toBe(agent.runtimeId);
  });

  it("stops its engines and exits 0 on SIGTERM", async () => {
    const s = await startStack();
    await registerAndWaitReady(s);
    const pid = (await s.api.node(s.agent.runtimeId))!.engines[0]!.pid;
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid!)).toBe(true);
    const exit = await s.agent.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(isAlive(pid!)).toBe(false);
    // Files stay: a restart serves from the cache.
    expect((await filesUnder(repoCacheDir(s.agent))).length).toBeGreaterThan(0);
  });
});

/** Alive and not a zombie (an orphan's zombie may linger when PID 1 does not reap). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/\)\s+Z\s/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return process.platform !== "linux";
  }
}
