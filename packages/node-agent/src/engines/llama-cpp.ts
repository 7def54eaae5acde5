import { DEFAULT_LLAMA_CTX_SIZE } from "@omnigate/shared/memory-estimate";
import type { ModelRecord } from "@omnigate/shared/models";
import type { CachedModel } from "../cache/types.js";
import { ProbedBinary } from "./binary.js";
import { probeOptions, type EngineConfig } from "./engine-env.js";
import { EngineSetupError } from "./engine-errors.js";
import { answersOk, connectionFailure, engineRequest, engineStatusError, readBytes } from "./engine-http.js";
import { extraArgs, filesMatching, requireFile } from "./model-files.js";
import type { EngineAdapter, EngineCall, EngineReply, ServerPlan, ServerTarget } from "./types.js";

const ENGINE = "llama-server";
const PATHS = { chat: "/v1/chat/completions", completion: "/v1/completions", embedding: "/v1/embeddings" } as const;

/** The file llama-server is started with: the first shard of a split model, never a projector. */
function mainGguf(model: ModelRecord, files: CachedModel): string {
  const ggufs = filesMatching(files, /\.gguf$/i).filter((f) => !/mmproj/i.test(f));
  const shards = ggufs.filter((f) => /-\d{5}-of-\d{5}\.gguf$/i.test(f));
  const first = shards.length > 0 ? shards.filter((f) => /-00001-of-\d{5}\.gguf$/i.test(f)) : ggufs;
  return requireFile(model, files, first, "first .gguf file");
}

async function forward(call: EngineCall, target: ServerTarget, signal: AbortSignal): Promise<EngineReply> {
  if (call.capability !== "chat" && call.capability !== "completion" && call.capability !== "embedding") {
    throw new EngineSetupError(`${ENGINE} does not serve ${call.capability}`);
  }
  let res;
  try {
    res = await engineRequest(target, {
      method: "POST",
      path: PATHS[call.capability],
      body: call.raw ?? JSON.stringify(call.body),
      headers: { "content-type": "application/json", accept: call.stream ? "text/event-stream" : "application/json" },
      signal,
    });
  } catch (err) {
    throw connectionFailure(err, ENGINE);
  }
  const contentType = String(res.headers["content-type"] ?? "application/json");
  if (res.statusCode === 200 && call.stream && contentType.includes("text/event-stream")) {
    return { kind: "sse", status: 200, body: res.body };
  }
  let bytes: Buffer;
  try {
    bytes = await readBytes(res.body);
  } catch (err) {
    throw connectionFailure(err, ENGINE);
  }
  if (res.statusCode >= 200 && res.statusCode < 300) return { kind: "bytes", status: res.statusCode, contentType, body: bytes };
  const hint =
    call.capability === "embedding" && res.statusCode === 501
      ? `Start the model with embeddings: register it with options.engine_args ["--embeddings"] (or add --embeddings to OMNIGATE_LLAMA_ARGS).`
      : "";
  throw engineStatusError(ENGINE, res.statusCode, bytes.toString("utf8"), hint);
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
        forward,
      };
    },
  };
}
