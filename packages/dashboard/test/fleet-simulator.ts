// A fleet of simulated nodes speaking the node protocol over HTTP (register, heartbeat), for
// measuring the dashboard against thousands of nodes that no machine here could run as agents.
import { randomUUID } from "node:crypto";
import type { NodeModelStatus } from "@omnigate/shared/models";
import type { NodeRegistration } from "@omnigate/shared/node-protocol";

export interface SimulatedNode {
  readonly registration: NodeRegistration;
  secret: string;
}

const ZONES = ["eu-west", "eu-north", "us-east", "us-west", "ap-south"];
const CARDS = [
  ["NVIDIA L4", 23_034],
  ["NVIDIA A100-SXM4-80GB", 81_920],
  ["NVIDIA H100 80GB HBM3", 81_559],
  ["NVIDIA RTX A6000", 49_140],
] as const;

/** Runs `work` over `items`, `concurrency` at a time. */
async function pool<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i]!, i);
      }
    }),
  );
}

async function post(url: string, credential: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${credential}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

export class SimulatedFleet {
  readonly nodes: SimulatedNode[] = [];

  constructor(
    private readonly gatewayUrl: string,
    private readonly nodeToken: string,
  ) {}

  /** Registers `count` nodes, each with one to eight GPUs, labels and the llama_cpp runtime. */
  async register(count: number, concurrency = 32): Promise<void> {
    const fresh: SimulatedNode[] = Array.from({ length: count }, (_, i) => {
      const n = this.nodes.length + i;
      const [card, total] = CARDS[n % CARDS.length]!;
      return {
        secret: "",
        registration: {
          runtime_id: randomUUID(),
          supported_runtimes: ["llama_cpp"],
          loaded_models: {},
          // Never called: the gateway reaches agents only to serve or delete, and this suite does neither.
          agent_url: `http://127.0.0.1:9/node-${n}`,
          hostname: `gpu-${String(n).padStart(5, "0")}`,
          version: "0.1.0",
          gpus: Array.from({ length: 1 + (n % 8) }, (_, g) => ({ index: g, name: card, memory_total_mib: total, memory_used_mib: Math.round((total * ((n * 7 + g * 13) % 100)) / 100) })),
          labels: { zone: ZONES[n % ZONES.length]!, rack: `r${n % 40}` },
        },
      };
    });
    await pool(fresh, concurrency, async (node) => {
      const res = await post(`${this.gatewayUrl}/api/nodes/register`, this.nodeToken, node.registration);
      node.secret = String(res.node_secret);
    });
    this.nodes.push(...fresh);
  }

  heartbeat(node: SimulatedNode, models: NodeModelStatus[] | Array<Record<string, unknown>>): Promise<Record<string, unknown>> {
    return post(`${this.gatewayUrl}/api/nodes/${node.registration.runtime_id}/heartbeat`, node.secret, { ...node.registration, models });
  }

  async heartbeatAll(models: (node: SimulatedNode, index: number) => Array<Record<string, unknown>>, concurrency = 32): Promise<void> {
    await pool(this.nodes, concurrency, (node, i) => this.heartbeat(node, models(node, i)).then(() => {}));
  }
}
