import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { NodeRegistration, Heartbeat } from "@omnigate/shared/node-protocol";
import { NodeRegistry } from "./node-registry.js";
import { OfflineSweeper } from "./offline-sweeper.js";

describe("OfflineSweeper", () => {
  it("emits change once when a node crosses to offline, and again after it comes back and goes", () => {
    let now = 0;
    const nodes = new NodeRegistry({ timeoutMs: 100, now: () => now });
    const sweeper = new OfflineSweeper(nodes, 10, pino({ level: "silent" }));
    const changes: string[] = [];
    const registration = NodeRegistration.parse({
      runtime_id: randomUUID(),
      supported_runtimes: ["llama_cpp"],
      loaded_models: {},
      agent_url: "http://127.0.0.1:1",
      hostname: "box",
      version: "test",
    });
    const { entry } = nodes.register(registration);
    nodes.on("change", (e) => changes.push(`${e.runtimeId === entry.runtimeId ? "n" : "?"}:${nodes.isOnline(e) ? "on" : "off"}`));

    expect(sweeper.sweep()).toEqual([]);
    now = 101;
    expect(sweeper.sweep()).toEqual([entry.runtimeId]);
    expect(sweeper.sweep()).toEqual([]);
    expect(changes).toEqual(["n:off"]);

    nodes.heartbeat(entry, Heartbeat.parse({ ...registration }));
    expect(sweeper.sweep()).toEqual([]);
    now = 250;
    expect(sweeper.sweep()).toEqual([entry.runtimeId]);
    expect(changes).toEqual(["n:off", "n:on", "n:off"]);
  });

  it("forgets a node offline past the forget bound, not one offline for less", () => {
    let now = 0;
    const nodes = new NodeRegistry({ timeoutMs: 100, forgetAfterMs: 1_000, now: () => now });
    const sweeper = new OfflineSweeper(nodes, 10, pino({ level: "silent" }));
    const register = () =>
      nodes.register(
        NodeRegistration.parse({
          runtime_id: randomUUID(),
          supported_runtimes: ["llama_cpp"],
          loaded_models: {},
          agent_url: "http://127.0.0.1:1",
          hostname: "box",
          version: "test",
        }),
      ).entry;
    const gone = register();
    now = 1_050;
    const later = register();
    // `gone` offline since 100: not yet past 1 000 ms of it.
    now = 1_100;
    expect(sweeper.sweep()).toEqual([gone.runtimeId]);
    expect(nodes.get(gone.runtimeId)).toBe(gone);
    now = 1_101;
    sweeper.sweep();
    expect(nodes.get(gone.runtimeId)).toBeUndefined();
    expect(nodes.list()).toEqual([later]);
    expect(nodes.authenticate(gone.runtimeId, gone.secret)).toBeUndefined();
  });

  it("start and stop are safe to call twice", () => {
    const sweeper = new OfflineSweeper(new NodeRegistry({ timeoutMs: 100 }), 10, pino({ level: "silent" }));
    sweeper.start();
    sweeper.start();
    sweeper.stop();
    sweeper.stop();
  });
});
