import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { GatewayEvent } from "@omnigate/shared/events";
import { Heartbeat, NodeRegistration, type Heartbeat as HeartbeatInput } from "@omnigate/shared/node-protocol";
import { EventBus } from "../events/event-bus.js";
import { NodeRegistry } from "./node-registry.js";

// What the node registry tells the event stream, from the reports it gets.

function setup() {
  const bus = new EventBus({ coalesceMs: 10_000 });
  const seen: GatewayEvent[] = [];
  bus.subscribe((p) => seen.push(p.event));
  let now = 1_000;
  const nodes = new NodeRegistry({ timeoutMs: 100, now: () => now, events: bus });
  const registration = NodeRegistration.parse({
    runtime_id: randomUUID(),
    supported_runtimes: ["llama_cpp"],
    loaded_models: {},
    agent_url: "http://127.0.0.1:1",
    hostname: "box",
    version: "1",
    gpus: [{ index: 0, name: "L4", memory_total_mib: 20_000, memory_used_mib: 1_000 }],
  });
  const { entry } = nodes.register(registration);
  const report = (extra: Partial<HeartbeatInput> = {}) => nodes.heartbeat(entry, Heartbeat.parse({ ...registration, ...extra }));
  const types = () => seen.splice(0).map((e) => (e.type === "node.model" ? `node.model:${e.model.name}:${e.model.state}` : e.type));
  return { nodes, entry, report, types, seen, advance: (ms: number) => (now += ms) };
}

describe("NodeRegistry events", () => {
  it("a heartbeat tells model changes; node.updated only when the node itself changed materially", () => {
    const { report, types } = setup();
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

  it("offline once, online when it reports again; ejection with its reason; a forgotten model; removal", () => {
    const { nodes, entry, report, types, seen, advance } = setup();
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
    nodes.remove(entry.runtimeId);
    expect(seen.at(-1)).toEqual({ type: "node.removed", runtime_id: entry.runtimeId });
  });
});
