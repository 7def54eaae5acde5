// The whole system as separate processes for the end-to-end suites (the gateway's data plane and
// TLS, the dashboard's browser suite): the built gateway, built agents whose engines are the
// stand-ins, and the local test hub serving one model repo per runtime.
import { join } from "node:path";
import { fetch } from "undici";
import type { RuntimeType } from "@omnigate/shared/runtimes";
import { loadCa, type TestCa } from "./certs.js";
import { startAgent, startGateway, type AgentProcess, type GatewayProcess } from "./cluster.js";
import { GatewayApi, trusting } from "./gateway-api.js";
import { buildTinyLlamaGguf } from "./gguf-writer.js";
import { buildTinyWhisperModel } from "./whisper-model-writer.js";
import { startTestHub, type TestHub } from "../hub/hub-server.mjs";
import type { TestScope } from "./scope.js";
import { standInEngineEnv, type EngineVariable } from "./stand-ins.js";
import { waitFor } from "./wait.js";
import { encodeWav } from "../engines/lib/wav.mjs";

/** One model per runtime, the names the tests call them by. */
export const MODELS = {
  llm: { repo: "e2e/tiny-llama", runtime: "llama_cpp", files: { "tiny-q8_0.gguf": () => buildTinyLlamaGguf() } },
  asr: { repo: "e2e/whisper-tiny", runtime: "whisper", files: { "ggml-tiny.bin": () => Buffer.from("ggml stand-in weights") } },
  /** A real (tiny, random-weight) whisper model, for the real whisper-server. */
  whisper: { repo: "e2e/whisper-tiny-random", runtime: "whisper", files: { "ggml-tiny-random.bin": () => buildTinyWhisperModel() } },
  tts: {
    repo: "e2e/piper-voice",
    runtime: "onnx_runtime",
    files: {
      "model.onnx": () => Buffer.from("onnx stand-in"),
      "tokens.txt": () => Buffer.from("a 1\n"),
      "espeak-ng-data/phontab": () => Buffer.from("x"),
    },
  },
  img: { repo: "e2e/sd-tiny", runtime: "stable_diffusion", files: { "sd-tiny.safetensors": () => Buffer.from("safetensors stand-in") } },
} as const satisfies Record<string, { repo: string; runtime: RuntimeType; files: Record<string, () => Buffer> }>;

export type ModelKey = keyof typeof MODELS;

const ENGINE_VARS: Record<RuntimeType, EngineVariable[]> = {
  llama_cpp: ["OMNIGATE_LLAMA_SERVER_BIN"],
  whisper: ["OMNIGATE_WHISPER_SERVER_BIN"],
  onnx_runtime: ["OMNIGATE_TTS_BIN"],
  stable_diffusion: ["OMNIGATE_SD_SERVER_BIN"],
};

/** The local hub with `keys`' repos; the scope closes it. */
export async function startHub(scope: TestScope, keys: readonly ModelKey[]): Promise<TestHub> {
  const repos: Record<string, { revisions: { main: { files: Record<string, Buffer> } } }> = {};
  for (const key of keys) {
    const m = MODELS[key];
    const files: Record<string, Buffer> = {};
    for (const [path, make] of Object.entries(m.files)) files[path] = make();
    repos[m.repo] = { revisions: { main: { files } } };
  }
  const hub = await startTestHub({ repos });
  scope.defer(() => hub.close());
  return hub;
}

export interface Stack {
  readonly gateway: GatewayProcess;
  readonly agents: AgentProcess[];
  readonly api: GatewayApi;
  /** A client API key for /v1. */
  readonly key: string;
}

export interface StackOptions {
  readonly agents: number;
  readonly models: readonly ModelKey[];
  readonly gatewayEnv?: Record<string, string>;
  /** Extra agent environment (stand-in knobs: STANDIN_*), per agent index; undefined unsets a variable. */
  readonly agentEnv?: (index: number) => Record<string, string | undefined>;
  readonly nodeTimeoutMs?: number;
  /** Agents serve HTTPS with mutual TLS (on loopback too), pinning the gateway's cluster CA when it serves HTTPS. */
  readonly agentTls?: boolean;
  /** The CA of a front-door certificate given in gatewayEnv (the API calls verify the gateway with it). */
  readonly trustCa?: string;
}

/** Starts the gateway and the agents, registers the models and waits until every node has them ready. */
export async function startStack(scope: TestScope, hub: TestHub, options: StackOptions): Promise<Stack> {
  const gateway = await startGateway(scope, {
    heartbeatIntervalMs: 200,
    nodeTimeoutMs: options.nodeTimeoutMs ?? 2_000,
    // The gateway reads the models' headers from the same hub (memory estimates).
    env: { LOG_LEVEL: "warn", HF_ENDPOINT: hub.url, ...options.gatewayEnv },
    ...(options.trustCa ? { trustCa: options.trustCa } : {}),
  });
  const runtimes = [...new Set(options.models.map((k) => MODELS[k].runtime))];
  const engineEnv = standInEngineEnv(runtimes.flatMap((r) => ENGINE_VARS[r]));
  const agents = await Promise.all(
    Array.from({ length: options.agents }, (_, i) =>
      startAgent(scope, {
        gateway,
        ...(options.agentTls ? { tls: true } : {}),
        env: { HF_ENDPOINT: hub.url, LOG_LEVEL: "warn", STANDIN_LOAD_MS: "50", OMNIGATE_LLAMA_ARGS: "--embeddings", ...engineEnv, ...options.agentEnv?.(i) },
      }),
    ),
  );
  const api = new GatewayApi(gateway);
  await waitFor(async () => (await api.nodes()).filter((n) => n.online).length === options.agents, { what: "agents registered" });
  for (const key of options.models) {
    const m = MODELS[key];
    // On every node: the tests route between them.
    const res = await api.registerModel({ name: key, repo: m.repo, runtime: m.runtime, files: Object.keys(m.files), replicas: "all" });
    if (res.status !== 201) throw new Error(`registering ${key}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  await waitForReady(api, options.models, agents.length);
  const key = (await api.createKey("e2e")).key;
  return { gateway, agents, api, key };
}

/** Until each model is ready on `nodes` nodes. */
export async function waitForReady(api: GatewayApi, models: readonly string[], nodes: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      for (const name of models) {
        const entry = await api.model(name);
        if (!entry || entry.nodes.filter((n) => n.ready).length < nodes) return false;
      }
      return true;
    },
    { what: `${models.join(", ")} ready on ${nodes} node(s)`, timeoutMs, intervalMs: 100 },
  );
}

/** A short 16-bit mono WAV (a tone), what whisper-server decodes. */
export function toneWav(seconds = 0.5, rate = 16_000): Buffer {
  return encodeWav(seconds, rate, 440);
}

/** A chat completion of "llm" through the stack's gateway (HTTPS: trusting its CA); the response unread. */
export function chat(stack: Stack, stream: boolean, maxTokens?: number): ReturnType<typeof fetch> {
  return fetch(`${stack.gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "llm", messages: [{ role: "user", content: "hi" }], stream, ...(maxTokens ? { max_tokens: maxTokens } : {}) }),
    ...(stack.gateway.url.startsWith("https:") ? { dispatcher: trusting(stack.gateway.ca) } : {}),
  });
}

/** The gateway's cluster CA with its key, from its data dir: the tests sign their own certificates with it. */
export function clusterCaOf(gateway: GatewayProcess): Promise<TestCa> {
  return loadCa(join(gateway.dataDir, "cluster-ca.crt"), join(gateway.dataDir, "cluster-ca.key"));
}
