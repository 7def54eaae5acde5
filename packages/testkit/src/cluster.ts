/**
 * The real gateway and agent, as built processes (`packages/<pkg>/dist/main.js`: what `pnpm gateway`
 * and `pnpm agent` run), for cross-process tests and benchmarks. Build first (`pnpm build`; root
 * `pnpm test` does). Every process and temp dir is tracked by a TestScope, which the test tears down
 * in afterEach.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestScope } from "./scope.js";
import { GatewayApi } from "./gateway-api.js";
import type { TestProcess } from "./test-process.js";
import { waitFor } from "./wait.js";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const GATEWAY_MAIN = join(REPO_ROOT, "packages/gateway/dist/main.js");
export const AGENT_MAIN = join(REPO_ROOT, "packages/node-agent/dist/main.js");
/** The admin CLI (`pnpm omnigate`). */
export const CLI_MAIN = join(REPO_ROOT, "packages/gateway/dist/cli/main.js");

/** Throws a clear message when the packages were not built. */
export function assertBuilt(): void {
  for (const file of [GATEWAY_MAIN, AGENT_MAIN]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`pnpm build\` before the cross-process tests.`);
  }
}

export function randomCredential(prefix: string): string {
  return `${prefix}${randomBytes(18).toString("base64url")}`;
}

export interface GatewayOptions {
  /** Reuse a data dir (a restart); a fresh temp dir otherwise. */
  readonly dataDir?: string;
  /** 0 (default) = any free port; a restart passes the old one so agents find it again. */
  readonly port?: number;
  /** Explicit credentials (default: fresh random ones). `null` = unset: the gateway generates them into the data dir. */
  readonly adminKey?: string | null;
  readonly nodeToken?: string | null;
  readonly heartbeatIntervalMs?: number;
  readonly nodeTimeoutMs?: number;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Output lines kept (default 2,000); a test that searches the whole log for secrets keeps them all. */
  readonly keepLines?: number;
  /** The CA that signed a front-door certificate given in env (OMNIGATE_TLS_CERT_FILE); default: the cluster CA. */
  readonly trustCa?: string;
}

export interface GatewayProcess extends TestProcess {
  /** `http(s)://127.0.0.1:<port>` as printed by the gateway. */
  readonly url: string;
  /** The cluster CA's fingerprint, as printed at start (what agents pin). */
  readonly fingerprint: string;
  /** What its HTTPS listener is verified with: `trustCa`, else the cluster CA (PEM). */
  readonly ca: string;
  readonly port: number;
  readonly dataDir: string;
  readonly adminKey: string;
  readonly nodeToken: string;
  /** The file the gateway keeps the node token in when it generated it (nodeToken: null); else null. */
  readonly nodeTokenFile: string | null;
  readonly options: GatewayOptions & { dataDir: string };
}

const LISTENING = /omnigate gateway listening on (https?:\/\/\S+)/;
const CLUSTER_CA = /omnigate cluster CA (sha256:[0-9a-f]{64})/;

/** Starts `node packages/gateway/dist/main.js` and waits for its listening line. */
export async function startGateway(scope: TestScope, options: GatewayOptions = {}): Promise<GatewayProcess> {
  assertBuilt();
  const dataDir = options.dataDir ?? (await scope.tempDir("og-gateway-"));
  const adminKey = options.adminKey === null ? undefined : (options.adminKey ?? randomCredential("og-admin-test-"));
  const nodeToken = options.nodeToken === null ? undefined : (options.nodeToken ?? randomCredential("og-node-test-"));
  const env: Record<string, string | undefined> = {
    OMNIGATE_HOST: "127.0.0.1",
    OMNIGATE_PORT: String(options.port ?? 0),
    OMNIGATE_DATA_DIR: dataDir,
    OMNIGATE_ADMIN_KEY: adminKey,
    OMNIGATE_NODE_TOKEN: nodeToken,
    OMNIGATE_HEARTBEAT_INTERVAL_MS: String(options.heartbeatIntervalMs ?? 200),
    OMNIGATE_NODE_TIMEOUT_MS: String(options.nodeTimeoutMs ?? 1_500),
    LOG_LEVEL: "info",
    ...options.env,
  };
  const gw = scope.spawn(GATEWAY_MAIN, { name: "gateway", env, ...(options.keepLines ? { keepLines: options.keepLines } : {}) });
  const url = (await gw.waitForLine(LISTENING))[1]!;
  const fingerprint = (await gw.waitForLine(CLUSTER_CA))[1]!;
  const caFile = env.OMNIGATE_CLUSTER_CA_CERT_FILE ?? join(dataDir, "cluster-ca.crt");
  const tokenFile = join(dataDir, "node.token");
  return Object.assign(gw, {
    url,
    fingerprint,
    ca: options.trustCa ?? (await readFile(caFile, "utf8")),
    port: Number(new URL(url).port),
    dataDir,
    adminKey: adminKey ?? (await readFile(join(dataDir, "admin.key"), "utf8")).trim(),
    nodeToken: nodeToken ?? (await readFile(tokenFile, "utf8")).trim(),
    nodeTokenFile: nodeToken ? null : tokenFile,
    options: { ...options, dataDir },
  });
}

/** Kills the gateway (SIGKILL: a crash) and starts it again on the same port and data dir. */
export async function restartGateway(scope: TestScope, gw: GatewayProcess, how: "kill" | "stop" = "kill"): Promise<GatewayProcess> {
  if (how === "kill") await gw.kill();
  else await gw.stop();
  return startGateway(scope, {
    ...gw.options,
    port: gw.port,
    adminKey: gw.options.adminKey === null ? null : gw.adminKey,
    nodeToken: gw.options.nodeToken === null ? null : gw.nodeToken,
  });
}

export interface AgentOptions {
  /** The gateway to register with (its URL and node token are taken from it; an https one is pinned by its fingerprint). */
  readonly gateway: Pick<GatewayProcess, "url" | "nodeToken" | "nodeTokenFile"> & { readonly fingerprint?: string };
  /** Reuse a state dir (same runtime_id: a restarted node); a fresh temp dir otherwise. */
  readonly stateDir?: string;
  /** The HF cache root (HF_HOME); a fresh temp dir otherwise. */
  readonly hfHome?: string;
  /** Pass the token through OMNIGATE_NODE_TOKEN_FILE instead of the variable. */
  readonly tokenVia?: "env" | "file";
  readonly port?: number;
  /** Serve HTTPS with mutual TLS on loopback too (OMNIGATE_AGENT_TLS=on). */
  readonly tls?: boolean;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface AgentProcess extends TestProcess {
  readonly url: string;
  readonly stateDir: string;
  readonly hfHome: string;
  readonly runtimeId: string;
  readonly options: AgentOptions & { stateDir: string; hfHome: string };
}

const AGENT_LISTENING = /omnigate agent listening on (https?:\/\/\S+)/;

/** Starts `node packages/node-agent/dist/main.js` and waits for its listening line. */
export async function startAgent(scope: TestScope, options: AgentOptions): Promise<AgentProcess> {
  assertBuilt();
  const stateDir = options.stateDir ?? (await scope.tempDir("og-agent-"));
  const hfHome = options.hfHome ?? (await scope.tempDir("og-hf-"));
  const viaFile = options.tokenVia === "file" || (options.tokenVia === undefined && options.gateway.nodeTokenFile !== null);
  if (viaFile && !options.gateway.nodeTokenFile) throw new Error("tokenVia: file needs a gateway started with nodeToken: null");
  const env: Record<string, string | undefined> = {
    OMNIGATE_GATEWAY_URL: options.gateway.url,
    OMNIGATE_AGENT_HOST: "127.0.0.1",
    OMNIGATE_AGENT_PORT: String(options.port ?? 0),
    OMNIGATE_STATE_DIR: stateDir,
    HF_HOME: hfHome,
    HF_HUB_CACHE: join(hfHome, "hub"),
    ...(viaFile ? { OMNIGATE_NODE_TOKEN_FILE: options.gateway.nodeTokenFile! } : { OMNIGATE_NODE_TOKEN: options.gateway.nodeToken }),
    ...(options.gateway.url.startsWith("https:") && options.gateway.fingerprint ? { OMNIGATE_CA_FINGERPRINT: options.gateway.fingerprint } : {}),
    ...(options.tls ? { OMNIGATE_AGENT_TLS: "on" } : {}),
    LOG_LEVEL: "info",
    ...options.env,
  };
  const agent = scope.spawn(AGENT_MAIN, { name: "agent", env });
  const url = (await agent.waitForLine(AGENT_LISTENING))[1]!;
  const runtimeId = (await readFile(join(stateDir, "runtime-id"), "utf8")).trim();
  return Object.assign(agent, { url, stateDir, hfHome, runtimeId, options: { ...options, stateDir, hfHome } });
}

/** Starts the agent again with the same state dir, cache and port (after kill/stop). */
export async function restartAgent(scope: TestScope, agent: AgentProcess, gateway?: AgentOptions["gateway"]): Promise<AgentProcess> {
  if (agent.running) await agent.stop();
  return startAgent(scope, { ...agent.options, gateway: gateway ?? agent.options.gateway, port: Number(new URL(agent.url).port) });
}

export interface ClusterOptions {
  readonly gateway?: GatewayOptions;
  /** How many agents (default 1), each with its own state dir and HF cache. */
  readonly agents?: number;
  /** Env for every agent, e.g. `{ HF_ENDPOINT: hub.url, ...standInEngineEnv() }`. */
  readonly agentEnv?: Readonly<Record<string, string | undefined>>;
}

export interface Cluster {
  readonly gateway: GatewayProcess;
  readonly agents: AgentProcess[];
}

/** A gateway and `agents` agents, returned once every agent shows up registered in GET /api/nodes. */
export async function startCluster(scope: TestScope, options: ClusterOptions = {}): Promise<Cluster> {
  const gateway = await startGateway(scope, options.gateway);
  const agents = await Promise.all(
    Array.from({ length: options.agents ?? 1 }, () => startAgent(scope, { gateway, ...(options.agentEnv ? { env: options.agentEnv } : {}) })),
  );
  const api = new GatewayApi(gateway);
  await waitFor(
    async () => {
      const nodes = await api.nodes();
      return agents.every((a) => nodes.some((n) => n.runtime_id === a.runtimeId && n.online));
    },
    { timeoutMs: 15_000, intervalMs: 50, what: () => `agents registered\n${scope.diagnostics()}` },
  );
  return { gateway, agents };
}
