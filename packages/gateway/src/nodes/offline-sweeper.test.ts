import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { NodeRegistration, Heartbeat } from "@omnigate/shared/node-protocol";
import { nodeRegistry, silent, tempStore } from "../../test/helpers/store-harness.js";
import type { Store } from "../store/store.js";
import { OfflineSweeper } from "./offline-sweeper.js";
import { waitFor } from "@omnigate/testkit/wait";

const registration = () =>
  NodeRegistration.parse({
    runtime_id: randomUUID(),
    supported_runtimes: ["llama_cpp"],
    loaded_models: {},
    agent_url: "http://127.0.0.1:1",
    hostname: "box",
    version: "test",
  });

let store: Store | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

async function setup(options: { forgetAfterMs?: number; isLeader?: () => boolean } = {}) {
  let now = 0;
  store = tempStore();
  const nodes = nodeRegistry(store, { timeoutMs: 100, now: () => now, ...(options.forgetAfterMs ? { forgetAfterMs: options.forgetAfterMs } : {}) });
  await store.load();
  const sweeper = new OfflineSweeper(nodes, 10, silent, options.isLeader);
  return { nodes, sweeper, store, at: (t: number) => (now = t) };
}

describe("OfflineSweeper", () => {
  it("emits change once when a node crosses to offline, and again after it comes back and goes", async () => {
    const { nodes, sweeper, at } = await setup();
    const changes: string[] = [];
    const r = registration();
    const { entry } = await nodes.register(r);
    nodes.on("change", (e) => changes.push(`${e.runtimeId === entry.runtimeId ? "n" : "?"}:${nodes.isOnline(e) ? "on" : "off"}`));

    expect(sweeper.sweep()).toEqual([]);
    at(101);
    expect(sweeper.sweep()).toEqual([entry.runtimeId]);
    expect(sweeper.sweep()).toEqual([]);
    expect(changes).toEqual(["n:off"]);

    nodes.heartbeat(entry, Heartbeat.parse({ ...r }));
    expect(sweeper.sweep()).toEqual([]);
    at(250);
    expect(sweeper.sweep()).toEqual([entry.runtimeId]);
    expect(changes).toEqual(["n:off", "n:on", "n:off"]);
  });

  it("forgets a node offline past the forget bound (deleted from the store), not one offline for less", async () => {
    const { nodes, sweeper, at, store } = await setup({ forgetAfterMs: 1_000 });
    const gone = (await nodes.register(registration())).entry;
    at(1_050);
    const later = (await nodes.register(registration())).entry;
    // `gone` offline since 100: not yet past 1 000 ms of it.
    at(1_100);
    expect(sweeper.sweep()).toEqual([gone.runtimeId]);
    expect(nodes.get(gone.runtimeId)).toBe(gone);
    at(1_101);
    sweeper.sweep();
    await waitFor(() => nodes.get(gone.runtimeId) === undefined, { what: "the node forgotten" });
    expect(nodes.list()).toEqual([later]);
    expect(nodes.authenticate(gone.runtimeId, gone.secret)).toBeUndefined();
    expect(await store.backend.get("nodes", gone.runtimeId)).toBeUndefined();
    expect(await store.backend.get("nodes", later.runtimeId)).toBeDefined();
  });

  it("leaves forgetting to the leader", async () => {
    const { nodes, sweeper, at } = await setup({ forgetAfterMs: 1_000, isLeader: () => false });
    const gone = (await nodes.register(registration())).entry;
    at(5_000);
    expect(sweeper.sweep()).toEqual([gone.runtimeId]);
    sweeper.sweep();
    await new Promise((r) => setTimeout(r, 50));
    expect(nodes.get(gone.runtimeId)).toBe(gone);
  });

  it("start and stop are safe to call twice", async () => {
    const { sweeper } = await setup();
    sweeper.start();
    sweeper.start();
    sweeper.stop();
    sweeper.stop();
  });
});
