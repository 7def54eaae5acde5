import { readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TestScope } from "@omnigate/testkit/scope";
import { waitFor } from "@omnigate/testkit/wait";
import { FakeNode, startControlGateway } from "./control-harness.js";

// The gateway as a real process (dist/main.js, port 0, temp data dir); a stand-in node over fetch.

const scope = new TestScope();
afterEach(() => scope.cleanup());

async function startFresh(env: Record<string, string> = {}) {
  const dir = await scope.tempDir("omnigate-control-");
  const gw = await startControlGateway(scope, { dataDir: dir, env: env });
  const admin = readFileSync(join(dir, "admin.key"), "utf8").trim();
  const nodeToken = readFileSync(join(dir, "node.token"), "utf8").trim();
  return { dir, gw, admin, nodeToken };
}

describe("gateway process: control plane", () => {
  it("generates credentials on first start into 0600 files, logs where but never what", async () => {
    const { dir, gw, admin, nodeToken } = await startFresh();
    for (const file of ["admin.key", "node.token"]) {
      expect(statSync(join(dir, file)).mode & 0o777).toBe(0o600);
      // pino's writes and the plain listening line may reach the pipe in either order.
      await waitFor(() => gw.output.includes(join(dir, file)), { timeoutMs: 5_000, what: `the log line naming ${file}` });
    }
    // Use every credential so a careless access log would have a chance to print one.
    const node = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]);
    await node.register();
    await node.heartbeat();
    const key = (await gw.call("POST", "/api/keys", admin, { name: "logged?" })).body.key as string;
    expect((await gw.call("GET", "/v1/models", key)).status).toBe(200);
    await gw.call("GET", "/v1/models", "og-wrong-key-for-the-log");
    await gw.stop();
    for (const secret of [admin, nodeToken, node.secret, key]) {
      expect(secret.length).toBeGreaterThan(16);
      expect(gw.output).not.toContain(secret);
    }
  });

  it("assigns a model in the heartbeat answer and shows reported states in /v1/models and /api/nodes", async () => {
    const { gw, admin, nodeToken } = await startFresh();
    const reg = await gw.call("POST", "/api/models", admin, { repo: "ggml-org/tiny-llama", files: ["tiny.Q8_0.gguf"], replicas: "all", resources: { memory_mib: 1 } });
    expect(reg.status).toBe(201);
    const llm = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]);
    const tts = new FakeNode(() => gw.url, nodeToken, ["onnx_runtime"]);
    expect((await llm.register()).body).toMatchObject({ runtime_id: llm.runtimeId, heartbeat_interval_ms: expect.any(Number) });
    await tts.register();

    const assigned = await llm.heartbeat();
    expect(assigned.status).toBe(200);
    expect(assigned.body.models).toEqual([reg.body]);
    expect((await tts.heartbeat()).body.models).toEqual([]);

    // pending until the node reports, then what it reports.
    let entry = (await gw.call("GET", "/v1/models/ggml-org/tiny-llama", admin)).body;
    expect(entry).toMatchObject({ ready: false, nodes: [{ runtime_id: llm.runtimeId, state: "pending", ready: false }] });
    const progress = { bytes: 43_000, total: 100_000, rate: 5_000, percent: 43 };
    await llm.heartbeat([{ name: "ggml-org/tiny-llama", state: "downloading", progress }]);
    entry = (await gw.call("GET", "/v1/models/ggml-org/tiny-llama", admin)).body;
    expect(entry.nodes).toEqual([{ runtime_id: llm.runtimeId, ready: false, state: "downloading", progress }]);
    await llm.heartbeat([{ name: "ggml-org/tiny-llama", state: "ready", in_flight: 0, capacity: 4 }]);

    const list = (await gw.call("GET", "/v1/models", admin)).body;
    expect(list).toEqual({
      object: "list",
      data: [
        {
          id: "ggml-org/tiny-llama",
          object: "model",
          created: reg.body.created_at,
          owned_by: "ggml-org",
          ready: true,
          capabilities: ["chat", "completion", "embedding"],
          runtime: "llama_cpp",
          kind: "llm",
          repo: "ggml-org/tiny-llama",
          revision: "main",
          nodes: [{ runtime_id: llm.runtimeId, ready: true, state: "ready" }],
          replicas: { desired: "all", placed: 1, ready: 1 },
          memory_mib: 1,
          node_selector: {},
          placement_policy: "spread",
          placement_errors: [],
        },
      ],
    });
    const nodes = (await gw.call("GET", "/api/nodes", admin)).body as Array<Record<string, unknown>>;
    expect(nodes.map((n) => n.runtime_id).sort()).toEqual([llm.runtimeId, tts.runtimeId].sort());
    expect(nodes.find((n) => n.runtime_id === llm.runtimeId)).toMatchObject({
      online: true,
      supported_runtimes: ["llama_cpp"],
      models: [{ name: "ggml-org/tiny-llama", state: "ready", capacity: 4 }],
      last_seen: expect.any(Number),
    });
  });

  it("answers 401 for missing or unknown credentials and 403 for the wrong kind on every route kind", async () => {
    const { gw, admin, nodeToken } = await startFresh();
    const node = new FakeNode(() => gw.url, nodeToken, ["whisper"]);
    await node.register();
    const client = (await gw.call("POST", "/api/keys", admin, { name: "c" })).body.key as string;
    const cases: Array<[string, string, unknown, string[]]> = [
      ["POST", "/api/models", { repo: "org/m", runtime: "whisper" }, [client, nodeToken, node.secret]],
      ["DELETE", "/v1/models/org/m", undefined, [client, nodeToken, node.secret]],
      ["GET", "/api/nodes", undefined, [client, nodeToken, node.secret]],
      ["POST", "/api/keys", { name: "x" }, [client, nodeToken, node.secret]],
      ["GET", "/v1/models", undefined, [nodeToken, node.secret]],
      ["POST", "/api/nodes/register", node.registration, [admin, client, node.secret]],
      ["POST", `/api/nodes/${node.runtimeId}/heartbeat`, node.registration, [admin, client, nodeToken]],
    ];
    for (const [method, path, body, wrong] of cases) {
      const none = await gw.call(method, path, null, body);
      expect([path, none.status, none.body.error.code]).toEqual([path, 401, "missing_api_key"]);
      const bad = await gw.call(method, path, "og-0000000000000000000000", body);
      expect([path, bad.status, bad.body.error.code]).toEqual([path, 401, "invalid_api_key"]);
      for (const credential of wrong) {
        const res = await gw.call(method, path, credential, body);
        expect([path, res.status, res.body.error.code]).toEqual([path, 403, "insufficient_permissions"]);
      }
    }
  });

  it("answers 400 naming the field for bad bodies on every write route", async () => {
    const { gw, admin, nodeToken } = await startFresh();
    const node = new FakeNode(() => gw.url, nodeToken, ["whisper"]);
    await node.register();
    const cases: Array<[string, string, string, unknown, string]> = [
      ["POST", "/api/models", admin, { repo: "org/x", files: ["../../etc/passwd"] }, "files.0"],
      ["POST", "/api/models", admin, { repo: "org--x/y", runtime: "whisper" }, "repo"],
      ["POST", "/api/models", admin, { repo: "org/x", runtime: "gpt" }, "runtime"],
      ["POST", "/api/models", admin, { repo: "org/x", files: ["a.gguf", "ggml-base.bin"] }, "runtime"],
      ["POST", "/api/keys", admin, { name: 7 }, "name"],
      ["POST", "/api/nodes/register", nodeToken, { ...node.registration, supported_runtimes: ["cuda"] }, "supported_runtimes.0"],
      ["POST", "/api/nodes/register", nodeToken, { ...node.registration, agent_url: "ftp://x" }, "agent_url"],
      ["POST", `/api/nodes/${node.runtimeId}/heartbeat`, node.secret, { ...node.registration, models: [{ name: "m", state: "dancing" }] }, "models.0.state"],
    ];
    for (const [method, path, credential, body, param] of cases) {
      const res = await gw.call(method, path, credential, body);
      expect([path, res.status, res.body.error.param]).toEqual([path, 400, param]);
      expect(res.body.error.message).toContain(param === "runtime" ? "runtime" : param.split(".")[0]);
    }
  });

  it("keeps models, keys and nodes across a restart: a node carries on with its secret, no new registration", async () => {
    const dir = await scope.tempDir("omnigate-restart-");
    let gw = await startControlGateway(scope, { dataDir: dir });
    const admin = readFileSync(join(dir, "admin.key"), "utf8").trim();
    const nodeToken = readFileSync(join(dir, "node.token"), "utf8").trim();
    await gw.call("POST", "/api/models", admin, { repo: "org/keep", files: ["k.gguf"], replicas: "all", resources: { memory_mib: 1 } });
    const kept = (await gw.call("POST", "/api/keys", admin, { name: "kept" })).body;
    const revoked = (await gw.call("POST", "/api/keys", admin, { name: "revoked" })).body;
    await gw.call("DELETE", `/api/keys/${revoked.id}`, admin);
    const node = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]);
    await node.register();
    await node.heartbeat([{ name: "org/keep", state: "ready" }]);
    const before = ((await gw.call("GET", "/api/nodes", admin)).body as Array<{ registered_at: number }>)[0]!;

    const exit = await gw.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(gw.output).toContain("gateway stopped");
    gw = await startControlGateway(scope, { dataDir: dir });

    // Same generated credentials, same models and keys.
    await waitFor(() => gw.output.includes("credential read from the data dir"), { timeoutMs: 5_000, what: "the reuse log line" });
    expect((await gw.call("GET", "/v1/models", kept.key)).body.data.map((m: { id: string }) => m.id)).toEqual(["org/keep"]);
    expect((await gw.call("GET", "/v1/models", revoked.key)).status).toBe(401);
    // The node is still known and its secret still works (derived from the data dir's cluster
    // secret, never stored): its next heartbeat is answered, with the model placed on it.
    const hb = await node.heartbeat([{ name: "org/keep", state: "ready" }]);
    expect(hb.status).toBe(200);
    expect(hb.body.models.map((m: { name: string }) => m.name)).toEqual(["org/keep"]);
    const after = ((await gw.call("GET", "/api/nodes", admin)).body as Array<{ runtime_id: string; registered_at: number; online: boolean }>)[0]!;
    expect(after).toMatchObject({ runtime_id: node.runtimeId, registered_at: before.registered_at, online: true });
    expect((await gw.call("GET", "/v1/models/org/keep", kept.key)).body.ready).toBe(true);
  });

  it("marks a node that stops heartbeating offline, drops it from readiness, and back online when it returns", async () => {
    const { gw, admin, nodeToken } = await startFresh({ OMNIGATE_NODE_TIMEOUT_MS: "400" });
    await gw.call("POST", "/api/models", admin, { repo: "org/live", files: ["l.gguf"], replicas: "all", resources: { memory_mib: 1 } });
    const node = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]);
    await node.register();
    await node.heartbeat([{ name: "org/live", state: "ready" }]);
    expect((await gw.call("GET", "/v1/models/org/live", admin)).body.ready).toBe(true);

    const offline = await waitFor(async () => {
      const nodes = (await gw.call("GET", "/api/nodes", admin)).body as Array<{ online: boolean }>;
      return nodes[0]?.online === false ? nodes[0] : undefined;
    }, { timeoutMs: 10_000, what: "the node to go offline" });
    expect(offline).toMatchObject({ online: false });
    // Still placed there (it may come back within OMNIGATE_REPLACE_AFTER_MS), shown offline, not ready.
    expect((await gw.call("GET", "/v1/models/org/live", admin)).body).toMatchObject({
      ready: false,
      nodes: [{ runtime_id: node.runtimeId, ready: false, state: "pending", offline: true }],
    });
    await waitFor(() => gw.output.includes("node missed its heartbeats; offline"), { timeoutMs: 5_000, what: "the offline log line" });

    await node.heartbeat([{ name: "org/live", state: "ready" }]);
    expect((await gw.call("GET", "/v1/models/org/live", admin)).body.ready).toBe(true);
  });

  it("deletes a model: the online node is told at once with its secret, an unreachable one cleans up at its next heartbeat", async () => {
    const { gw, admin, nodeToken } = await startFresh({ OMNIGATE_NODE_CALL_TIMEOUT_MS: "1000" });
    // A stand-in agent API that confirms deletes, as the real agent's DELETE /api/models/{name} does.
    const told: Array<{ url: string | undefined; auth: string | undefined }> = [];
    const agent = createServer((req, res) => {
      told.push({ url: req.url, auth: req.headers.authorization });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ name: "org/gone", deleted: true }));
    });
    await new Promise<void>((r) => agent.listen(0, "127.0.0.1", r));
    scope.defer(() => new Promise<void>((r) => agent.close(() => r())));
    const agentUrl = `http://127.0.0.1:${(agent.address() as AddressInfo).port}`;

    await gw.call("POST", "/api/models", admin, { repo: "org/gone", files: ["g.gguf"], replicas: "all", resources: { memory_mib: 1 } });
    const up = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"], agentUrl);
    const away = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"], "http://127.0.0.1:9");
    for (const n of [up, away]) {
      await n.register();
      await n.heartbeat([{ name: "org/gone", state: "ready" }]);
    }

    const res = await gw.call("DELETE", "/v1/models/org/gone", admin);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: "org/gone", object: "model", deleted: true });
    const byNode = Object.fromEntries((res.body.nodes as Array<{ runtime_id: string }>).map((n) => [n.runtime_id, n]));
    expect(byNode[up.runtimeId]).toEqual({ runtime_id: up.runtimeId, outcome: "deleted" });
    expect(byNode[away.runtimeId]).toMatchObject({ outcome: "deferred", error: expect.stringContaining("127.0.0.1:9") });
    expect(told).toEqual([{ url: "/api/models/org%2Fgone", auth: `Bearer ${up.secret}` }]);

    expect((await away.heartbeat()).body.models).toEqual([]);
    expect((await gw.call("GET", "/v1/models", admin)).body.data).toEqual([]);
  });

  it("serves /healthz without credentials and stops cleanly on SIGTERM", async () => {
    const { gw } = await startFresh();
    expect(await gw.call("GET", "/healthz")).toMatchObject({ status: 200, body: { status: "ok" } });
    expect(await gw.stop()).toEqual({ code: 0, signal: null });
  });
});
