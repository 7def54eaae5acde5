/**
 * A fleet for placement tests: the built gateway and three or more real agents with the stand-in
 * llama-server, each with its own name, labels and GPU memory (the stand-in nvidia-smi reports what
 * the test chooses), all reading the same test hub.
 */
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { parseGgufHeader } from "@omnigate/shared/gguf";
import { estimateMib, ggufMemoryProfile } from "@omnigate/shared/memory-estimate";
import type { ModelListEntry } from "@omnigate/shared/models";
import { startAgent, startGateway, type AgentProcess, type GatewayProcess } from "@omnigate/testkit/cluster";
import { GatewayApi, httpJson } from "@omnigate/testkit/gateway-api";
import type { TestHub } from "@omnigate/testkit/hub";
import type { TestScope } from "@omnigate/testkit/scope";
import { standInEngineEnv } from "@omnigate/testkit/stand-ins";
import { waitFor } from "@omnigate/testkit/wait";

export interface FleetNode {
  readonly name: string;
  /** GPU memory the stand-in nvidia-smi reports. */
  readonly gpuMib: number;
  readonly labels?: string;
  /** A prepared HF home (a cache that already holds files). */
  readonly hfHome?: string;
}

export interface Fleet {
  readonly gateway: GatewayProcess;
  readonly api: GatewayApi;
  /** By name. */
  readonly agents: Map<string, AgentProcess>;
  /** runtime_id → name. */
  readonly names: Map<string, string>;
}

export async function startFleet(scope: TestScope, hub: TestHub, nodes: readonly FleetNode[], env: Record<string, string> = {}): Promise<Fleet> {
  const gateway = await startGateway(scope, {
    heartbeatIntervalMs: 200,
    nodeTimeoutMs: 1_500,
    env: { HF_ENDPOINT: hub.url, OMNIGATE_NODE_CALL_TIMEOUT_MS: "1000", ...env },
  });
  const agents = new Map<string, AgentProcess>();
  await Promise.all(
    nodes.map(async (n) => {
      const agent = await startAgent(scope, { gateway, ...(n.hfHome ? { hfHome: n.hfHome } : {}), env: agentEnv(hub, n) });
      agents.set(n.name, agent);
    }),
  );
  const api = new GatewayApi(gateway);
  const names = new Map([...agents].map(([name, a]) => [a.runtimeId, name]));
  await waitFor(async () => {
    const listed = await api.nodes();
    return [...names.keys()].every((id) => listed.some((n) => n.runtime_id === id && n.online));
  }, { what: "every agent online", timeoutMs: 20_000 });
  return { gateway, api, agents, names };
}

export function agentEnv(hub: TestHub, n: FleetNode): Record<string, string> {
  return {
    HF_ENDPOINT: hub.url,
    ...standInEngineEnv(["OMNIGATE_LLAMA_SERVER_BIN", "OMNIGATE_NVIDIA_SMI_BIN"]),
    STANDIN_GPUS: `0, Test GPU, ${n.gpuMib}, 0`,
    OMNIGATE_NODE_NAME: n.name,
    OMNIGATE_NODE_LABELS: n.labels ?? "",
  };
}

/** The names of the nodes a model is placed on (leaving ones too), sorted. */
export function placedOn(fleet: Fleet, entry: ModelListEntry | undefined, which: "placed" | "ready" = "placed"): string[] {
  return (entry?.nodes ?? [])
    .filter((n) => which === "placed" || n.ready)
    .map((n) => fleet.names.get(n.runtime_id) ?? n.runtime_id)
    .sort();
}

/** The agents whose cache holds a file of `repo` (downloaded), by name. */
export async function holding(fleet: Fleet, repo: string): Promise<string[]> {
  const out: string[] = [];
  for (const [name, agent] of fleet.agents) {
    const snapshots = join(agent.hfHome, "hub", `models--${repo.replace("/", "--")}`, "snapshots");
    if (!existsSync(snapshots)) continue;
    const files = await readdir(snapshots, { recursive: true });
    if (files.some((f) => String(f).endsWith(".gguf"))) out.push(name);
  }
  return out.sort();
}

/** The memory estimate of a GGUF held in memory, as the gateway computes it at the default settings. */
export async function estimateOf(gguf: Buffer): Promise<number> {
  const header = await parseGgufHeader({
    size: gguf.length,
    read: async (buf, offset, length, position) => gguf.copy(buf, offset, position, Math.min(gguf.length, position + length)),
  });
  return estimateMib(ggufMemoryProfile([header]));
}

export function chat(fleet: Fleet, model: string) {
  return httpJson<{ choices?: unknown[]; error?: { code: string; message: string } }>(`${fleet.gateway.url}/v1/chat/completions`, {
    token: fleet.gateway.adminKey,
    json: { model, messages: [{ role: "user", content: "hello" }], max_tokens: 4 },
  });
}

export function patchModel(fleet: Fleet, model: string, body: unknown) {
  return httpJson<Record<string, unknown>>(`${fleet.gateway.url}/api/models/${model}`, { method: "PATCH", token: fleet.gateway.adminKey, json: body });
}

export function nodeAction(fleet: Fleet, name: string, action: "cordon" | "uncordon" | "drain") {
  const id = fleet.agents.get(name)!.runtimeId;
  return httpJson<Record<string, unknown>>(`${fleet.gateway.url}/api/nodes/${id}/${action}`, { method: "POST", token: fleet.gateway.adminKey });
}
