/**
 * The node protocol across real processes: the built gateway and agent on port 0, temp dirs, no
 * mocks. What needs no model: registration, heartbeats, liveness, the agent API's credentials and
 * a gateway restart the agent recovers from by itself.
 */
import { afterEach, describe, expect, it } from "vitest";
import { standInEngineEnv } from "@omnigate/testkit/stand-ins";
import { GatewayApi, httpJson } from "@omnigate/testkit/gateway-api";
import { TestScope } from "@omnigate/testkit/scope";
import { restartGateway, startAgent, startGateway } from "@omnigate/testkit/cluster";
import { waitFor } from "@omnigate/testkit/wait";
import { freePort } from "../src/supervisor/free-port.js";

const scope = new TestScope();
afterEach(async () => {
  await scope.cleanup();
});

describe("node protocol (real gateway + agent processes)", () => {
  it("registers and keeps heartbeating: the gateway shows the node online with what it reported", async () => {
    const gateway = await startGateway(scope, { heartbeatIntervalMs: 200 });
    const agent = await startAgent(scope, {
      gateway,
      env: { OMNIGATE_NODE_LABELS: "zone=test,gpu=a100", ...standInEngineEnv(["OMNIGATE_NVIDIA_SMI_BIN"]) },
    });
    const api = new GatewayApi(gateway);
    const node = await waitFor(() => api.node(agent.runtimeId), { what: "the node to register" });
    expect(node).toMatchObject({
      runtime_id: agent.runtimeId,
      agent_url: agent.url,
      online: true,
      labels: { zone: "test", gpu: "a100" },
      loaded_models: { llm: [], asr: [], tts: [], image: [] },
      // No engine binary configured or on PATH: nothing to assign to this node.
      supported_runtimes: [],
      gpus: [
        { index: 0, name: "NVIDIA A100-SXM4-80GB", memory_total_mib: 81920, memory_used_mib: 1024 },
        { index: 1, name: "NVIDIA A100-SXM4-80GB", memory_total_mib: 81920, memory_used_mib: 40960 },
      ],
    });
    expect(node.version).toMatch(/^\d+\.\d+\.\d+/);
    // Heartbeats keep coming: last_seen moves on.
    await waitFor(async () => ((await api.node(agent.runtimeId))?.last_seen ?? 0) > node.last_seen, { what: "a later heartbeat" });
    const health = await httpJson<{ status: string; runtime_id: string; registered: boolean }>(`${agent.url}/healthz`);
    expect(health.body).toEqual({ status: "ok", runtime_id: agent.runtimeId, registered: true });
    // The node token never reaches a log line.
    expect(agent.lines.filter((l) => l.includes(gateway.nodeToken))).toEqual([]);
  });

  it("keeps the same runtime_id across agent restarts (one node, not two)", async () => {
    const gateway = await startGateway(scope);
    const first = await startAgent(scope, { gateway });
    const api = new GatewayApi(gateway);
    await waitFor(() => api.node(first.runtimeId), { what: "registration" });
    await first.stop();
    const second = await startAgent(scope, { gateway, stateDir: first.stateDir });
    expect(second.runtimeId).toBe(first.runtimeId);
    await waitFor(async () => (await api.node(second.runtimeId))?.agent_url === second.url, { what: "re-registration with the new URL" });
    expect(await api.nodes()).toHaveLength(1);
  });

  it("keeps running while the gateway is down at start and registers once it comes up", async () => {
    const port = await freePort();
    const nodeToken = "og-node-test-down-at-start-0123456789";
    const agent = await startAgent(scope, { gateway: { url: `http://127.0.0.1:${port}`, nodeToken, nodeTokenFile: null } });
    await waitFor(() => agent.lines.some((l) => l.includes("cannot reach the gateway")), { what: "a failed registration attempt" });
    expect(agent.running).toBe(true);
    const gateway = await startGateway(scope, { port, nodeToken });
    const api = new GatewayApi(gateway);
    const node = await waitFor(() => api.node(agent.runtimeId), { what: "registration after the gateway came up", timeoutMs: 20_000 });
    expect(node.online).toBe(true);
  });

  it("guards the agent API with the node secret: /healthz open, everything else 401", async () => {
    const gateway = await startGateway(scope);
    const agent = await startAgent(scope, { gateway });
    const api = new GatewayApi(gateway);
    await waitFor(() => api.node(agent.runtimeId), { what: "registration" });
    expect((await httpJson(`${agent.url}/healthz`)).status).toBe(200);
    for (const token of [null, "wrong-secret-0123456789", gateway.adminKey, gateway.nodeToken]) {
      const res = await httpJson<{ error: { code: string; type: string; message: string } }>(`${agent.url}/api/models/org/model`, {
        method: "DELETE",
        token,
      });
      expect(res.status, `token ${token === null ? "none" : "given"}`).toBe(401);
      expect(res.body.error.type).toBe("authentication_error");
      expect(res.body.error.code).toBe(token === null ? "missing_api_key" : "invalid_api_key");
    }
    const v1 = await httpJson(`${agent.url}/v1/chat/completions`, { json: { model: "x", messages: [] }, token: gateway.adminKey });
    expect(v1.status).toBe(401);
  });

  it("survives a gateway crash: models, keys, nodes and generated credentials kept; the agent carries on without registering again", async () => {
    // Credentials generated by the gateway into its data dir; the agent reads the token file.
    let gateway = await startGateway(scope, { adminKey: null, nodeToken: null, heartbeatIntervalMs: 200 });
    const agent = await startAgent(scope, { gateway, tokenVia: "file" });
    let api = new GatewayApi(gateway);
    await waitFor(() => api.node(agent.runtimeId), { what: "registration" });
    const registered = await api.registerModel({ name: "org/kept-model", repo: "org/kept-model", files: ["model-q4.gguf"] });
    expect(registered.status).toBe(201);
    const key = await api.createKey("restart-test");
    const before = (await api.node(agent.runtimeId))!;
    const adminKeyBefore = gateway.adminKey;

    gateway = await restartGateway(scope, gateway, "kill");
    api = new GatewayApi(gateway);
    // The generated admin key was kept in the data dir, not generated anew.
    expect(gateway.adminKey).toBe(adminKeyBefore);
    // The node is known from the store, and its secret (derived from the data dir's cluster secret)
    // still works: the agent's retried heartbeat is answered, no registration needed.
    await waitFor(
      async () => {
        const n = await api.node(agent.runtimeId);
        return n?.online && n.last_seen > before.last_seen ? n : undefined;
      },
      { what: "heartbeats answered after the gateway restart", timeoutMs: 20_000 },
    );
    const after = (await api.node(agent.runtimeId))!;
    expect(after.registered_at).toBe(before.registered_at);
    expect(after.agent_url).toBe(agent.url);
    const list = await api.listModels(key.key);
    expect(list.status).toBe(200);
    expect(list.body.data.map((m) => m.id)).toEqual(["org/kept-model"]);
    expect(agent.running).toBe(true);
    expect(agent.lines.some((l) => l.includes("cannot reach the gateway"))).toBe(true);
    expect(agent.lines.some((l) => l.includes("registering again"))).toBe(false);
  });

  it("marks a silent node offline at the timeout and online again when it resumes", async () => {
    const gateway = await startGateway(scope, { heartbeatIntervalMs: 150, nodeTimeoutMs: 1_000 });
    const agent = await startAgent(scope, { gateway });
    const api = new GatewayApi(gateway);
    await waitFor(async () => (await api.node(agent.runtimeId))?.online === true, { what: "online" });
    agent.pause();
    await waitFor(async () => (await api.node(agent.runtimeId))?.online === false, { what: "offline after the timeout" });
    agent.resume();
    await waitFor(async () => (await api.node(agent.runtimeId))?.online === true, { what: "online again" });
  });
});
