// Shared set-up of the data-plane tests: stand-in agent PROCESSES (test/fixtures/data-plane-fake-agent.mjs)
// and a gateway data plane served over real HTTP on 127.0.0.1:0.
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import express from "express";
import { afterEach } from "vitest";
import { request } from "undici";
import type { ModelRecord } from "@omnigate/shared/models";
import { Heartbeat, NodeRegistration } from "@omnigate/shared/node-protocol";
import { RUNTIMES, type RuntimeType } from "@omnigate/shared/runtimes";
import { GatewayEnv } from "../src/config.js";
import { errorMiddleware, notFoundHandler } from "../src/errors/error-middleware.js";
import { createLogger } from "../src/logger.js";
import { NodeRegistry, type NodeEntry } from "../src/nodes/node-registry.js";
import { createDataPlane, type DataPlane } from "../src/proxy/data-plane.js";
import type { PlacementLookup } from "../src/routing/readiness.js";

const here = dirname(fileURLToPath(import.meta.url));
export const FAKE_AGENT = join(here, "fixtures", "data-plane-fake-agent.mjs");

export interface FakeAgentConfig {
  secret?: string;
  name?: string;
  mode?: "ok" | "status" | "reset" | "hang" | "die_mid_stream" | "hold";
  status?: number;
  code?: string;
  chunks?: number;
  chunkBytes?: number;
  holdAfter?: number;
  pingFirst?: boolean;
}

export interface FakeAgentStats {
  requests: number;
  in_flight: number;
  max_in_flight: number;
  aborted: number;
  last: { path: string; request_id: string | null; content_type: string | null; bytes: number; sha256: string } | null;
}

export class FakeAgent {
  constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(name: string): Promise<FakeAgent> {
    const child = spawn(process.execPath, [FAKE_AGENT], { env: { ...process.env, FAKE_NAME: name, PORT: "0" }, stdio: ["ignore", "pipe", "inherit"] });
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.once("line", (l) => {
        rl.close();
        resolve(l);
      });
      child.once("exit", (code) => reject(new Error(`fake agent exited (${code}) before listening`)));
    });
    const { port } = JSON.parse(line) as { port: number };
    return new FakeAgent(child, `http://127.0.0.1:${port}`);
  }

  async #call<T>(path: string, body?: unknown): Promise<T> {
    const res = await request(`${this.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await res.body.json()) as T;
  }

  config(config: FakeAgentConfig): Promise<unknown> {
    return this.#call("/_fake/config", config);
  }

  stats(): Promise<FakeAgentStats> {
    return this.#call("/_fake/stats");
  }

  release(): Promise<unknown> {
    return this.#call("/_fake/release", {});
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGKILL");
    await exited;
  }
}

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
    replicas: "all",
    node_selector: {},
    placement_policy: "spread",
  };
}

/**
 * For the data plane alone: every node that runs a model's runtime is placed on for it (placement
 * itself is tested on its own and through the real gateway).
 */
export function placedEverywhere(models: ReadonlyMap<string, ModelRecord>, nodes: NodeRegistry): PlacementLookup {
  const placedOn = (model: string) => {
    const runtime = models.get(model)?.runtime;
    return nodes.list().filter((n) => runtime !== undefined && n.registration.supported_runtimes.includes(runtime)).map((n) => n.runtimeId);
  };
  return {
    routable: placedOn,
    replicas: (model) => placedOn(model).map((node) => ({ node, role: "serving" })),
    errors: () => [],
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
  const placement = placedEverywhere(models, nodes);
  const dataPlane = createDataPlane({ models, nodes, placement, config, logger });
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
      nodes.heartbeat(
        entry,
        Heartbeat.parse({
          ...registration,
          models: ready.map((m) => ({ name: m.name, state: m.state ?? "ready", capacity: m.capacity ?? 4 })),
        }),
      );
      if (typeof agent !== "string") await agent.config({ secret });
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
  const gateways: TestGateway[] = [];
  const agents: FakeAgent[] = [];
  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.close()));
    await Promise.all(agents.splice(0).map((a) => a.stop()));
  });
  return {
    async agents(env = {}, names = ["a", "b"]) {
      const started = await Promise.all(names.map((n) => FakeAgent.start(n)));
      agents.push(...started);
      const gw = await startGateway(env);
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
