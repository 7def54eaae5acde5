import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { ModelRecord } from "@omnigate/shared/models";
import { Heartbeat, NodeRegistration } from "@omnigate/shared/node-protocol";
import type { RuntimeType } from "@omnigate/shared/runtimes";
import { ApiError } from "@omnigate/shared/errors";
import type { NodeRegistry, NodeEntry } from "../nodes/node-registry.js";
import type { ModelLookup } from "../store/model-store.js";
import { nodeRegistry, tempStore } from "../../test/helpers/store-harness.js";
import { nodeViews, resolveReadiness as resolve, type PlacementLookup } from "./readiness.js";

const llama: ModelRecord = {
  name: "org/llama",
  repo: "org/llama",
  revision: "main",
  files: ["m.gguf"],
  runtime: "llama_cpp",
  kind: "llm",
  capabilities: ["chat", "completion", "embedding"],
  options: {},
  created_at: 1,
  replicas: "all",
  node_selector: {},
  placement_policy: "spread",
};
const models: ModelLookup = new Map([[llama.name, llama]]);

/** Placed on every node that runs the runtime (what "all" does); `unplaced` empties it. */
let unplaced: string[] | undefined;
function placement(nodes: NodeRegistry): PlacementLookup {
  const on = () => (unplaced ? [] : nodes.list().filter((n) => n.registration.supported_runtimes.includes("llama_cpp")).map((n) => n.runtimeId));
  return { routable: on, replicas: () => on().map((node) => ({ node, role: "serving" })), errors: () => unplaced ?? [] };
}
const resolveReadiness = (m: ModelLookup, nodes: NodeRegistry, name: string, capability: Parameters<typeof resolve>[4]) =>
  resolve(m, nodes, placement(nodes), name, capability);

let closeStore: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closeStore?.();
  closeStore = undefined;
});

async function setup() {
  unplaced = undefined;
  let now = 1_000_000;
  const store = tempStore();
  closeStore = () => store.close();
  const nodes = nodeRegistry(store, { timeoutMs: 1_000, now: () => now });
  await store.load();
  const add = async (runtimes: RuntimeType[]): Promise<NodeEntry> => {
    const registration = NodeRegistration.parse({
      runtime_id: randomUUID(),
      supported_runtimes: runtimes,
      loaded_models: {},
      agent_url: "http://127.0.0.1:1",
      hostname: "box",
      version: "test",
    });
    return (await nodes.register(registration)).entry;
  };
  const report = (node: NodeEntry, models: unknown[]) =>
    nodes.heartbeat(node, Heartbeat.parse({ ...node.registration, models }));
  return { nodes, add, report, advance: (ms: number) => (now += ms) };
}

function caught(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error("expected an ApiError");
}

describe("resolveReadiness", () => {
  it("404 model_not_found for an unknown model", async () => {
    const { nodes } = await setup();
    const err = caught(() => resolveReadiness(models, nodes, "nope", "chat"));
    expect(err).toMatchObject({ status: 404, code: "model_not_found", param: "model" });
    expect(err.message).toContain("'nope' does not exist");
  });

  it("404 model_capability_unsupported naming the missing capability", async () => {
    const { nodes } = await setup();
    const err = caught(() => resolveReadiness(models, nodes, "org/llama", "speech"));
    expect(err).toMatchObject({ status: 404, code: "model_capability_unsupported" });
    expect(err.message).toContain("Model 'org/llama' does not support text-to-speech");
  });

  it("503 model_unplaced with the placement's reason and Retry-After when it is placed nowhere", async () => {
    const { nodes, add } = await setup();
    await add(["llama_cpp"]);
    unplaced = ["needs 18.4 GiB; no eligible node has that free: gpu-07 has 12.1 GiB free"];
    const err = caught(() => resolveReadiness(models, nodes, "org/llama", "chat"));
    expect(err).toMatchObject({ status: 503, code: "model_unplaced", headers: { "Retry-After": "5" } });
    expect(err.message).toContain("not placed on any node: needs 18.4 GiB");
  });

  it("503 no_capable_node when no online node runs the runtime (none, wrong runtime, or timed out)", async () => {
    const { nodes, add, report, advance } = await setup();
    expect(caught(() => resolveReadiness(models, nodes, "org/llama", "chat"))).toMatchObject({ status: 503, code: "no_capable_node" });
    await add(["whisper"]);
    expect(caught(() => resolveReadiness(models, nodes, "org/llama", "chat")).code).toBe("no_capable_node");
    const node = await add(["llama_cpp"]);
    report(node, [{ name: "org/llama", state: "ready" }]);
    expect(resolveReadiness(models, nodes, "org/llama", "chat").targets).toHaveLength(1);
    advance(1_001);
    const err = caught(() => resolveReadiness(models, nodes, "org/llama", "chat"));
    expect(err.code).toBe("no_capable_node");
    expect(err.headers["Retry-After"]).toMatch(/^\d+$/);
  });

  it("503 model_not_ready with what each node reports, and Retry-After", async () => {
    const { nodes, add, report } = await setup();
    const a = await add(["llama_cpp"]);
    const b = await add(["llama_cpp", "whisper"]);
    await add(["llama_cpp"]); // has not reported the model yet: pending
    report(a, [{ name: "org/llama", state: "downloading", progress: { bytes: 43, total: 100, percent: 43.7 } }]);
    report(b, [{ name: "org/llama", state: "failed", error: "checksum mismatch" }]);
    const err = caught(() => resolveReadiness(models, nodes, "org/llama", "chat"));
    expect(err).toMatchObject({ status: 503, code: "model_not_ready" });
    expect(err.message).toContain("downloading 43%");
    expect(err.message).toContain("failed: checksum mismatch");
    expect(err.message).toContain("pending");
    expect(err.headers["Retry-After"]).toMatch(/^\d+$/);
  });

  it("answers only the online nodes that report the model ready", async () => {
    const { nodes, add, report } = await setup();
    const a = await add(["llama_cpp"]);
    const b = await add(["llama_cpp"]);
    report(a, [{ name: "org/llama", state: "starting" }]);
    report(b, [{ name: "org/llama", state: "ready", capacity: 4 }]);
    const readiness = resolveReadiness(models, nodes, "org/llama", "embedding");
    expect(readiness.model).toBe(llama);
    expect(readiness.targets.map((t) => t.node.runtimeId)).toEqual([b.runtimeId]);
    expect(readiness.targets[0]?.status.capacity).toBe(4);
    expect(nodeViews(nodes, placement(nodes), llama).map((v) => [v.runtime_id, v.state, v.ready])).toEqual([
      [a.runtimeId, "starting", false],
      [b.runtimeId, "ready", true],
    ]);
  });
});
