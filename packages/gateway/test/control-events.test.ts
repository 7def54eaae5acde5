import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TestScope } from "@omnigate/testkit/scope";
import { FakeNode, startControlGateway } from "./control-harness.js";
import { EventTap } from "./event-tap.js";

// GET /api/events against the built gateway as a process, with nodes speaking the node protocol
// over HTTP and the CLI's own stream reader as the client.

const scope = new TestScope();
afterEach(() => scope.cleanup());

async function setup(env: Record<string, string> = {}) {
  const dir = await scope.tempDir("omnigate-events-");
  const gw = await startControlGateway(scope, { dataDir: dir, env: { LOG_LEVEL: "warn", ...env } });
  const adminKey = readFileSync(join(dir, "admin.key"), "utf8").trim();
  const nodeToken = readFileSync(join(dir, "node.token"), "utf8").trim();
  const tap = (lastEventId?: string) => {
    const t = new EventTap(gw.url, adminKey, lastEventId);
    scope.defer(() => t.close());
    return t;
  };
  return { gw, adminKey, nodeToken, tap };
}

describe("GET /api/events", () => {
  it("starts with a snapshot, then streams node, model and key changes as they happen, ids in order", async () => {
    const { gw, adminKey, nodeToken, tap } = await setup();
    const node = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]);
    await node.register();
    const events = tap();
    const snapshot = await events.next("snapshot");
    expect(snapshot.nodes.map((n) => n.runtime_id)).toEqual([node.runtimeId]);
    expect(snapshot).toMatchObject({ models: [], keys: [] });

    expect((await gw.call("POST", "/api/models", adminKey, { repo: "org/tiny", files: ["tiny.gguf"], resources: { memory_mib: 64 } })).status).toBe(201);
    expect((await events.next("model.registered")).model).toMatchObject({ name: "org/tiny", runtime: "llama_cpp" });
    // First as registered (placed nowhere yet), then as placed on the node.
    const pending = await events.next("model.status", (e) => e.model.nodes.length > 0);
    expect(pending.model).toMatchObject({ id: "org/tiny", ready: false, nodes: [{ runtime_id: node.runtimeId, state: "pending" }] });

    await node.heartbeat([{ name: "org/tiny", state: "downloading", progress: { bytes: 5, total: 10, rate: 1, percent: 50 } }]);
    const downloading = await events.next("node.model");
    expect(downloading).toMatchObject({ runtime_id: node.runtimeId, model: { name: "org/tiny", state: "downloading", progress: { percent: 50 } } });
    expect((await events.next("model.status")).model.nodes[0]).toMatchObject({ state: "downloading", progress: { bytes: 5 } });

    await node.heartbeat([{ name: "org/tiny", state: "ready" }]);
    expect((await events.next("node.model")).model.state).toBe("ready");
    expect((await events.next("model.status")).model).toMatchObject({ ready: true, nodes: [{ ready: true }] });

    const created = await gw.call("POST", "/api/keys", adminKey, { name: "app" });
    const keyEvent = await events.next("key.created");
    expect(keyEvent.key).toEqual({ id: created.body.id, name: "app", prefix: created.body.prefix, created_at: created.body.created_at, revoked_at: null });
    expect(JSON.stringify(events.events.map((e) => e.event))).not.toContain(created.body.key);
    await gw.call("DELETE", `/api/keys/${created.body.id}`, adminKey);
    expect((await events.next("key.revoked")).key).toMatchObject({ id: created.body.id, revoked_at: expect.any(Number) });

    await gw.call("DELETE", "/v1/models/org/tiny", adminKey);
    await events.next("model.deleted", (e) => e.name === "org/tiny");
    await events.next("node.model_removed", (e) => e.name === "org/tiny" && e.runtime_id === node.runtimeId);

    const ids = events.events.map((e) => Number(e.id));
    expect(ids.slice(1)).toEqual([...ids.slice(1)].sort((a, b) => a - b));
    expect(new Set(ids.slice(1)).size).toBe(ids.length - 1);
    expect(ids[0]).toBeLessThan(ids[1]!);
  });

  it("coalesces download progress per model and node; a state change overtakes progress held back", async () => {
    const { gw, adminKey, nodeToken, tap } = await setup();
    const node = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]);
    await node.register();
    await gw.call("POST", "/api/models", adminKey, { repo: "org/big", files: ["big.gguf"], resources: { memory_mib: 64 } });
    const events = tap();
    await events.next("snapshot");
    const started = Date.now();
    const heartbeats = 40;
    for (let i = 1; i <= heartbeats; i++) {
      await node.heartbeat([{ name: "org/big", state: "downloading", progress: { bytes: i, total: 100, rate: 1, percent: i } }]);
    }
    const elapsed = Date.now() - started;
    await node.heartbeat([{ name: "org/big", state: "verifying" }]);
    await events.next("node.model", (e) => e.model.state === "verifying");
    // Past the coalescing window: nothing held back may arrive after the newer state.
    await new Promise((r) => setTimeout(r, 600));
    const reports = events.all("node.model").filter((e) => e.model.name === "org/big");
    expect(reports.at(-1)!.model.state).toBe("verifying");
    const progress = reports.filter((e) => e.model.state === "downloading");
    // At most one per 250 ms window (plus the first) however fast the heartbeats came.
    expect(progress.length).toBeLessThanOrEqual(Math.floor(elapsed / 250) + 2);
    expect(progress.length).toBeLessThan(heartbeats);
    // The percentages only ever go up: a held report never overwrote a newer one.
    const percents = progress.map((e) => e.model.progress!.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    const statuses = events.all("model.status").filter((e) => e.model.id === "org/big");
    expect(statuses.at(-1)!.model.nodes[0]!.state).toBe("verifying");
  });

  it("a reconnect with Last-Event-ID gets a fresh snapshot with what changed meanwhile, then the stream", async () => {
    const { gw, adminKey, nodeToken, tap } = await setup();
    const first = tap();
    const snapshot = await first.next("snapshot");
    await first.close();

    const node = new FakeNode(() => gw.url, nodeToken, ["whisper"]);
    await node.register();
    await gw.call("POST", "/api/models", adminKey, { repo: "org/asr", runtime: "whisper", resources: { memory_mib: 64 } });

    const again = tap(snapshot.id);
    const fresh = await again.next("snapshot");
    expect(fresh.nodes.map((n) => n.runtime_id)).toEqual([node.runtimeId]);
    expect(fresh.models).toMatchObject([{ id: "org/asr", nodes: [{ runtime_id: node.runtimeId, state: "pending" }] }]);
    await node.heartbeat([{ name: "org/asr", state: "starting" }]);
    expect((await again.next("node.model")).model.state).toBe("starting");
  });

  it("tells when a node goes offline and comes back", async () => {
    const { gw, nodeToken, tap } = await setup({ OMNIGATE_NODE_TIMEOUT_MS: "400", OMNIGATE_HEARTBEAT_INTERVAL_MS: "100" });
    const events = tap();
    await events.next("snapshot");
    const node = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]);
    await node.register();
    expect((await events.next("node.registered")).node).toMatchObject({ runtime_id: node.runtimeId, online: true });
    const offline = await events.next("node.offline");
    expect(offline.node).toMatchObject({ runtime_id: node.runtimeId, online: false });
    await node.heartbeat();
    expect((await events.next("node.online")).node).toMatchObject({ runtime_id: node.runtimeId, online: true });
  });

  it("tells placement's changes: a node cordoned, drained and back in service, a model patched and its replicas moved", async () => {
    const { gw, adminKey, nodeToken, tap } = await setup();
    const a = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]);
    const b = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]);
    await a.register();
    await b.register();
    const events = tap();
    await events.next("snapshot");
    await gw.call("POST", "/api/models", adminKey, { repo: "org/m", files: ["m.gguf"], resources: { memory_mib: 64 }, replicas: 1 });
    // The node the replica went to shows it in its ledger, then the model shows where it is.
    const ledger = await events.next("node.updated", (e) => e.node.placed_models.includes("org/m"));
    const placed = await events.next("model.status", (e) => e.model.id === "org/m" && e.model.nodes.length === 1);
    const first = placed.model.nodes[0]!.runtime_id;
    expect(ledger.node.runtime_id).toBe(first);
    expect(ledger.node.committed_mib).toBe(64);
    const other = first === a.runtimeId ? b : a;

    expect((await gw.call("POST", `/api/nodes/${other.runtimeId}/cordon`, adminKey)).status).toBe(200);
    expect((await events.next("node.cordoned")).node).toMatchObject({ runtime_id: other.runtimeId, cordoned: true, draining: false });
    await gw.call("POST", `/api/nodes/${other.runtimeId}/uncordon`, adminKey);
    expect((await events.next("node.uncordoned")).node).toMatchObject({ runtime_id: other.runtimeId, cordoned: false });

    expect((await gw.call("PATCH", "/api/models/org/m", adminKey, { replicas: 2 })).status).toBe(200);
    expect((await events.next("model.patched")).model).toMatchObject({ name: "org/m", replicas: 2 });
    await events.next("model.status", (e) => e.model.id === "org/m" && e.model.nodes.length === 2 && e.model.replicas.desired === 2);

    await gw.call("POST", `/api/nodes/${first}/drain`, adminKey);
    expect((await events.next("node.draining")).node).toMatchObject({ runtime_id: first, cordoned: true, draining: true });
  });

  it("takes the admin key only", async () => {
    const { gw, adminKey } = await setup();
    expect((await gw.call("GET", "/api/events")).status).toBe(401);
    expect((await gw.call("GET", "/api/events", "og-not-a-key")).status).toBe(401);
    const client = await gw.call("POST", "/api/keys", adminKey, { name: "app" });
    const res = await gw.call("GET", "/api/events", client.body.key);
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: "insufficient_permissions", message: expect.stringContaining("admin key") });
  });

  it("a shutdown ends open streams instead of waiting out the drain timeout", async () => {
    const { gw, tap } = await setup({ OMNIGATE_SHUTDOWN_TIMEOUT_MS: "120000" });
    const events = tap();
    await events.next("snapshot");
    // With the stream held open, the gateway would only exit after 120 s (past this test's timeout).
    expect(await gw.stop()).toEqual({ code: 0, signal: null });
    await events.done;
    expect(events.error).toBeUndefined();
  });
});
