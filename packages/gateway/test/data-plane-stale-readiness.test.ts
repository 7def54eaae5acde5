// A node whose last heartbeat said `ready` but whose agent answers 404 model_not_found (it dropped
// the model since): the gateway fails over before the first byte, does not hold it against the node
// (outlier detection), and stops routing the model there until the node reports again.
import { describe, expect, it } from "vitest";
import { request } from "undici";
import { Heartbeat } from "@omnigate/shared/node-protocol";
import { nodeViews } from "../src/scheduling/readiness.js";
import { clusterPerTest } from "./data-plane-harness.js";

const cluster = clusterPerTest();

async function chat() {
  const res = await request(`${cluster.gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...cluster.gw.auth, "content-type": "application/json" },
    body: JSON.stringify({ model: "llm", messages: [{ role: "user", content: "hi" }] }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

describe("stale readiness: the agent says 404 model_not_found", () => {
  it("fails over to another ready node, marks the model not ready there until the next heartbeat, and ejects nothing", async () => {
    // One failure would eject a node if this one counted.
    const [a, b] = await cluster.agents({ OMNIGATE_OUTLIER_FAILURES: "1" }, ["a", "b"]);
    await a!.config({ mode: "status", status: 404, code: "model_not_found" });
    const nodeA = await cluster.gw.addNode(a!, [{ name: "llm" }]);
    await cluster.gw.addNode(b!, [{ name: "llm" }]);
    for (let i = 0; i < 6; i++) {
      const res = await chat();
      expect(res.status, res.text).toBe(200);
      expect(JSON.parse(res.text).node).toBe("b");
    }
    // Tried once (round-robin starts with it), then no longer a target.
    expect((await a!.stats()).requests).toBe(1);
    expect(nodeA.ejectedUntil).toBeNull();
    const viewA = nodeViews(cluster.gw.nodes, cluster.gw.placement, cluster.gw.models.get("llm")!).find((v) => v.runtime_id === nodeA.runtimeId);
    expect(viewA).toMatchObject({ ready: false, state: "pending" });

    // Its next heartbeat says ready again (it reloaded the model): it gets traffic again.
    await a!.config({ mode: "ok" });
    cluster.gw.nodes.heartbeat(nodeA, Heartbeat.parse({ ...nodeA.registration, models: [{ name: "llm", state: "ready", capacity: 4 }] }));
    const served = new Set<string>();
    for (let i = 0; i < 4; i++) served.add(JSON.parse((await chat()).text).node as string);
    expect(served).toEqual(new Set(["a", "b"]));
  });

  it("answers 503 model_not_ready with Retry-After when the stale node was the only one", async () => {
    const [a] = await cluster.agents({}, ["a"]);
    await a!.config({ mode: "status", status: 404, code: "model_not_found" });
    const node = await cluster.gw.addNode(a!, [{ name: "llm" }]);
    const res = await chat();
    expect(res.status, res.text).toBe(503);
    expect(JSON.parse(res.text).error.code).toBe("model_not_ready");
    expect(res.headers["retry-after"]).toMatch(/^\d+$/);
    // Answered from the gateway's corrected view, without asking the node again.
    expect((await chat()).status).toBe(503);
    expect((await a!.stats()).requests).toBe(1);
    expect(node.models.has("llm")).toBe(false);
  });

  it("passes any other 404 through unchanged, body included", async () => {
    const [a, b] = await cluster.agents({}, ["a", "b"]);
    for (const agent of [a!, b!]) await agent.config({ mode: "status", status: 404, code: "not_found" });
    const nodeA = await cluster.gw.addNode(a!, [{ name: "llm" }]);
    await cluster.gw.addNode(b!, [{ name: "llm" }]);
    const res = await chat();
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text).error).toMatchObject({ code: "not_found", message: "fake failure 404" });
    expect((await a!.stats()).requests + (await b!.stats()).requests).toBe(1);
    expect(nodeA.models.get("llm")?.state).toBe("ready");
  });
});
