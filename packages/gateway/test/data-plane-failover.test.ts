// Failover, outlier detection and timeouts, against stand-in agent processes (test fixture).
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { request } from "undici";
import { clusterPerTest, sseData } from "./data-plane-harness.js";

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const cluster = clusterPerTest();

/** A port that refuses connections: listened on once, then closed. */
async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

async function chat(stream = false) {
  const res = await request(`${cluster.gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...cluster.gw.auth, "content-type": "application/json" },
    body: JSON.stringify({ model: "llm", stream, messages: [{ role: "user", content: "hi" }] }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

function nodeOf(text: string): string {
  return (JSON.parse(text) as { node: string }).node;
}

describe("failover before the first byte", () => {
  it("moves on from a node that refuses connections, without the client noticing", async () => {
    const [b] = await cluster.agents({}, ["b"]);
    await cluster.gw.addNode(await deadUrl(), [{ name: "llm" }]);
    await cluster.gw.addNode(b!, [{ name: "llm" }]);
    // Round-robin sends half of these to the dead node first.
    for (let i = 0; i < 6; i++) {
      const res = await chat();
      expect(res.status, res.text).toBe(200);
      expect(nodeOf(res.text)).toBe("b");
    }
  });

  it("moves on from a 5xx and from a reset connection", async () => {
    for (const mode of ["status", "reset"] as const) {
      const [a, b] = await cluster.agents();
      await a!.config({ mode, status: 503 });
      await cluster.gw.addNode(a!, [{ name: "llm" }]);
      await cluster.gw.addNode(b!, [{ name: "llm" }]);
      for (let i = 0; i < 4; i++) {
        const res = await chat();
        expect(res.status, `${mode}: ${res.text}`).toBe(200);
        expect(nodeOf(res.text)).toBe("b");
      }
      expect((await a!.stats()).requests).toBeGreaterThan(0);
      await cluster.gw.close();
      await Promise.all([a, b].map((x) => x!.stop()));
    }
  });

  it("passes the last node's 5xx through when no other node is left", async () => {
    const [a] = await cluster.agents({}, ["a"]);
    await a!.config({ mode: "status", status: 502 });
    await cluster.gw.addNode(a!, [{ name: "llm" }]);
    const res = await chat();
    expect(res.status).toBe(502);
    expect(JSON.parse(res.text).error.message).toBe("fake failure 502");
  });

  it("gives up after OMNIGATE_PROXY_MAX_ATTEMPTS with a 502 naming each failure", async () => {
    await cluster.agents({ OMNIGATE_PROXY_MAX_ATTEMPTS: "2" }, []);
    for (let i = 0; i < 3; i++) await cluster.gw.addNode(await deadUrl(), [{ name: "llm" }]);
    const res = await chat();
    expect(res.status).toBe(502);
    const error = JSON.parse(res.text).error;
    expect(error.code).toBe("upstream_error");
    expect(error.message.match(/cannot connect/g)).toHaveLength(2);
  });
});

describe("failure after the first byte", () => {
  it("ends an SSE stream with an error event the client can read, then closes", async () => {
    const [a, b] = await cluster.agents({}, ["a", "b"]);
    await a!.config({ mode: "die_mid_stream", holdAfter: 2, chunks: 5 });
    await cluster.gw.addNode(a!, [{ name: "llm" }]);
    await b!.config({ mode: "die_mid_stream", holdAfter: 2, chunks: 5 });
    await cluster.gw.addNode(b!, [{ name: "llm" }]);
    const res = await chat(true);
    expect(res.status).toBe(200);
    const events = sseData(res.text);
    expect(events).toHaveLength(3);
    expect(events[0]).toContain("c0");
    expect(events[1]).toContain("c1");
    const error = JSON.parse(events[2]!).error;
    expect(error).toMatchObject({ code: "upstream_error", type: "server_error" });
    expect(error.message).toContain("failed after it started");
  });
});

describe("outlier detection", () => {
  it("ejects a node after consecutive failures, shows it in the node view, and lets it back after the cool-down", async () => {
    const [a, b] = await cluster.agents({ OMNIGATE_OUTLIER_FAILURES: "2", OMNIGATE_OUTLIER_BASE_EJECTION_MS: "400" });
    await a!.config({ mode: "status", status: 500 });
    const nodeA = await cluster.gw.addNode(a!, [{ name: "llm" }]);
    await cluster.gw.addNode(b!, [{ name: "llm" }]);
    for (let i = 0; i < 6; i++) expect((await chat()).status).toBe(200);
    const view = cluster.gw.nodes.view(nodeA);
    expect(view.ejected_until).not.toBeNull();
    expect(nodeA.ejections).toBe(1);
    // While ejected, the failing node gets nothing.
    const before = (await a!.stats()).requests;
    for (let i = 0; i < 4; i++) expect(nodeOf((await chat()).text)).toBe("b");
    expect((await a!.stats()).requests).toBe(before);
    // After the cool-down it is tried again; failing again ejects it for twice as long.
    await new Promise((r) => setTimeout(r, 450));
    expect(cluster.gw.nodes.view(nodeA).ejected_until).toBeNull();
    for (let i = 0; i < 6; i++) expect((await chat()).status).toBe(200);
    expect(nodeA.ejections).toBe(2);
    expect(cluster.gw.nodes.view(nodeA).ejected_until! - Date.now()).toBeGreaterThan(400);
  });

  it("still uses ejected nodes when every ready node is ejected (panic mode)", async () => {
    const [a] = await cluster.agents({ OMNIGATE_OUTLIER_FAILURES: "1" }, ["a"]);
    await a!.config({ mode: "status", status: 500 });
    const node = await cluster.gw.addNode(a!, [{ name: "llm" }]);
    expect((await chat()).status).toBe(500);
    expect(cluster.gw.nodes.view(node).ejected_until).not.toBeNull();
    await a!.config({ mode: "ok" });
    expect((await chat()).status).toBe(200);
  });
});

describe("timeouts", () => {
  it("answers 504 when the node sends nothing within the first-byte timeout, and cuts the agent request", async () => {
    const [a] = await cluster.agents({ OMNIGATE_PROXY_FIRST_BYTE_TIMEOUT_MS: "300" }, ["a"]);
    await a!.config({ mode: "hang" });
    await cluster.gw.addNode(a!, [{ name: "llm" }]);
    const res = await chat();
    expect(res.status).toBe(504);
    expect(JSON.parse(res.text).error.code).toBe("upstream_timeout");
    await expect.poll(async () => (await a!.stats()).aborted).toBe(1);
  });

  it("ends a stream that goes silent longer than the idle timeout with an error event", async () => {
    const [a] = await cluster.agents({ OMNIGATE_PROXY_IDLE_TIMEOUT_MS: "300" }, ["a"]);
    await a!.config({ mode: "hold", holdAfter: 1, chunks: 3 });
    await cluster.gw.addNode(a!, [{ name: "llm" }]);
    const res = await chat(true);
    const events = sseData(res.text);
    expect(events).toHaveLength(2);
    expect(JSON.parse(events[1]!).error.code).toBe("upstream_timeout");
    await a!.release();
  });
});
