// The system the browser suite drives, every part a process: the built gateway (serving the built
// dashboard), one built agent whose engines and nvidia-smi are the stand-ins, and the local test hub.
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { dashboardDir } from "@omnigate/dashboard";
import type { AgentProcess, GatewayProcess } from "@omnigate/testkit/cluster";
import { startHub, startStack, type ModelKey } from "@omnigate/testkit/e2e-stack";
import type { GatewayApi } from "@omnigate/testkit/gateway-api";
import type { TestHub } from "@omnigate/testkit/hub";
import type { TestScope } from "@omnigate/testkit/scope";
import { standin } from "@omnigate/testkit/stand-ins";

/** A repo big enough that its download shows on a progress bar (the hub sends it slowly). */
export const SLOW_REPO = { repo: "ui/whisper-big", file: "ggml-base.bin", bytes: 3_000_000 } as const;

export interface DashboardStack {
  readonly hub: TestHub;
  readonly gateway: GatewayProcess;
  readonly agent: AgentProcess;
  readonly api: GatewayApi;
}

export function assertDashboardBuilt(): void {
  if (!existsSync(join(dashboardDir, "index.html"))) throw new Error(`${dashboardDir}index.html is missing: run \`pnpm build\` before the browser suite.`);
}

/** The gateway and an agent with every runtime (stand-ins) and two GPUs, the models ready. */
export async function startDashboardStack(scope: TestScope, models: readonly ModelKey[]): Promise<DashboardStack> {
  assertDashboardBuilt();
  const hub = await startHub(scope, models);
  await hub.setRepo(SLOW_REPO.repo, { revisions: { main: { files: { [SLOW_REPO.file]: randomBytes(SLOW_REPO.bytes) } } } });
  const stack = await startStack(scope, hub, {
    agents: 1,
    models,
    nodeTimeoutMs: 5_000,
    agentEnv: () => ({
      OMNIGATE_NODE_NAME: "gpu-a",
      OMNIGATE_NVIDIA_SMI_BIN: standin("nvidia-smi"),
      OMNIGATE_NODE_LABELS: "zone=eu-west,tier=gpu",
      // Streamed answers come in visible pieces.
      STANDIN_CHUNKS: "8",
      STANDIN_CHUNK_INTERVAL_MS: "150",
    }),
  });
  return { hub, gateway: stack.gateway, agent: stack.agents[0]!, api: stack.api };
}
