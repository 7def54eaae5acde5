// Shared set-up of the data-plane tests: fake agent PROCESSES (the test kit's fake-agent.mjs) and a
// gateway data plane served over real HTTP on 127.0.0.1:0.
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import { afterEach } from "vitest";
import { FakeAgent } from "@omnigate/testkit/fake-agent";
import { TestScope } from "@omnigate/testkit/scope";
import type { ModelRecord } from "@omnigate/shared/models";
import { Heartbeat, NodeRegistration } from "@omnigate/shared/node-protocol";
import { RUNTIMES, type RuntimeType } from "@omnigate/shared/runtimes";
import { GatewayEnv } from "../src/config.js";
import { errorMiddleware, notFoundHandler } from "../src/errors/error-middleware.js";
import { createLogger } from "../src/logger.js";
import { NodeRegistry, type NodeEntry } from "../src/nodes/node-registry.js";
import { createDataPlane, type DataPlane } from "../src/proxy/data-plane.js";

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
  };
}

export interface TestGateway {
  readonly url: string;
  readonly nodes: NodeRegistry;
  readonly models: Map<string, ModelRecord>;
  readonly dataPlane: DataPlane;
  /** Registers `agent` as a node reporting `ready` for each model with its capacity. */
  addNode(agent: FakeAgent | string, ready: Array<{ name: string; capacity?: number; state?: "ready" | "starting" }>, runtimes?: RuntimeType[]): Promise<NodeEntry>;
  close(): Promise<void>;
}

/** The data plane in an Express app of its own (the error middleware the real app uses), on port 0. */
export async function startGateway(env: Record<string, string> = {}): Promise<TestGateway> {
  const config = GatewayEnv.parse({ LOG_LEVEL: "silent", ...env });
  const logger = createLogger(config.LOG_LEVEL);
  const nodes = new NodeRegistry({ timeoutMs: 60_000 });
  const models = new Map<string, ModelRecord>();
  const dataPlane = createDataPlane({ models, nodes, config, logger });
  const app = express();
  app.get("/metrics", dataPlane.metrics);
  app.use(dataPlane.router);
  app.use(notFoundHandler);
  app.use(errorMiddleware(logger));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closed: Promise<void> | undefined;
  return {
    url,
    nodes,
    models,
    dataPlane,
    async addNode(agent, ready, runtimes = ["llama_cpp", "whisper", "stable_diffusion", "onnx_runtime"]) {
      const registration = NodeRegistration.parse({
        runtime_id: randomUUID(),
        supported_runtimes: runtimes,
        loaded_models: {},
        agent_url: typeof agent === "string" ? agent : agent.url,
        hostname: "test-host",
        version: "test",
      });
      const { entry, secret } = nodes.register(registration);
      // The agent knows its secret before the heartbeat makes it ready: a waiting request goes at once.
      if (typeof agent !== "string") await agent.config({ secret });
      nodes.heartbeat(
        entry,
        Heartbeat.parse({
          ...registration,
          models: ready.map((m) => ({ name: m.name, state: m.state ?? "ready", capacity: m.capacity ?? 4 })),
        }),
      );
      return entry;
    },
    close() {
      closed ??= (async () => {
        await dataPlane.close();
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      })();
      return closed;
    },
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
      const gw = await startGateway(env);
      scope.defer(() => gw.close());
      gateways.push(gw);
      gw.models.set("llm", modelRecord("llm", "llama_cpp"));
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
