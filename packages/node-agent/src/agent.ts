import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import type { Heartbeat, NodeRegistration } from "@omnigate/shared/node-protocol";
import { stopAccepting } from "@omnigate/server-kit/shutdown";
import { createDefaultParts, type AgentParts } from "./agent-parts.js";
import { createAgentApp } from "./api/agent-app.js";
import { NodeSecretAuth, scrapeTokenDigest } from "./api/auth.js";
import { agentMetrics } from "./api/metrics.js";
import { createAgentServer } from "./api/listener.js";
import { parseLabels, type AgentConfig } from "./config.js";
import { GatewayClient, NodeTokenError } from "./gateway-client.js";
import { GpuProbe } from "./gpu-info.js";
import { NodeCapacityProbe } from "./node-capacity.js";
import { hubCacheDir } from "./hub/hub-config.js";
import { splitArgs } from "@omnigate/shared/argv";
import { llamaSettingsFromArgs } from "@omnigate/shared/memory-estimate";
import { HeartbeatLoop } from "./heartbeat-loop.js";
import type { Logger } from "./logger.js";
import { HeldModelsStore } from "./reconciler/held-models-store.js";
import { Reconciler } from "./reconciler/reconciler.js";
import { withDownloadMetrics } from "./metrics-download.js";
import { loadOrCreateRuntimeId } from "./runtime-id.js";

export type { AgentParts };

export interface AgentDeps {
  /** Builds the parts; the real cache and engines by default (agent-parts.ts). */
  readonly createParts?: (config: AgentConfig, logger: Logger) => Promise<AgentParts>;
  readonly hostname?: string;
  readonly version?: string;
  /** GPU discovery; a probe that finds none is fine. */
  readonly gpus?: GpuProbe;
}

export interface RunningAgent {
  /** `http://host:port` as bound (the real port when OMNIGATE_AGENT_PORT=0). */
  readonly url: string;
  /** What the gateway is told to call (OMNIGATE_AGENT_URL, else `url`). */
  readonly agentUrl: string;
  readonly port: number;
  readonly runtimeId: string;
  readonly reconciler: Reconciler;
  readonly heartbeats: HeartbeatLoop;
  /** Stop heartbeats → stop accepting → stop pulls → stop engines → release. Same promise twice. */
  close(): Promise<void>;
}

function packageVersion(): string {
  try {
    return (createRequire(import.meta.url)("../package.json") as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

/** Everything main.ts does except reading the environment and handling signals. */
export async function startAgent(config: AgentConfig, logger: Logger, deps: AgentDeps = {}): Promise<RunningAgent> {
  const log = logger.child({ component: "agent" });
  const labels = parseLabels(config.OMNIGATE_NODE_LABELS);
  if (!config.OMNIGATE_NODE_TOKEN && !config.OMNIGATE_NODE_TOKEN_FILE) {
    // Without either the agent could never register: say so now, not in a retry loop.
    throw new NodeTokenError(
      "No node token: set OMNIGATE_NODE_TOKEN to the gateway's node token, or OMNIGATE_NODE_TOKEN_FILE to the file the gateway wrote it to (<gateway data dir>/node.token).",
    );
  }
  const runtimeId = await loadOrCreateRuntimeId(config.OMNIGATE_STATE_DIR);
  const hostname = deps.hostname ?? config.OMNIGATE_NODE_NAME ?? osHostname();
  const version = deps.version ?? packageVersion();
  const gpus = deps.gpus ?? new GpuProbe({ bin: config.OMNIGATE_NVIDIA_SMI_BIN });
  await gpus.refresh();
  const capacity = new NodeCapacityProbe(hubCacheDir({ ...config, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME }), config.OMNIGATE_NODE_RESERVED_MIB);
  await capacity.refresh();
  // The settings every llama_cpp model here runs with unless its own engine_args say otherwise: the
  // gateway's memory estimate uses the same ones (the agent passes the default context explicitly).
  const llama = llamaSettingsFromArgs(splitArgs(config.OMNIGATE_LLAMA_ARGS));

  const parts = await (deps.createParts ?? createDefaultParts)(config, logger);
  const auth = new NodeSecretAuth();
  const reconciler = new Reconciler({
    cache: withDownloadMetrics(parts.cache, (bytes, repo) => agentMetrics.recordDownloadBytes(bytes, repo)),
    server: parts.server,
    logger: logger.child({ component: "reconciler" }),
    store: new HeldModelsStore(join(config.OMNIGATE_STATE_DIR, "models.json")),
  });
  await reconciler.restore();

  const app = createAgentApp({
    logger,
    auth,
    deleteModel: (name) => reconciler.deleteModel(name),
    health: () => ({ runtime_id: runtimeId, registered: auth.hasSecret }),
    metrics: { handler: agentMetrics.handler, scrapeToken: scrapeTokenDigest(config.OMNIGATE_AGENT_METRICS_TOKEN) },
  });
  agentMetrics.bind({
    statuses: () => reconciler.statuses(),
    engines: () => parts.server.engines(),
  });
  let server: Server;
  try {
    server = createAgentServer({
      app,
      auth,
      ...(parts.dataPlane ? { dataPlane: parts.dataPlane } : {}),
      requests: agentMetrics.requests,
    }).listen(config.OMNIGATE_AGENT_PORT, config.OMNIGATE_AGENT_HOST);
    await once(server, "listening");
  } catch (err) {
    await reconciler.close();
    await parts.server.close();
    await parts.close?.();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${hostForUrl(config.OMNIGATE_AGENT_HOST)}:${port}`;
  // A wildcard bind is not an address the gateway can call: use the host's name instead.
  const agentUrl =
    config.OMNIGATE_AGENT_URL ??
    (isWildcard(config.OMNIGATE_AGENT_HOST) ? `http://${hostname}:${port}` : url);

  const registration = (): NodeRegistration => {
    const { capacity: memory, cached } = capacity.current();
    return {
      runtime_id: runtimeId,
      supported_runtimes: [...parts.server.supportedRuntimes],
      loaded_models: reconciler.loadedModels(),
      agent_url: agentUrl,
      hostname,
      version,
      gpus: gpus.current(),
      labels,
      ...(memory ? { capacity: memory } : {}),
      cached,
      llama,
    };
  };
  const loop = new HeartbeatLoop({
    client: new GatewayClient({
      baseUrl: config.OMNIGATE_GATEWAY_URL,
      tokenSource: { token: config.OMNIGATE_NODE_TOKEN, file: config.OMNIGATE_NODE_TOKEN_FILE },
    }),
    logger: logger.child({ component: "gateway-client" }),
    runtimeId,
    registration,
    heartbeat: (): Heartbeat => ({ ...registration(), models: reconciler.statuses(), engines: parts.server.engines() }),
    snapshot: () => reconciler.snapshot(),
    onDesired: (models, snapshot) => reconciler.setDesired(models, snapshot),
    onSecret: (secret) => auth.setSecret(secret),
  });
  reconciler.on("change", () => loop.nudge());
  // Files arrived or left: the cache inventory (locality) is measured again before the next heartbeat.
  reconciler.on("change", () => void capacity.refresh().catch(() => undefined));
  loop.start();
  log.info(
    { url, agent_url: agentUrl, runtime_id: runtimeId, runtimes: parts.server.supportedRuntimes, gateway: config.OMNIGATE_GATEWAY_URL },
    "agent listening",
  );

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      // 1. No more heartbeats: the gateway marks the node offline at its timeout and routes elsewhere.
      await step(log, "stopping heartbeats", () => loop.stop());
      // 2. Stop accepting; requests in flight get a few seconds to finish.
      await step(log, "closing the listener", () => stopAccepting(server, 5_000));
      // 3. Abort pulls and pending retries, so nothing starts an engine behind our back.
      await step(log, "stopping the reconciler", () => reconciler.close());
      // 4. Engines: SIGTERM → timeout → SIGKILL.
      await step(log, "stopping engines", () => parts.server.close());
      // 5. Whatever else the parts hold (locks, pools).
      if (parts.close) await step(log, "releasing the cache", () => parts.close!());
      log.info("agent stopped");
    })();
    return closed;
  };
  return { url, agentUrl, port, runtimeId, reconciler, heartbeats: loop, close };
}

async function step(log: Logger, what: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (err) {
    log.error({ err }, `${what} failed`);
  }
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "";
}

function hostForUrl(host: string): string {
  if (isWildcard(host)) return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}
