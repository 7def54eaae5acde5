import { once } from "node:events";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import type { Heartbeat, NodeRegistration } from "@omnigate/shared/node-protocol";
import { isLoopbackHost, urlHost } from "@omnigate/shared/tls";
import { stopAccepting } from "@omnigate/server-kit/shutdown";
import { createDefaultParts, type AgentParts } from "./agent-parts.js";
import { createAgentApp } from "./api/agent-app.js";
import { NodeSecretAuth, scrapeTokenDigest } from "./api/auth.js";
import { agentMetrics } from "./api/metrics.js";
import { createAgentServer, serveCredentials, type AgentServer } from "./api/listener.js";
import { parseLabels, type AgentConfig } from "./config.js";
import { GatewayFailover, gatewayUrls } from "./gateway-failover.js";
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
import { NodeIdentity } from "./tls/node-identity.js";

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
  /** `http(s)://host:port` as bound (the real port when OMNIGATE_AGENT_PORT=0). */
  readonly url: string;
  /** Whether the agent API serves HTTPS with mutual TLS (anything but loopback, or OMNIGATE_AGENT_TLS=on). */
  readonly tls: boolean;
  /** Settles when the agent refuses to join the gateway (a pinned CA that differs): main.ts exits. */
  readonly fatal: Promise<Error>;
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
  const tls = config.OMNIGATE_AGENT_TLS === "on" || !isLoopbackHost(config.OMNIGATE_AGENT_HOST);
  checkTlsSettings(config, tls);
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
  let server: AgentServer;
  try {
    server = createAgentServer({
      app,
      auth,
      tls,
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
  const scheme = tls ? "https" : "http";
  const url = `${scheme}://${hostForUrl(config.OMNIGATE_AGENT_HOST)}:${port}`;
  // A wildcard bind is not an address the gateway can call: use the host's name instead.
  const agentUrl =
    config.OMNIGATE_AGENT_URL ??
    (isWildcard(config.OMNIGATE_AGENT_HOST) ? `${scheme}://${hostname}:${port}` : url);
  // The key is made here and never leaves the process; the certificate comes with registration.
  const identity = tls
    ? new NodeIdentity({
        host: urlHost(agentUrl),
        runtimeId,
        pin: config.OMNIGATE_CA_FINGERPRINT,
        serve: (credentials) => serveCredentials(server as HttpsServer, credentials),
        logger: logger.child({ component: "tls" }),
      })
    : undefined;
  let onFatal: (error: Error) => void = () => {};
  const fatal = new Promise<Error>((resolve) => (onFatal = resolve));

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
  const gateways = gatewayUrls(config.OMNIGATE_GATEWAY_URL);
  const loop = new HeartbeatLoop({
    client: new GatewayFailover(
      gateways.map((baseUrl) => ({
        url: baseUrl,
        client: new GatewayClient({
          baseUrl,
          tokenSource: { token: config.OMNIGATE_NODE_TOKEN, file: config.OMNIGATE_NODE_TOKEN_FILE },
          pin: config.OMNIGATE_CA_FINGERPRINT,
        }),
      })),
      logger.child({ component: "gateway-client" }),
    ),
    logger: logger.child({ component: "gateway-client" }),
    runtimeId,
    registration,
    heartbeat: (): Heartbeat => ({ ...registration(), models: reconciler.statuses(), engines: parts.server.engines() }),
    snapshot: () => reconciler.snapshot(),
    onDesired: (models, snapshot) => reconciler.setDesired(models, snapshot),
    onSecret: (secret) => auth.setSecret(secret),
    ...(identity ? { identity } : {}),
    onFatal,
  });
  reconciler.on("change", () => loop.nudge());
  // Files arrived or left: the cache inventory (locality) is measured again before the next heartbeat.
  reconciler.on("change", () => void capacity.refresh().catch(() => undefined));
  loop.start();
  log.info(
    { url, agent_url: agentUrl, runtime_id: runtimeId, runtimes: parts.server.supportedRuntimes, gateways },
    "agent listening",
  );
  if (tls) {
    log.info({ agent_url: agentUrl }, "the agent API serves HTTPS and accepts only clients with a certificate from the cluster CA (its own certificate comes with registration)");
  } else {
    log.info("the agent API serves plain HTTP on loopback: traffic never leaves this box (OMNIGATE_AGENT_TLS=on for mutual TLS here too)");
  }
  for (const gateway of gateways.filter((g) => g.startsWith("http:") && !isLoopbackHost(urlHost(g)))) {
    log.warn(
      { gateway },
      "the gateway is reached in plain HTTP: the node token and node secret cross the network in clear, and the cluster CA this agent trusts comes unauthenticated. Use https:// with OMNIGATE_CA_FINGERPRINT.",
    );
  }

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
  return { url, tls, fatal, agentUrl, port, runtimeId, reconciler, heartbeats: loop, close };
}

/** Settings that contradict each other fail the start, naming the variables. */
function checkTlsSettings(config: AgentConfig, tls: boolean): void {
  const scheme = tls ? "https" : "http";
  if (config.OMNIGATE_AGENT_URL && !config.OMNIGATE_AGENT_URL.startsWith(`${scheme}:`)) {
    const why = tls ? "the agent serves HTTPS (it listens beyond loopback, or OMNIGATE_AGENT_TLS=on)" : "the agent serves plain HTTP on loopback (set OMNIGATE_AGENT_TLS=on for HTTPS)";
    throw new Error(`OMNIGATE_AGENT_URL is ${config.OMNIGATE_AGENT_URL}, but ${why}: make it ${scheme}://…`);
  }
  const plain = gatewayUrls(config.OMNIGATE_GATEWAY_URL).find((g) => !g.startsWith("https:"));
  if (config.OMNIGATE_CA_FINGERPRINT && plain) {
    throw new Error(`OMNIGATE_CA_FINGERPRINT pins the gateway's TLS certificate, but OMNIGATE_GATEWAY_URL holds ${plain}: make it https://…`);
  }
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
