// The system the browser suite drives, every part a process: the built gateway (serving the built
// dashboard), one built agent whose engines and nvidia-smi are the stand-ins, and the local test hub.
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { dashboardDir } from "@omnigate/dashboard";
import { MODELS, startHub, waitForReady, type ModelKey } from "../../gateway/test/e2e-stack.js";
import type { TestHub } from "../../node-agent/test/fixtures/hub/hub-server.mjs";
import { standInEngineEnv } from "../../node-agent/test/helpers/engines.js";
import { GatewayApi } from "../../node-agent/test/helpers/gateway-api.js";
import type { TestScope } from "../../node-agent/test/helpers/processes.js";
import { startAgent, startGateway, type AgentProcess, type GatewayProcess } from "../../node-agent/test/helpers/stack.js";
import { waitFor } from "../../node-agent/test/helpers/wait.js";

export { GatewayApi, waitFor };

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
  const hub = await startHub(models);
  await hub.setRepo(SLOW_REPO.repo, { revisions: { main: { files: { [SLOW_REPO.file]: randomBytes(SLOW_REPO.bytes) } } } });
  const gateway = await startGateway(scope, { heartbeatIntervalMs: 250, nodeTimeoutMs: 5_000, env: { LOG_LEVEL: "warn" } });
  const agent = await startAgent(scope, {
    gateway,
    env: {
      ...standInEngineEnv(["OMNIGATE_LLAMA_SERVER_BIN", "OMNIGATE_WHISPER_SERVER_BIN", "OMNIGATE_TTS_BIN", "OMNIGATE_SD_SERVER_BIN", "OMNIGATE_NVIDIA_SMI_BIN"]),
      HF_ENDPOINT: hub.url,
      LOG_LEVEL: "warn",
      OMNIGATE_NODE_LABELS: "zone=eu-west,tier=gpu",
      STANDIN_LOAD_MS: "50",
      // Streamed answers come in visible pieces.
      STANDIN_CHUNKS: "8",
      STANDIN_CHUNK_INTERVAL_MS: "150",
    },
  });
  const api = new GatewayApi(gateway);
  await waitFor(async () => (await api.nodes()).some((n) => n.online), { what: "the agent registered" });
  for (const key of models) {
    const m = MODELS[key];
    const res = await api.registerModel({ name: key, repo: m.repo, runtime: m.runtime, files: Object.keys(m.files) });
    if (res.status !== 201) throw new Error(`registering ${key}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  await waitForReady(api, models, 1);
  return { hub, gateway, agent, api };
}
