import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { GatewayStats } from "@omnigate/shared/events";
import { FakeAgent } from "@omnigate/testkit/fake-agent";
import { TestScope } from "@omnigate/testkit/scope";
import { FakeNode, startControlGateway } from "./control-harness.js";
import { EventTap } from "./event-tap.js";

// GET /api/stats after real traffic through the built gateway to a stand-in agent process; the
// ejection the failures cause shows on the event stream with its reason.

const scope = new TestScope();
afterEach(() => scope.cleanup());

describe("GET /api/stats", () => {
  it("counts the gateway's requests, 5xx answers, latency and time to first token; failures eject the node with a reason", async () => {
    const dir = await scope.tempDir("omnigate-stats-");
    const gw = await startControlGateway(scope, { dataDir: dir, env: { LOG_LEVEL: "error", OMNIGATE_PROXY_MAX_ATTEMPTS: "1", OMNIGATE_OUTLIER_FAILURES: "3" } });
    const adminKey = readFileSync(join(dir, "admin.key"), "utf8").trim();
    const agent = await FakeAgent.start(scope, "a");
    const node = new FakeNode(() => gw.url, readFileSync(join(dir, "node.token"), "utf8").trim(), ["llama_cpp"], agent.url);
    await node.register();
    await agent.config({ secret: node.secret });
    await gw.call("POST", "/api/models", adminKey, { repo: "org/llm", name: "llm", files: ["llm.gguf"], resources: { memory_mib: 64 } });
    await node.heartbeat([{ name: "llm", state: "ready", capacity: 4 }]);
    const events = new EventTap(gw.url, adminKey);
    scope.defer(() => events.close());
    await events.next("snapshot");

    const chat = async (stream: boolean) => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "llm", stream, messages: [{ role: "user", content: "hi" }] }),
      });
      await res.text();
      return res;
    };
    for (let i = 0; i < 6; i++) expect((await chat(i % 2 === 0)).status).toBe(200);
    await agent.config({ mode: "status", status: 500 });
    for (let i = 0; i < 3; i++) expect((await chat(false)).status).toBe(500);
    // The node is ejected now: no node left to take the request.
    expect((await chat(false)).status).toBeGreaterThanOrEqual(500);

    const ejected = await events.next("node.ejected");
    expect(ejected.node.runtime_id).toBe(node.runtimeId);
    expect(ejected.reason).toMatch(/^3 failed requests in a row \(last: .*500.*\)$/);
    expect(ejected.until).toBeGreaterThan(Date.now());
    expect(ejected.node.ejection_reason).toBe(ejected.reason);

    const res = await gw.call("GET", "/api/stats", adminKey);
    expect(res.status).toBe(200);
    const stats = res.body as GatewayStats;
    expect(stats).toMatchObject({ window_s: 900, bucket_s: 10, requests: 10, errors: 4, error_rate: 0.4 });
    expect(stats.requests_per_s).toBeGreaterThan(0);
    expect(stats.latency.p50_ms).toBeGreaterThan(0);
    expect(stats.latency.p99_ms).toBeGreaterThanOrEqual(stats.latency.p50_ms!);
    expect(stats.ttft.p50_ms).toBeGreaterThan(0);
    expect(stats.series).toHaveLength(90);
    expect(stats.series.reduce((n, b) => n + b.requests, 0)).toBe(10);

    expect((await gw.call("GET", "/api/stats")).status).toBe(401);
    const client = await gw.call("POST", "/api/keys", adminKey, { name: "app" });
    expect((await gw.call("GET", "/api/stats", client.body.key)).status).toBe(403);
  });
});
