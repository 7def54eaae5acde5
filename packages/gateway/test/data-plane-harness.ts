// Shared set-up of the data-plane tests: fake agent PROCESSES (the test kit's fake-agent.mjs) and the
// gateway's own listener (server.ts, what main.ts runs) over real HTTP on 127.0.0.1:0.
import { randomUUID } from "node:crypto";
import { afterEach } from "vitest";
import { FakeAgent } from "@omnigate/testkit/fake-agent";
import { TestScope } from "@omnigate/testkit/scope";
import type { ModelRecord } from "@omnigate/shared/models";
import { Heartbeat, NodeRegistration } from "@omnigate/shared/node-protocol";
import { RUNTIMES, type RuntimeType } from "@omnigate/shared/runtimes";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import type { NodeEntry, NodeRegistry } from "../src/nodes/node-registry.js";
import type { PlacementController } from "../src/placement/placement-controller.js";
import { startGateway as startRunningGateway } from "../src/server.js";
import type { ModelStore } from "../src/store/model-store.js";

const ADMIN_KEY = "og-admin-key-for-data-plane-tests";

export function modelRecord(name: string, runtime: RuntimeType): ModelRecord {
  return {
    name,
    repo: "org/repo",
    revision: "main",
    files: [],
    runtime,
    kind: RUNTIMES[runtime].kind,
    capabilities: [...RUNTIMES[runtime].capabilities],
    options: {},
    created_at: 1_700_000_000,
    // The data plane's tests are about routing, not placement: every node that runs the runtime
    // serves the model, with a memory figure so no estimate from a hub is waited for.
    replicas: "all",
    resources: { memory_mib: 1 },
    node_selector: {},
    placement_policy: "spread",
  };
}

export interface TestGateway {
  readonly url: string;
  readonly nodes: NodeRegistry;
  /** The registered models (the gateway's own store). */
  readonly models: ModelStore;
  /** The gateway's placement (every model on every node that runs its runtime). */
  readonly placement: PlacementController;
  /** `Authorization` for /v1 and /metrics (the admin key). */
  readonly auth: { readonly authorization: string };
  /** Registers a model of `runtime` named `name`. */
  addModel(name: string, runtime: RuntimeType): Promise<void>;
  /** Registers `agent` as a node reporting `ready` for each model with its capacity. */
  addNode(agent: FakeAgent | string, ready: Array<{ name: string; capacity?: number; state?: "ready" | "starting" }>, runtimes?: RuntimeType[]): Promise<NodeEntry>;
  close(): Promise<void>;
}

/**
 * The gateway as main.ts starts it (server.ts: the store, the app and the data plane behind one
 * listener) on 127.0.0.1:0 with a data dir in `scope`; nodes and models are set up in-process.
 */
export async function startGateway(scope: TestScope, env: Record<string, string> = {}): Promise<TestGateway> {
  const config = loadConfig({
    OMNIGATE_HOST: "127.0.0.1",
    OMNIGATE_PORT: "0",
    OMNIGATE_DATA_DIR: await scope.tempDir("og-dp-gateway-"),
    OMNIGATE_ADMIN_KEY: ADMIN_KEY,
    OMNIGATE_NODE_TOKEN: "og-node-token-for-data-plane-tests",
    // Nodes are set up in-process and never heartbeat again: they must not time out mid-test.
    OMNIGATE_NODE_TIMEOUT_MS: "600000",
    LOG_LEVEL: "silent",
    ...env,
  });
  const gateway = await startRunningGateway(config, createLogger(config.LOG_LEVEL));
  scope.defer(() => gateway.close());
  const { nodes, store, placement } = gateway;
  return {
    url: gateway.url,
    nodes,
    models: store.models,
    placement,
    auth: { authorization: `Bearer ${ADMIN_KEY}` },
    async addModel(name, runtime) {
      await store.models.insert(modelRecord(name, runtime));
      // As POST /api/models does: placed at once, not on the controller's next pass.
      await placement.recompute();
    },
    async addNode(agent, ready, runtimes = ["llama_cpp", "whisper", "stable_diffusion", "onnx_runtime"]) {
      const registration = NodeRegistration.parse({
        runtime_id: randomUUID(),
        supported_runtimes: runtimes,
        loaded_models: {},
        agent_url: typeof agent === "string" ? agent : agent.url,
        hostname: "test-host",
        version: "test",
      });
      const { entry, secret } = await nodes.register(registration);
      // The agent knows its secret before the heartbeat makes it ready: a waiting request goes at once.
      if (typeof agent !== "string") await agent.config({ secret });
      nodes.heartbeat(
        entry,
        Heartbeat.parse({
          ...registration,
          models: ready.map((m) => ({ name: m.name, state: m.state ?? "ready", capacity: m.capacity ?? 4 })),
        }),
      );
      await placement.recompute();
      return entry;
    },
    close: () => gateway.close(),
  };
}

/** Per-test clusters of a test file (see clusterPerTest). */
export interface PerTestCluster {
  /** Starts stand-in agents and a gateway with the model "llm" registered; resolves with the agents. */
  agents(env?: Record<string, string>, names?: readonly string[]): Promise<FakeAgent[]>;
  /** The gateway the test's last `agents()` call started. */
  readonly gw: TestGateway;
}

/** Per-test clusters for a test file: everything started is stopped after each test. Call at the file's top level. */
export function clusterPerTest(): PerTestCluster {
  const scope = new TestScope();
  let gateways: TestGateway[] = [];
  afterEach(async () => {
    gateways = [];
    await scope.cleanup();
  });
  return {
    async agents(env = {}, names = ["a", "b"]) {
      const started = await Promise.all(names.map((n) => FakeAgent.start(scope, n)));
      const gw = await startGateway(scope, env);
      gateways.push(gw);
      await gw.addModel("llm", "llama_cpp");
      return started;
    },
    get gw() {
      const gw = gateways.at(-1);
      if (!gw) throw new Error("no gateway started in this test: call cluster.agents() first");
      return gw;
    },
  };
}

/** Reads an SSE body into its events' data fields. */
export function sseData(text: string): string[] {
  return text
    .split("\n\n")
    .filter((e) => e.startsWith("data: "))
    .map((e) => e.slice("data: ".length));
}
