import { z } from "zod";
import { cacheEnv } from "./cache/cache-env.js";
import { engineEnv } from "./engines/engine-env.js";
import { agentTlsEnv } from "./tls/tls-env.js";
import { LabelKey, LabelValue, formatEnvErrors } from "@omnigate/shared/validation";

/** Why a labels value is malformed, or null. */
function labelsError(text: string): string | null {
  for (const entry of text.split(",").map((e) => e.trim()).filter(Boolean)) {
    const eq = entry.indexOf("=");
    if (eq <= 0) return `"${entry}" is not key=value (use "k=v,k2=v2")`;
    const key = LabelKey.safeParse(entry.slice(0, eq).trim());
    if (!key.success) return `"${entry}": ${key.error.issues[0]?.message}`;
    const value = LabelValue.safeParse(entry.slice(eq + 1).trim());
    if (!value.success) return `"${entry}": ${value.error.issues[0]?.message}`;
  }
  return null;
}

/** OMNIGATE_NODE_LABELS ("k=v,k2=v2") as the registration's `labels`; throws naming a bad entry. */
export function parseLabels(text: string): Record<string, string> {
  const error = labelsError(text);
  if (error) throw new Error(`OMNIGATE_NODE_LABELS: ${error}`);
  const labels: Record<string, string> = {};
  for (const entry of text.split(",").map((e) => e.trim()).filter(Boolean)) {
    const eq = entry.indexOf("=");
    labels[entry.slice(0, eq).trim()] = entry.slice(eq + 1).trim();
  }
  return labels;
}

/** The agent's own variables: where it lives and how it reaches the gateway. */
export const controlEnv = {
  // Where the gateway is; the agent registers there.
  OMNIGATE_GATEWAY_URL: z.url().default("http://127.0.0.1:8080"),
  // Cluster-wide token for registration (the gateway's OMNIGATE_NODE_TOKEN).
  OMNIGATE_NODE_TOKEN: z.string().min(16, "OMNIGATE_NODE_TOKEN must be at least 16 characters").optional(),
  // File holding the node token when the variable is unset (the gateway writes one on first start).
  OMNIGATE_NODE_TOKEN_FILE: z.string().optional(),
  // The agent's own API (data plane and DELETE from the gateway); beyond loopback it serves HTTPS with mutual TLS only.
  OMNIGATE_AGENT_HOST: z.string().default("127.0.0.1"),
  // 0 = any free port (tests); the agent reports the bound port in agent_url.
  OMNIGATE_AGENT_PORT: z.coerce.number().int().min(0).max(65535).default(8081),
  // What the gateway should call; defaults to http(s)://<host>:<bound port>. Its host is the name in the agent's certificate.
  OMNIGATE_AGENT_URL: z.url().optional(),
  // Keeps the runtime_id (a UUID) and engine pid files across restarts.
  OMNIGATE_STATE_DIR: z.string().default("./.data/agent"),
  // Lets a Prometheus scrape GET /metrics without holding the node secret; unset = node secret only.
  OMNIGATE_AGENT_METRICS_TOKEN: z.string().min(16, "OMNIGATE_AGENT_METRICS_TOKEN must be at least 16 characters").optional(),
  // The name this node goes by in /api/nodes and placement messages; unset = the host's name.
  OMNIGATE_NODE_NAME: z.string().min(1).max(255).optional(),
  // Memory kept free of models on this node (other processes, the OS); placement commits the rest.
  OMNIGATE_NODE_RESERVED_MIB: z.coerce.number().int().min(0).default(0),
  // Labels sent at registration, "k=v,k2=v2"; models choose nodes by them (node_selector).
  OMNIGATE_NODE_LABELS: z
    .string()
    .default("")
    .refine((s) => labelsError(s) === null, { error: (issue) => labelsError(String(issue.input)) ?? "bad labels" }),
  // pino level: debug shows every request and engine output line; silent for tests.
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
};

export const AgentEnv = z.object({ ...controlEnv, ...agentTlsEnv, ...cacheEnv, ...engineEnv });
export type AgentConfig = z.infer<typeof AgentEnv>;

/** Reads the environment once; throws naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const parsed = AgentEnv.safeParse(env);
  if (!parsed.success) throw new Error(formatEnvErrors(parsed.error));
  return parsed.data;
}
