// Several gateways on one PostgreSQL (started by the suite), as real processes: two gateways, two
// agents given both gateways, and a client sending traffic the whole time.
import { afterEach, describe, expect, it } from "vitest";
import { fetch } from "undici";
import { startAgent, startGateway, type AgentProcess, type GatewayProcess } from "@omnigate/testkit/cluster";
import { GatewayApi } from "@omnigate/testkit/gateway-api";
import { clusterSecrets, startClusterGateway, type ClusterSecrets } from "@omnigate/testkit/ha-cluster";
import { TestScope } from "@omnigate/testkit/scope";
import { standInEngineEnv } from "@omnigate/testkit/stand-ins";
import { waitFor } from "@omnigate/testkit/wait";
import pgDriver from "pg";
import { NodeSecrets } from "../src/nodes/node-secrets.js";
import { TABLES } from "../src/store/store-contract.js";
import { MODELS, startHub, waitForReady } from "@omnigate/testkit/e2e-stack";
import { EventTap } from "./event-tap.js";
import { suitePostgres } from "./helpers/postgres-suite.js";

const { Client: pgClient } = pgDriver;

const NODE_TIMEOUT_MS = 2_000;

const pg = suitePostgres();

const scope = new TestScope();
afterEach(() => scope.cleanup());

interface Cluster {
  readonly secrets: ClusterSecrets;
  readonly databaseUrl: string;
  readonly gateways: GatewayProcess[];
  readonly agents: AgentProcess[];
  readonly hubUrl: string;
}

/** Two gateways and `agents` agents; each agent is given `agentGateways` (by default both, A first). */
async function startCluster(agents: number, agentGateways = (gateways: GatewayProcess[]) => gateways.map((g) => g.url).join(",")): Promise<Cluster> {
  const hub = await startHub(scope, ["llm"]);
  const databaseUrl = await pg().createDatabase();
  const secrets = await clusterSecrets(scope);
  const options = { heartbeatIntervalMs: 200, nodeTimeoutMs: NODE_TIMEOUT_MS, env: { HF_ENDPOINT: hub.url, LOG_LEVEL: "info" } };
  // Started together: the second waits for the first's migrations (advisory lock), neither races.
  const gateways = await Promise.all([startClusterGateway(scope, secrets, databaseUrl, options), startClusterGateway(scope, secrets, databaseUrl, options)]);
  const started = await Promise.all(
    Array.from({ length: agents }, () =>
      startAgent(scope, {
        gateway: { url: agentGateways(gateways), nodeToken: secrets.nodeToken, nodeTokenFile: null },
        env: { HF_ENDPOINT: hub.url, LOG_LEVEL: "info", STANDIN_LOAD_MS: "50", ...standInEngineEnv(["OMNIGATE_LLAMA_SERVER_BIN"]) },
      }),
    ),
  );
  return { secrets, databaseUrl, gateways, agents: started, hubUrl: hub.url };
}

function chat(gateway: string, key: string, model = "llm") {
  return fetch(`${gateway}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
    signal: AbortSignal.timeout(10_000),
  });
}

/**
 * A client that keeps sending chat completions, to one gateway until it cannot connect, then to the
 * other (a request that got no answer at all is sent again there): what a client behind a TCP load
 * balancer, or with both gateways configured, does.
 */
function traffic(urls: () => string[], key: string) {
  let running = true;
  let current = 0;
  const done: Array<{ at: number; status: number; via: number }> = [];
  const loop = (async () => {
    while (running) {
      let sent = false;
      for (let attempt = 0; attempt < 4 && !sent; attempt++) {
        try {
          const res = await chat(urls()[current]!, key);
          await res.text();
          done.push({ at: Date.now(), status: res.status, via: current });
          sent = true;
        } catch {
          current = (current + 1) % urls().length;
        }
      }
      if (!sent) done.push({ at: Date.now(), status: 0, via: current });
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    done,
    async stop() {
      running = false;
      await loop;
    },
  };
}

describe("two gateways on one PostgreSQL", () => {
  it("SIGKILL one under traffic: nothing lost, agents move, traffic and readiness carry on; it rejoins and serves what the other registered", async () => {
    const cluster = await startCluster(2);
    const [a, b] = cluster.gateways as [GatewayProcess, GatewayProcess];
    const apiA = new GatewayApi(a);
    const apiB = new GatewayApi(b);
    // A node registered through A is known to B (the shared nodes table).
    await waitFor(async () => (await apiB.nodes()).filter((n) => n.online).length === 2, { what: "both agents online at B" });

    // A model registered through A, a key created through B: both serve both.
    const m = MODELS.llm;
    const registered = await apiA.registerModel({ name: "llm", repo: m.repo, runtime: m.runtime, files: Object.keys(m.files), replicas: "all" });
    expect(registered.status).toBe(201);
    const key = (await apiB.createKey("ha")).key;
    await waitForReady(apiB, ["llm"], 2);
    await waitForReady(apiA, ["llm"], 2);
    expect((await chat(a.url, key)).status).toBe(200);

    const client = traffic(() => [a.url, b.url], key);
    await waitFor(() => client.done.filter((d) => d.status === 200 && d.via === 0).length >= 5, { what: "traffic through A" });

    // SIGKILL A. Its leadership, if it had it, passes to B within a few leader checks.
    await a.kill();
    const killedAt = Date.now();
    // The agents move to B at their next heartbeat: B never sees them go offline, and hears each directly.
    const movedAt = await waitFor(
      async () => {
        const nodes = await apiB.nodes();
        expect(nodes.every((n) => n.online), "a node went offline at B after A died").toBe(true);
        return cluster.agents.every((ag) => ag.lines.some((l) => l.includes("moved to another gateway"))) ? Date.now() : undefined;
      },
      { what: "both agents heartbeating to B", timeoutMs: 15_000, intervalMs: 50 },
    );
    expect(movedAt - killedAt).toBeLessThan(NODE_TIMEOUT_MS + 5_000);
    // Traffic carries on through B.
    await waitFor(() => client.done.filter((d) => d.at > killedAt && d.status === 200 && d.via === 1).length >= 20, { what: "traffic through B after the kill", timeoutMs: 20_000 });
    // Past the node timeout: readiness at B still right (both replicas ready, none offline).
    await new Promise((r) => setTimeout(r, NODE_TIMEOUT_MS + 500));
    const seen = await apiB.model("llm", key);
    expect(seen).toMatchObject({ ready: true, replicas: { ready: 2 } });
    expect(seen!.nodes.every((n) => n.ready && !n.offline)).toBe(true);
    // No model or key lost.
    expect((await apiB.listModels(key)).body.data.map((x) => x.id)).toEqual(["llm"]);
    // B is the leader now: its placement work runs (a model registered now gets placed).
    await waitFor(() => b.lines.some((l) => l.includes("this gateway is the leader")), { what: "B leading", timeoutMs: 10_000 });

    // A restarts on its port and data dir and rejoins; a model registered through B is served through A.
    const a2 = await startClusterGateway(scope, cluster.secrets, cluster.databaseUrl, { ...a.options, port: a.port, dataDir: a.dataDir });
    const apiA2 = new GatewayApi(a2);
    const second = await apiB.registerModel({ name: "llm-2", repo: m.repo, runtime: m.runtime, files: Object.keys(m.files), replicas: "all" });
    expect(second.status).toBe(201);
    await waitForReady(apiA2, ["llm", "llm-2"], 2);
    const viaA = await chat(a2.url, key, "llm-2");
    expect(viaA.status).toBe(200);
    expect(((await viaA.json()) as { object: string }).object).toBe("chat.completion");

    await client.stop();
    const failed = client.done.filter((d) => d.status !== 200);
    expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
    expect(client.done.filter((d) => d.at > killedAt).length).toBeGreaterThan(20);
  });

  it("a leader that hangs (SIGSTOP) loses the lead to the other gateway; woken, it steps down and follows", async () => {
    const cluster = await startCluster(1);
    const leads = (g: GatewayProcess) => g.lines.filter((l) => l.includes("this gateway is the leader")).length;
    const leader = await waitFor(() => cluster.gateways.find((g) => leads(g) > 0), { what: "a leader", timeoutMs: 10_000 });
    const follower = cluster.gateways.find((g) => g !== leader)!;
    const apiFollower = new GatewayApi(follower);
    await waitFor(async () => (await apiFollower.nodes()).some((n) => n.online), { what: "the agent online" });

    process.kill(leader.pid, "SIGSTOP");
    const stoppedAt = Date.now();
    try {
      // PostgreSQL closes the hung leader's idle session (its lock with it); the follower takes the lead.
      await waitFor(() => leads(follower) > 0, { what: "the follower leading", timeoutMs: 20_000, intervalMs: 50 });
      const tookOver = Date.now() - stoppedAt;
      // idle_session_timeout (5 s at the least) plus one leader check, with room for a loaded machine.
      expect(tookOver).toBeLessThan(12_000);
      // The new leader does the leader's work: a model registered now is placed and served.
      const m = MODELS.llm;
      expect((await apiFollower.registerModel({ name: "llm", repo: m.repo, runtime: m.runtime, files: Object.keys(m.files) })).status).toBe(201);
      await waitForReady(apiFollower, ["llm"], 1);
    } finally {
      process.kill(leader.pid, "SIGCONT");
    }
    // Awake, the old leader finds its session gone, steps down and follows; it does not lead again.
    await waitFor(() => leader.lines.some((l) => l.includes("no longer the leader")), { what: "the old leader stepping down", timeoutMs: 15_000 });
    await waitFor(() => leader.lines.some((l) => l.includes("reloading the shared state") || l.includes("shared state reloaded")), { what: "the old leader reloading", timeoutMs: 15_000 });
    expect(leads(leader)).toBe(1);
    const key = (await apiFollower.createKey("after")).key;
    await waitForReady(new GatewayApi(leader), ["llm"], 1);
    expect((await chat(leader.url, key)).status).toBe(200);
  }, 90_000);

  it("an operator on B reaches a node that talks only to A: B's event stream follows it, its cordon and its delete reach it (a derived secret the database never holds)", async () => {
    const cluster = await startCluster(1, (gateways) => gateways[0]!.url);
    const [a, b] = cluster.gateways as [GatewayProcess, GatewayProcess];
    const agent = cluster.agents[0]!;
    const apiA = new GatewayApi(a);
    const apiB = new GatewayApi(b);
    const tapB = new EventTap(b.url, b.adminKey);
    scope.defer(() => tapB.close());
    const m = MODELS.llm;
    expect((await apiA.registerModel({ name: "llm", repo: m.repo, runtime: m.runtime, files: Object.keys(m.files) })).status).toBe(201);
    await waitForReady(apiB, ["llm"], 1);
    // What A heard and did shows in B's event stream too.
    await tapB.next("model.registered", (e) => e.model.name === "llm");
    await tapB.next("node.model", (e) => e.runtime_id === agent.runtimeId && e.model.name === "llm" && e.model.state === "ready");

    // Cordoned through B: A, which the node talks to, places nothing more on it.
    expect((await apiB.call(`/api/nodes/${agent.runtimeId}/cordon`, { method: "POST" })).status).toBe(200);
    await waitFor(async () => (await apiA.node(agent.runtimeId))?.cordoned === true, { what: "the cordon seen at A" });

    // The node's secret is derived from the cluster secret and the registration's epoch: the epoch
    // is in the database, the secret nowhere in it, and the derived value is what the agent accepts.
    const db = new pgClient({ connectionString: cluster.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ doc: { epoch: string } }>("SELECT doc FROM nodes WHERE key = $1", [agent.runtimeId]);
      const secret = new NodeSecrets(cluster.secrets.clusterSecret).derive(agent.runtimeId, rows[0]!.doc.epoch);
      const metrics = (credential: string) => fetch(`${agent.url}/metrics`, { headers: { authorization: `Bearer ${credential}` } }).then((r) => r.status);
      expect(await metrics(secret)).toBe(200);
      expect(await metrics(new NodeSecrets(cluster.secrets.clusterSecret).derive(agent.runtimeId, "another-epoch"))).toBe(401);
      let dump = "";
      for (const table of TABLES) dump += (await db.query<{ row: string }>(`SELECT key || doc::text AS row FROM ${table}`)).rows.map((r) => r.row).join("\n");
      expect(dump).toContain(agent.runtimeId);
      for (const value of [secret, cluster.secrets.clusterSecret, cluster.secrets.adminKey, cluster.secrets.nodeToken]) expect(dump).not.toContain(value);
    } finally {
      await db.end();
    }

    // Deleted through B, which never heard from the node: B calls the agent itself, and it confirms.
    const deleted = await apiB.deleteModel("llm");
    expect(deleted.status).toBe(200);
    expect(deleted.body.nodes).toEqual([{ runtime_id: agent.runtimeId, outcome: "deleted" }]);
    await waitFor(async () => (await apiA.listModels()).body.data.length === 0, { what: "the delete seen at A" });
    await tapB.next("node.cordoned", (e) => e.node.runtime_id === agent.runtimeId);
    await tapB.next("model.deleted", (e) => e.name === "llm");
  });

  it("two gateways registering the same name at once: one 201, one 409; the database decides", async () => {
    const databaseUrl = await pg().createDatabase();
    const secrets = await clusterSecrets(scope);
    const [a, b] = await Promise.all([startClusterGateway(scope, secrets, databaseUrl), startClusterGateway(scope, secrets, databaseUrl)]);
    const apis = [new GatewayApi(a), new GatewayApi(b)];
    for (let i = 0; i < 5; i++) {
      const body = { name: `race-${i}`, repo: "org/race", runtime: "llama_cpp" as const, files: ["m.gguf"], resources: { memory_mib: 1 } };
      const answers = await Promise.all(apis.map((api) => api.registerModel(body)));
      expect(answers.map((r) => r.status).sort()).toEqual([201, 409]);
      expect(answers.find((r) => r.status === 409)?.body.error.code).toBe("model_already_exists");
    }
    // Both see all five, once each.
    for (const api of apis) {
      await waitFor(async () => (await api.listModels()).body.data.length === 5, { what: "five models on each gateway" });
    }
  });

  it("refuses to join a gateway whose node token differs from the running ones', naming the variable", async () => {
    const databaseUrl = await pg().createDatabase();
    const secrets = await clusterSecrets(scope);
    await startClusterGateway(scope, secrets, databaseUrl);
    const odd = startGateway(scope, {
      adminKey: secrets.adminKey,
      nodeToken: "og-node-a-different-token-0123456789",
      env: { OMNIGATE_DATABASE_URL: databaseUrl, OMNIGATE_CLUSTER_SECRET: secrets.clusterSecret, OMNIGATE_CLUSTER_CA_CERT_FILE: secrets.caCertFile, OMNIGATE_CLUSTER_CA_KEY_FILE: secrets.caKeyFile },
    });
    // The start fails; the error (and the process's output, which the rejection carries) says why.
    await expect(odd).rejects.toThrow(/OMNIGATE_NODE_TOKEN differs from the one the other gateways running on postgres:\/\//);
  });
});
