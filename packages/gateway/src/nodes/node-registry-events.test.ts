import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { GatewayEvent } from "@omnigate/shared/events";
import { Heartbeat, NodeRegistration, type Heartbeat as HeartbeatInput } from "@omnigate/shared/node-protocol";
import { nodeRegistry, tempStore } from "../../test/helpers/store-harness.js";
import { EventBus } from "../events/event-bus.js";
import type { NodeDoc } from "./node-doc.js";

// What the node registry tells the event stream, from the reports it gets: heartbeats here, and
// rows written by another gateway (applied the way a notification is).

const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

async function setup() {
  const bus = new EventBus({ coalesceMs: 10_000 });
  const seen: GatewayEvent[] = [];
  bus.subscribe((p) => seen.push(p.event));
  let now = 1_000;
  const store = tempStore();
  stores.push(store);
  const nodes = nodeRegistry(store, { timeoutMs: 100, now: () => now, events: bus });
  await store.load();
  const registration = NodeRegistration.parse({
    runtime_id: randomUUID(),
    supported_runtimes: ["llama_cpp"],
    loaded_models: {},
    agent_url: "http://127.0.0.1:1",
    hostname: "box",
    version: "1",
    gpus: [{ index: 0, name: "L4", memory_total_mib: 20_000, memory_used_mib: 1_000 }],
  });
  const { entry } = await nodes.register(registration);
  const report = (extra: Partial<HeartbeatInput> = {}) => nodes.heartbeat(entry, Heartbeat.parse({ ...registration, ...extra }));
  const types = () => seen.splice(0).map((e) => (e.type === "node.model" ? `node.model:${e.model.name}:${e.model.state}` : e.type));
  /** Another gateway wrote the node's row: what it heard from the node, a moment later. */
  const reportElsewhere = (doc: Partial<NodeDoc>) =>
    store.state.write([{ op: "put", table: "nodes", key: entry.runtimeId, doc: { ...nodes.docOf(entry), reported_at: now + 1, last_seen: now + 1, ...doc } }]);
  return { nodes, entry, report, reportElsewhere, types, seen, advance: (ms: number) => (now += ms) };
}

describe("NodeRegistry events", () => {
  it("a heartbeat tells model changes; node.updated only when the node itself changed materially", async () => {
    const { report, types } = await setup();
    expect(types()).toEqual(["node.registered"]);
    report();
    expect(types()).toEqual([]);
    report({ models: [{ name: "a", state: "downloading", progress: { bytes: 1, total: 10, percent: 10 } }] });
    expect(types()).toEqual(["node.model:a:downloading"]);
    // In-flight counts move all the time under load: not news.
    report({ models: [{ name: "a", state: "downloading", progress: { bytes: 1, total: 10, percent: 10 }, in_flight: 3 }] });
    expect(types()).toEqual([]);
    // GPU memory in use moves a little with every heartbeat: 0.4% of the card is not news, 5% is.
    report({ models: [{ name: "a", state: "ready" }], gpus: [{ index: 0, name: "L4", memory_total_mib: 20_000, memory_used_mib: 1_080 }] });
    expect(types()).toEqual(["node.model:a:ready"]);
    report({ models: [{ name: "a", state: "ready" }], gpus: [{ index: 0, name: "L4", memory_total_mib: 20_000, memory_used_mib: 2_100 }] });
    expect(types()).toEqual(["node.updated"]);
    report({ models: [{ name: "a", state: "ready" }], engines: [{ model: "a", runtime: "llama_cpp", up: true, restarts: 1 }], gpus: [{ index: 0, name: "L4", memory_total_mib: 20_000, memory_used_mib: 2_100 }] });
    expect(types()).toEqual(["node.updated"]);
    report();
    expect(types()).toEqual(["node.model_removed", "node.updated"]);
  });

  it("offline once, online when it reports again; ejection with its reason; a forgotten model; removal", async () => {
    const { nodes, entry, report, types, seen, advance } = await setup();
    types();
    report({ models: [{ name: "a", state: "ready" }] });
    types();
    advance(500);
    nodes.markOffline(entry);
    nodes.markOffline(entry);
    expect(types()).toEqual(["node.offline"]);
    report({ models: [{ name: "a", state: "ready" }] });
    expect(types()).toEqual(["node.online"]);

    entry.ejectedUntil = 1_500 + 30_000;
    nodes.markEjected(entry, "5 failed requests in a row (last: connection refused)");
    expect(seen.at(-1)).toMatchObject({ type: "node.ejected", reason: "5 failed requests in a row (last: connection refused)", until: 31_500 });
    expect(nodes.view(entry).ejection_reason).toBe("5 failed requests in a row (last: connection refused)");
    types();
    nodes.ejectionEnded(entry);
    expect(types()).toEqual([]);
    advance(31_000);
    nodes.ejectionEnded(entry);
    expect(seen.at(-1)).toMatchObject({ type: "node.updated", node: { ejected_until: null, ejection_reason: null } });
    types();

    nodes.forgetModel("a");
    expect(seen.at(-1)).toMatchObject({ type: "node.model_removed", runtime_id: entry.runtimeId, name: "a" });
    await nodes.forget(entry.runtimeId);
    expect(seen.at(-1)).toEqual({ type: "node.removed", runtime_id: entry.runtimeId });
  });

  it("what another gateway heard from the node: its model states, then its registering again", async () => {
    const { entry, reportElsewhere, types } = await setup();
    types();
    await reportElsewhere({ models: [{ name: "a", state: "ready", in_flight: 0, capacity: 1 }] });
    expect(types()).toEqual(["node.model:a:ready"]);
    // The same report again (a checkpoint): nothing new.
    await reportElsewhere({ models: [{ name: "a", state: "ready", in_flight: 0, capacity: 1 }] });
    expect(types()).toEqual([]);
    // Registered again through the other gateway: a new epoch, nothing reported yet.
    await reportElsewhere({ epoch: "another-epoch", models: [] });
    expect(types()).toEqual(["node.registered", "node.model_removed"]);
    expect(entry.epoch).toBe("another-epoch");
  });
});
