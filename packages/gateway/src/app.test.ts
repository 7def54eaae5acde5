import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatewayEnv } from "./config.js";
import { startGateway, type RunningGateway } from "./server.js";

// The app over real HTTP on port 0, in-process: auth matrix, registry, node protocol, keys, delete.

interface Call {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Headers;
}

let gw: RunningGateway;
let dir: string;
let admin: string;
let nodeToken: string;
let agent: Server;
let agentUrl: string;
const agentCalls: Array<{ method: string; url: string; auth: string | undefined }> = [];

async function call(method: string, path: string, credential?: string | null, body?: unknown): Promise<Call> {
  const headers: Record<string, string> = {};
  if (credential) headers.authorization = `Bearer ${credential}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

function registration(runtimes: string[], url = agentUrl) {
  return { runtime_id: randomUUID(), supported_runtimes: runtimes, loaded_models: {}, agent_url: url, hostname: "gpu-box", version: "test" };
}

async function registerNode(runtimes: string[], url = agentUrl) {
  const reg = registration(runtimes, url);
  const res = await call("POST", "/api/nodes/register", nodeToken, reg);
  expect(res.status).toBe(200);
  return { reg, secret: res.body.node_secret as string };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "omnigate-app-"));
  // A stand-in agent API: records the deletes it is told about and confirms them.
  agent = createServer((req: IncomingMessage, res) => {
    agentCalls.push({ method: req.method ?? "", url: req.url ?? "", auth: req.headers.authorization });
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ name: decodeURIComponent((req.url ?? "").replace("/api/models/", "")), deleted: true }));
  });
  await new Promise<void>((resolve) => agent.listen(0, "127.0.0.1", resolve));
  agentUrl = `http://127.0.0.1:${(agent.address() as AddressInfo).port}`;
  const config = GatewayEnv.parse({ OMNIGATE_PORT: "0", OMNIGATE_DATA_DIR: dir, OMNIGATE_NODE_CALL_TIMEOUT_MS: "1000" });
  gw = await startGateway(config, pino({ level: "silent" }));
  admin = gw.credentials.adminKey.value;
  nodeToken = gw.credentials.nodeToken.value;
});

afterAll(async () => {
  await gw?.close();
  await new Promise<void>((resolve) => (agent ? agent.close(() => resolve()) : resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe("gateway app over HTTP", () => {
  it("serves /healthz without credentials", async () => {
    const res = await call("GET", "/healthz");
    expect(res).toMatchObject({ status: 200, body: { status: "ok" } });
    expect(res.headers.get("x-powered-by")).toBeNull();
  });

  it("answers 401 for missing or unknown credentials and 403 for the wrong kind, on every route kind", async () => {
    const { secret: nodeSecret, reg } = await registerNode(["llama_cpp"]);
    const client = (await call("POST", "/api/keys", admin, { name: "auth-matrix" })).body.key as string;
    const heartbeat = `/api/nodes/${reg.runtime_id}/heartbeat`;
    const routes: Array<{ method: string; path: string; body?: unknown; wrong: string[] }> = [
      { method: "POST", path: "/api/models", body: { repo: "org/x", runtime: "whisper" }, wrong: [client, nodeToken, nodeSecret] },
      { method: "GET", path: "/api/nodes", wrong: [client, nodeToken, nodeSecret] },
      { method: "GET", path: "/api/keys", wrong: [client, nodeToken, nodeSecret] },
      { method: "DELETE", path: "/api/keys/key_x", wrong: [client, nodeToken, nodeSecret] },
      { method: "DELETE", path: "/v1/models/org/x", wrong: [client, nodeToken, nodeSecret] },
      { method: "GET", path: "/v1/models", wrong: [nodeToken, nodeSecret] },
      { method: "GET", path: "/metrics", wrong: [nodeToken, nodeSecret] },
      { method: "GET", path: "/v1/models/org/x", wrong: [nodeToken, nodeSecret] },
      { method: "POST", path: "/v1/chat/completions", body: { model: "x", messages: [] }, wrong: [nodeToken, nodeSecret] },
      { method: "POST", path: "/api/nodes/register", body: reg, wrong: [admin, client, nodeSecret] },
      { method: "POST", path: heartbeat, body: reg, wrong: [admin, client, nodeToken] },
    ];
    for (const route of routes) {
      const missing = await call(route.method, route.path, null, route.body);
      expect([route.path, missing.status, missing.body.error.code]).toEqual([route.path, 401, "missing_api_key"]);
      const unknown = await call(route.method, route.path, "og-not-a-real-key-at-all", route.body);
      expect([route.path, unknown.status, unknown.body.error.code]).toEqual([route.path, 401, "invalid_api_key"]);
      for (const credential of route.wrong) {
        const wrong = await call(route.method, route.path, credential, route.body);
        expect([route.path, wrong.status, wrong.body.error.code]).toEqual([route.path, 403, "insufficient_permissions"]);
        expect(wrong.body.error.type).toBe("permission_error");
      }
    }
    // The admin key also works on /v1/* (ops convenience), and so does a client key.
    expect((await call("GET", "/v1/models", admin)).status).toBe(200);
    expect((await call("GET", "/v1/models", client)).status).toBe(200);
    const metrics = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${client}` } });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^# HELP /m);
  });

  it("registers a model (name defaults to the repo id), shows it by a name containing '/', and refuses a duplicate", async () => {
    const created = await call("POST", "/api/models", admin, { repo: "TheOrg/Tiny-Llama-1.1B", files: ["tiny.Q4_K_M.gguf"] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "TheOrg/Tiny-Llama-1.1B", runtime: "llama_cpp", kind: "llm", revision: "main" });
    for (const path of ["/v1/models/TheOrg/Tiny-Llama-1.1B", "/v1/models/TheOrg%2FTiny-Llama-1.1B"]) {
      const shown = await call("GET", path, admin);
      expect(shown.status).toBe(200);
      expect(shown.body).toMatchObject({ id: "TheOrg/Tiny-Llama-1.1B", object: "model", ready: false, runtime: "llama_cpp" });
    }
    const dup = await call("POST", "/api/models", admin, { repo: "TheOrg/Tiny-Llama-1.1B", files: ["tiny.Q4_K_M.gguf"] });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe("model_already_exists");
    const missing = await call("GET", "/v1/models/TheOrg/nope", admin);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("model_not_found");
  });

  it("answers 400 naming the field for bad bodies", async () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [{ repo: "not a repo" }, "repo", /Hugging Face repo id/],
      [{ repo: "org/x", files: ["../etc/passwd"] }, "files.0", /'\.\.' segment/],
      [{ repo: "org/x", files: ["/abs.gguf"] }, "files.0", /absolute/],
      [{ repo: "org/x", files: ["a\u0000.gguf"] }, "files.0", /NUL|control/],
      [{ repo: "org/x", runtime: "tensorflow" }, "runtime", /runtime/],
      [{ repo: "org/x", runtime: "whisper", extra: 1 }, "", /extra/],
      [{ repo: "org/x", files: ["a.gguf", "b.onnx"] }, "runtime", /one of llama_cpp, onnx_runtime/],
    ];
    for (const [body, param, message] of cases) {
      const res = await call("POST", "/api/models", admin, body);
      expect(res.status).toBe(400);
      if (param) expect(res.body.error.param).toBe(param);
      expect(res.body.error.message).toMatch(message);
    }
    const badJson = await call("POST", "/api/models", admin, "{not json");
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe("invalid_json");
    const form = await fetch(`${gw.url}/api/models`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/x-www-form-urlencoded" }, body: "repo=org/x" });
    expect(form.status).toBe(415);
    expect(((await form.json()) as { error: { code: string } }).error.code).toBe("unsupported_media_type");
    const badNode = await call("POST", "/api/nodes/register", nodeToken, { ...registration(["llama_cpp"]), runtime_id: "nope" });
    expect(badNode.status).toBe(400);
    expect(badNode.body.error.param).toBe("runtime_id");
    const badKey = await call("POST", "/api/keys", admin, { name: "" });
    expect([badKey.status, badKey.body.error.param]).toEqual([400, "name"]);
  });

  it("runs the node protocol: desired models by runtime, reported states shown in /v1/models and /api/nodes", async () => {
    await call("POST", "/api/models", admin, { name: "proto-llm", repo: "org/proto", files: ["p.gguf"], replicas: "all", resources: { memory_mib: 1 } });
    await call("POST", "/api/models", admin, { name: "proto-asr", repo: "org/proto-asr", files: ["ggml-tiny.bin"], replicas: "all", resources: { memory_mib: 1 } });
    const { reg, secret } = await registerNode(["whisper"]);
    const path = `/api/nodes/${reg.runtime_id}/heartbeat`;

    const first = await call("POST", path, secret, reg);
    expect(first.status).toBe(200);
    const desired = (first.body.models as Array<{ name: string }>).map((m) => m.name);
    expect(desired).toContain("proto-asr");
    expect(desired).not.toContain("proto-llm");
    expect(first.body.heartbeat_interval_ms).toBeGreaterThan(0);

    const progress = { bytes: 43, total: 100, percent: 43 };
    await call("POST", path, secret, { ...reg, models: [{ name: "proto-asr", state: "downloading", progress }] });
    let entry = (await call("GET", "/v1/models/proto-asr", admin)).body;
    expect(entry.ready).toBe(false);
    expect(entry.nodes).toEqual([{ runtime_id: reg.runtime_id, ready: false, state: "downloading", progress: { ...progress, rate: 0 } }]);

    await call("POST", path, secret, { ...reg, models: [{ name: "proto-asr", state: "ready" }] });
    entry = (await call("GET", "/v1/models", admin)).body.data.find((m: { id: string }) => m.id === "proto-asr");
    expect(entry).toMatchObject({ ready: true, capabilities: ["transcription", "translation"], nodes: [{ runtime_id: reg.runtime_id, ready: true, state: "ready" }] });

    const listed = (await call("GET", "/api/nodes", admin)).body.find((n: { runtime_id: string }) => n.runtime_id === reg.runtime_id);
    expect(listed).toMatchObject({ online: true, supported_runtimes: ["whisper"], hostname: "gpu-box", models: [{ name: "proto-asr", state: "ready" }] });
    expect(JSON.stringify(listed)).not.toContain(secret);

    const mismatch = await call("POST", path, secret, { ...reg, runtime_id: randomUUID() });
    expect([mismatch.status, mismatch.body.error.param]).toEqual([400, "runtime_id"]);
    const wrongSecret = await call("POST", path, `${secret}x`, reg);
    expect([wrongSecret.status, wrongSecret.body.error.code]).toEqual([401, "invalid_api_key"]);
    const unknown = await call("POST", `/api/nodes/${randomUUID()}/heartbeat`, secret, reg);
    expect([unknown.status, unknown.body.error.code]).toEqual([404, "node_not_found"]);
    expect(unknown.body.error.message).toMatch(/Register again/);
  });

  it("creates client keys (shown once), lists them without the key, and revokes them", async () => {
    const created = await call("POST", "/api/keys", admin, { name: "team-a" });
    expect(created.status).toBe(201);
    const key = created.body.key as string;
    expect(key).toMatch(/^og-/);
    expect((await call("GET", "/v1/models", key)).status).toBe(200);
    const list = await call("GET", "/api/keys", admin);
    expect(list.body.find((k: { id: string }) => k.id === created.body.id)).toMatchObject({ name: "team-a", revoked_at: null });
    expect(JSON.stringify(list.body)).not.toContain(key);
    const revoked = await call("DELETE", `/api/keys/${created.body.id}`, admin);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).toEqual(expect.any(Number));
    const after = await call("GET", "/v1/models", key);
    expect([after.status, after.body.error.code]).toEqual([401, "invalid_api_key"]);
    expect((await call("DELETE", "/api/keys/key_nope", admin)).body.error.code).toBe("key_not_found");
  });

  it("deletes a model: tells each capable node at once with its secret; an unreachable one is deferred", async () => {
    await call("POST", "/api/models", admin, { repo: "org/doomed", files: ["d.gguf"], replicas: "all", resources: { memory_mib: 1 } });
    const up = await registerNode(["llama_cpp"]);
    const down = await registerNode(["llama_cpp"], "http://127.0.0.1:9"); // discard port: nothing listens
    const bystander = await registerNode(["whisper"]);
    agentCalls.length = 0;

    const res = await call("DELETE", "/v1/models/org/doomed", admin);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: "org/doomed", object: "model", deleted: true });
    const outcomes = new Map((res.body.nodes as Array<{ runtime_id: string; outcome: string }>).map((n) => [n.runtime_id, n]));
    expect(outcomes.get(up.reg.runtime_id)).toEqual({ runtime_id: up.reg.runtime_id, outcome: "deleted" });
    expect(outcomes.get(down.reg.runtime_id)).toMatchObject({ outcome: "deferred", error: expect.stringContaining("could not reach") });
    expect(outcomes.has(bystander.reg.runtime_id)).toBe(false);
    expect(agentCalls).toContainEqual({ method: "DELETE", url: "/api/models/org%2Fdoomed", auth: `Bearer ${up.secret}` });

    // The deferred node learns at its next heartbeat: the model is no longer desired.
    const hb = await call("POST", `/api/nodes/${down.reg.runtime_id}/heartbeat`, down.secret, down.reg);
    expect((hb.body.models as Array<{ name: string }>).map((m) => m.name)).not.toContain("org/doomed");
    expect((await call("GET", "/v1/models/org/doomed", admin)).status).toBe(404);
    expect((await call("DELETE", "/v1/models/org/doomed", admin)).body.error.code).toBe("model_not_found");
  });

  it("answers an OpenAI-shaped 404 for unknown endpoints", async () => {
    const res = await call("GET", "/api/nope", admin);
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: "not_found", type: "not_found_error" });
  });
});
