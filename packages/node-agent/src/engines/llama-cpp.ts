import { DEFAULT_LLAMA_CTX_SIZE } from "@omnigate/shared/memory-estimate";
import type { ModelRecord } from "@omnigate/shared/models";
import type { CachedModel } from "../cache/types.js";
import { ProbedBinary } from "./binary.js";
import { probeOptions, type EngineConfig } from "./engine-env.js";
import { EngineSetupError } from "./engine-errors.js";
import { answersOk, engineRequest, engineStatusError, forwardPassThrough } from "./engine-http.js";
import { extraArgs, filesMatching, requireFile } from "./model-files.js";
import type { EngineAdapter, EngineCall, EnginePassThrough, ServerPlan } from "./types.js";

const ENGINE = "llama-server";
const PATHS = { chat: "/v1/chat/completions", completion: "/v1/completions", embedding: "/v1/embeddings" } as const;

/** The file llama-server is started with: the first shard of a split model, never a projector. */
function mainGguf(model: ModelRecord, files: CachedModel): string {
  const ggufs = filesMatching(files, /\.gguf$/i).filter((f) => !/mmproj/i.test(f));
  const shards = ggufs.filter((f) => /-\d{5}-of-\d{5}\.gguf$/i.test(f));
  const first = shards.length > 0 ? shards.filter((f) => /-00001-of-\d{5}\.gguf$/i.test(f)) : ggufs;
  return requireFile(model, files, first, "first .gguf file");
}

const EMBEDDINGS_HINT = `Start the model with embeddings: register it with options.engine_args ["--embeddings"] (or add --embeddings to OMNIGATE_LLAMA_ARGS).`;

const JSON_HEADERS = { "content-type": "application/json", accept: "application/json" } as const;
const SSE_HEADERS = { "content-type": "application/json", accept: "text/event-stream" } as const;

/** Every call llama-server serves goes to it as the client sent it (it takes fields OpenAI lacks). */
function passThrough(call: EngineCall): EnginePassThrough | undefined {
  if (call.capability !== "chat" && call.capability !== "completion" && call.capability !== "embedding") return undefined;
  const embedding = call.capability === "embedding";
  return {
    engine: ENGINE,
    path: PATHS[call.capability],
    headers: call.stream ? SSE_HEADERS : JSON_HEADERS,
    body: call.raw ?? Buffer.from(JSON.stringify(call.body)),
    stream: call.stream,
    failure: (status, text) => engineStatusError(ENGINE, status, text, embedding && status === 501 ? EMBEDDINGS_HINT : ""),
  };
}

/** llama.cpp's `llama-server` (runtime `llama_cpp`): chat, completion, embedding. */
export function createLlamaCppAdapter(config: EngineConfig): EngineAdapter {
  const binary = new ProbedBinary(ENGINE, config.OMNIGATE_LLAMA_SERVER_BIN, "OMNIGATE_LLAMA_SERVER_BIN", probeOptions(config));
  return {
    runtime: "llama_cpp",
    probe: () => binary.probe(),
    plan(model, files): ServerPlan {
      const bin = binary.path();
      const gguf = mainGguf(model, files);
      const mmproj = filesMatching(files, /mmproj.*\.gguf$/i)[0];
      const extra = extraArgs(config.OMNIGATE_LLAMA_ARGS, "OMNIGATE_LLAMA_ARGS", model);
      // llama-server's own default context is the model's training context (often 128k: tens of GiB
      // of KV cache). The gateway's memory estimate assumes DEFAULT_LLAMA_CTX_SIZE unless the node's
      // or the model's arguments set one, so the agent passes that default itself.
      const context = extra.some((a) => a === "-c" || a === "--ctx-size" || a.startsWith("--ctx-size=")) ? [] : ["-c", String(DEFAULT_LLAMA_CTX_SIZE)];
      return {
        kind: "server",
        // Ours come last so configured args can never move the engine off 127.0.0.1 or rename it.
        argv: (port) => [
          bin,
          ...context,
          ...extra,
          "-m",
          gguf,
          ...(mmproj ? ["--mmproj", requireFile(model, files, [mmproj], "projector")] : []),
          "--alias",
          model.name,
          "--host",
          "127.0.0.1",
          "--port",
          String(port),
        ],
        // 503 "Loading model" while the port is already open; 200 once it serves.
        isReady: (target, signal) => answersOk(target, "/health", signal),
        async capacity(target, signal) {
          const res = await engineRequest(target, { method: "GET", path: "/props", signal, timeoutMs: 5_000 });
          if (res.statusCode !== 200) {
            await res.body.dump();
            return 1;
          }
          const props = (await res.body.json()) as { total_slots?: unknown };
          return typeof props.total_slots === "number" && props.total_slots >= 1 ? Math.floor(props.total_slots) : 1;
        },
        concurrency: null,
        passThrough,
        async forward(call, target, signal) {
          const pass = passThrough(call);
          if (!pass) throw new EngineSetupError(`${ENGINE} does not serve ${call.capability}`);
          return forwardPassThrough(pass, target, signal);
        },
      };
    },
  };
}
