// Issue 14: removing a node revokes it. DELETE /api/nodes/{id} cuts the connections to it at once,
// puts its certificate on the deny list (a handshake with it fails from then on, whoever advertises
// its address), bars its runtime_id from registering again, and survives a gateway restart.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NodeDeleteResponse } from "@omnigate/shared/node-protocol";
import { restartGateway } from "@omnigate/testkit/cluster";
import { makeCsr } from "@omnigate/testkit/certs";
import { GatewayApi, httpJson } from "@omnigate/testkit/gateway-api";
import type { TestHub } from "@omnigate/testkit/hub";
import { TestScope } from "@omnigate/testkit/scope";
import { waitFor } from "@omnigate/testkit/wait";
import { chat, startHub, startStack, type Stack } from "@omnigate/testkit/e2e-stack";

const scope = new TestScope();
let hub: TestHub;
let stack: Stack;

beforeAll(async () => {
  hub = await startHub(scope, ["llm"]);
  stack = await startStack(scope, hub, {
    agents: 1,
    models: ["llm"],
    agentTls: true,
    gatewayEnv: { OMNIGATE_TLS: "on" },
    // The node this test registers by hand heartbeats once; it must not time out meanwhile.
    nodeTimeoutMs: 60_000,
    agentEnv: () => ({ STANDIN_CHUNKS: "400", STANDIN_CHUNK_INTERVAL_MS: "25", OMNIGATE_ENGINE_ENV_PASS: "STANDIN_*" }),
  });
}, 120_000);

afterAll(() => scope.cleanup());


describe("DELETE /api/nodes/{runtime_id}", () => {
  it("cuts a running stream, revokes the certificate, and the node can neither heartbeat nor register again", async () => {
    const agent = stack.agents[0]!;
    const before = (await stack.api.node(agent.runtimeId))!;
    const serial = before.certificate!.serial;

    const res = await chat(stack, true);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read(); // the stream is running: its first bytes arrived

    const removed = await stack.api.call<NodeDeleteResponse>(`/api/nodes/${agent.runtimeId}`, { method: "DELETE" });
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ runtime_id: agent.runtimeId, deleted: true, revoked_serials: [serial] });

    // 400 chunks 25 ms apart would take 10 s: the stream ends now, not then.
    const cutWithin = Date.now();
    let text = "";
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) break;
      text += Buffer.from(value!).toString();
    }
    expect(Date.now() - cutWithin).toBeLessThan(8_000);
    expect(text).not.toContain("data: [DONE]");

    // The agent's next heartbeat is refused, and so is its registration.
    await agent.waitForLine(/removed from the cluster/, 15_000);
    expect(await stack.api.node(agent.runtimeId)).toBeUndefined();

    // Removing it again says it is gone already; an unknown node is a 404 too.
    const again = await stack.api.call<{ error: { code: string; message: string } }>(`/api/nodes/${agent.runtimeId}`, { method: "DELETE" });
    expect(again.status).toBe(404);
    expect(again.body.error.message).toMatch(/removed already/);
    const unknown = await stack.api.call<{ error: { code: string } }>(`/api/nodes/${randomUUID()}`, { method: "DELETE" });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("node_not_found");
  });

  it("a revoked certificate is refused by the next handshake, even at an address another node advertises", async () => {
    // The removed agent still runs and presents its revoked certificate. A new node (anyone with
    // the node token) advertises the same address: the gateway's handshake with it must fail.
    const agent = stack.agents[0]!;
    const agentUrl = agent.url;
    const { csrPem } = await makeCsr(["127.0.0.1"]);
    const runtimeId = randomUUID();
    const body = {
      runtime_id: runtimeId,
      supported_runtimes: ["llama_cpp"],
      loaded_models: {},
      agent_url: agentUrl,
      hostname: "impostor",
      version: "test",
      csr: csrPem,
    };
    const registered = await httpJson<{ node_secret: string; certificate: string }>(`${stack.gateway.url}/api/nodes/register`, {
      token: stack.gateway.nodeToken,
      json: body,
      ca: stack.gateway.ca,
    });
    expect(registered.status).toBe(200);
    const { csr: _csr, ...heartbeat } = body;
    const beat = await httpJson(`${stack.gateway.url}/api/nodes/${runtimeId}/heartbeat`, {
      token: registered.body.node_secret,
      json: { ...heartbeat, models: [{ name: "llm", state: "ready", capacity: 4 }] },
      ca: stack.gateway.ca,
    });
    expect(beat.status).toBe(200);

    const res = await chat(stack, false);
    const answer = await res.text();
    expect(res.status, answer).toBeGreaterThanOrEqual(500);
    await stack.gateway.waitForLine(/revoked when its node was removed/);
    const metrics = await stack.api.call<string>("/metrics");
    expect(metrics.body).toMatch(new RegExp(`omnigate_upstream_failures_total\\{node="${runtimeId}",reason="tls"\\} [1-9]`));
  });

  it("the revocation outlives a gateway restart", async () => {
    const agent = stack.agents[0]!;
    const restarted = await restartGateway(scope, stack.gateway, "stop");
    const api = new GatewayApi(restarted);
    const res = await httpJson<{ error: { code: string; message: string } }>(`${restarted.url}/api/nodes/register`, {
      token: restarted.nodeToken,
      ca: restarted.ca,
      json: { runtime_id: agent.runtimeId, supported_runtimes: [], loaded_models: {}, agent_url: "http://127.0.0.1:9", hostname: "h", version: "v" },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("node_revoked");
    expect(res.body.error.message).toMatch(/runtime-id file/);
    await waitFor(async () => (await api.nodes()).every((n) => n.runtime_id !== agent.runtimeId), { what: "the removed node stays away" });
  });
});
