import { z } from "zod";
import { formatEnvErrors } from "@omnigate/shared/validation";
import { proxyEnv } from "./proxy/proxy-env.js";
import { checkTlsEnv, tlsEnv } from "./tls/tls-env.js";

/** The gateway's control-plane variables. */
export const controlEnv = {
  // Listen address; 0.0.0.0 to take traffic from other hosts.
  OMNIGATE_HOST: z.string().default("127.0.0.1"),
  // 0 = any free port (tests).
  OMNIGATE_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  // SQLite registry, generated credentials: keep it on persistent storage.
  OMNIGATE_DATA_DIR: z.string().default("./.data/gateway"),
  // Admin credential for /api/* and DELETE; generated into the data dir when unset.
  OMNIGATE_ADMIN_KEY: z.string().min(16, "OMNIGATE_ADMIN_KEY must be at least 16 characters").optional(),
  // Cluster-wide token agents register with; generated into the data dir when unset.
  OMNIGATE_NODE_TOKEN: z.string().min(16, "OMNIGATE_NODE_TOKEN must be at least 16 characters").optional(),
  // How often agents heartbeat.
  OMNIGATE_HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(50).default(5_000),
  // A node silent this long is offline and gets no traffic.
  OMNIGATE_NODE_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  // A node offline this long (since its last heartbeat) loses its replicas to other nodes.
  OMNIGATE_REPLACE_AFTER_MS: z.coerce.number().int().min(0).default(60_000),
  // The hub the gateway reads model file lists and GGUF headers from (memory estimates); same variable as the agent's.
  HF_ENDPOINT: z.url().default("https://huggingface.co"),
  // Token for private or gated repos' headers; same variable as the agent's.
  HF_TOKEN: z.string().optional(),
  // How long one hub request of the memory estimate may take.
  OMNIGATE_HUB_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  // How long a node agent gets to confirm a model delete before it is left to its next heartbeat.
  OMNIGATE_NODE_CALL_TIMEOUT_MS: z.coerce.number().int().min(50).default(3_000),
  // On SIGTERM, how long in-flight requests may finish before their connections are cut.
  OMNIGATE_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  // The built dashboard served at /; unset = the one built with the gateway; "off" = none.
  OMNIGATE_DASHBOARD_DIR: z.string().min(1).optional(),
  // pino level: debug shows every request and engine output line; silent for tests.
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
};

export const GatewayEnv = z.object({ ...controlEnv, ...proxyEnv, ...tlsEnv }).superRefine(checkTlsEnv);
export type GatewayConfig = z.infer<typeof GatewayEnv>;

/** Reads the environment once; throws naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const parsed = GatewayEnv.safeParse(env);
  if (!parsed.success) throw new Error(formatEnvErrors(parsed.error));
  return parsed.data;
}
