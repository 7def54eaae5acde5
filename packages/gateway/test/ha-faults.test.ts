// The database's faults, with real processes and a real PostgreSQL: not there at start, and
// restarted under a running cluster.
import { afterEach, describe, expect, it } from "vitest";
import { fetch } from "undici";
import { startAgent, startGateway, type GatewayProcess } from "@omnigate/testkit/cluster";
import { GatewayApi } from "@omnigate/testkit/gateway-api";
import { clusterSecrets, startClusterGateway } from "@omnigate/testkit/ha-cluster";
import { freePort } from "@omnigate/testkit/postgres";
import { TestScope } from "@omnigate/testkit/scope";
import { standInEngineEnv } from "@omnigate/testkit/stand-ins";
import { waitFor } from "@omnigate/testkit/wait";
import { MODELS, startHub, waitForReady } from "@omnigate/testkit/e2e-stack";
import { suitePostgres } from "./helpers/postgres-suite.js";

const pg = suitePostgres();

const scope = new TestScope();
afterEach(async () => {
  await scope.cleanup();
  // A test that stopped the server leaves it running for the next.
  await pg().start();
});

function chat(gateway: GatewayProcess, key: string) {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "llm", messages: [{ role: "user", content: "hi" }] }),
    signal: AbortSignal.timeout(10_000),
  });
}

describe("PostgreSQL faults", () => {
  it("unreachable at start: the gateway refuses to start naming host and database, never the password", async () => {
    const port = await freePort();
    const password = "never-show-this-password-7f3a";
    const gw = startGateway(scope, { env: { OMNIGATE_DATABASE_URL: `postgres://omnigate:${password}@127.0.0.1:${port}/fleet_db` } });
    const err = await gw.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(new RegExp(`Cannot use PostgreSQL at 127\\.0\\.0\\.1:${port}, database "fleet_db" \\(user "omnigate", from OMNIGATE_DATABASE_URL\\): .*ECONNREFUSED`));
    expect(err?.message).not.toContain(password);
    // A wrong password is named as such, and not shown either.
    const wrong = await startGateway(scope, { env: { OMNIGATE_DATABASE_URL: (await pg().createDatabase()).replace(pg().password, password) } }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(wrong?.message).toMatch(/password authentication failed/);
    expect(wrong?.message).not.toContain(password);
    expect(wrong?.message).not.toContain(pg().password);
  });

  it("restarted mid-run: routing carries on, writes answer 503 until it is back, the gateways reconnect by themselves, nothing is lost", async () => {
    const hub = await startHub(scope, ["llm"]);
    const databaseUrl = await pg().createDatabase();
    const secrets = await clusterSecrets(scope);
    const options = { heartbeatIntervalMs: 200, nodeTimeoutMs: 2_000, env: { HF_ENDPOINT: hub.url } };
    const [a, b] = (await Promise.all([startClusterGateway(scope, secrets, databaseUrl, options), startClusterGateway(scope, secrets, databaseUrl, options)])) as [GatewayProcess, GatewayProcess];
    const [apiA, apiB] = [new GatewayApi(a), new GatewayApi(b)];
    // One agent on each gateway.
    for (const g of [a, b]) {
      await startAgent(scope, {
        gateway: { url: g.url, nodeToken: secrets.nodeToken, nodeTokenFile: null },
        env: { HF_ENDPOINT: hub.url, STANDIN_LOAD_MS: "50", ...standInEngineEnv(["OMNIGATE_LLAMA_SERVER_BIN"]) },
      });
    }
    const m = MODELS.llm;
    expect((await apiA.registerModel({ name: "llm", repo: m.repo, runtime: m.runtime, files: Object.keys(m.files), replicas: "all" })).status).toBe(201);
    const key = (await apiB.createKey("before")).key;
    await waitForReady(apiA, ["llm"], 2);
    await waitForReady(apiB, ["llm"], 2);

    await pg().stop();
    await waitFor(() => a.output.includes("database connection lost") && b.output.includes("database connection lost"), { what: "both gateways noticing" });
    // Past the node timeout: the data plane still routes on what it holds, through both gateways,
    // to both nodes (their heartbeats are answered; liveness from the other gateway is assumed).
    await new Promise((r) => setTimeout(r, 2_500));
    for (const g of [a, b]) {
      for (let i = 0; i < 4; i++) expect((await chat(g, key)).status).toBe(200);
      const model = await new GatewayApi(g).model("llm", key);
      expect(model).toMatchObject({ ready: true, replicas: { ready: 2 } });
    }
    // Writes answer 503 with what is wrong and when to retry.
    const refused = await apiA.registerModel({ name: "during", repo: "org/during", runtime: "llama_cpp", files: ["m.gguf"], resources: { memory_mib: 1 } });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("5");
    expect(refused.body.error.code).toBe("database_unavailable");
    expect(refused.body.error.message).toMatch(/cannot reach its database \(postgres:\/\/omnigate_test@127\.0\.0\.1:\d+\/og_\w+: .*\)\. Changes .* wait until it is back; requests are still routed/);
    expect(refused.body.error.message).not.toContain(pg().password);
    const keyRefused = await new GatewayApi(b).createKey("during").catch((e: Error) => e);
    expect(String(keyRefused)).toContain("503");

    await pg().start();
    // Both reconnect by themselves, reload, and take writes again; nothing of before is lost.
    await waitFor(async () => (await apiB.registerModel({ name: "after", repo: "org/after", runtime: "llama_cpp", files: ["m.gguf"], resources: { memory_mib: 1 } })).status === 201, {
      what: "writes taken again",
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    await waitFor(async () => (await apiA.listModels(key)).body.data.map((x) => x.id).sort().join() === "after,llm", { what: "A hearing B's write after the restart", timeoutMs: 15_000 });
    expect((await apiB.listModels(key)).body.data.map((x) => x.id).sort()).toEqual(["after", "llm"]);
    for (const g of [a, b]) expect((await chat(g, key)).status).toBe(200);
    expect(a.output).toContain("database reachable again");
    expect(b.output).toContain("database reachable again");
  });
});
