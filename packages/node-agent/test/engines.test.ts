// The adapter suite: every runtime's adapter — probe, argv, readiness, each capability's forwarding
// — against its stand-in always, and unchanged against the real binary when its variable points at
// one (run it on a GPU box as is):
//   OMNIGATE_LLAMA_SERVER_BIN                     (model: a tiny GGUF written by the test)
//   OMNIGATE_WHISPER_SERVER_BIN                   (model: OMNIGATE_TEST_WHISPER_MODEL, a ggml-*.bin,
//                                                 else a tiny one written by the test)
//   OMNIGATE_SD_SERVER_BIN or OMNIGATE_SD_CLI_BIN + OMNIGATE_TEST_SD_MODEL  (a checkpoint file)
//   OMNIGATE_TTS_BIN + OMNIGATE_TEST_TTS_MODEL_DIR  (a sherpa-onnx VITS/Kokoro voice folder)
// The built-in TTS engine is real everywhere (sherpa-onnx-node is a dependency): it runs the voice
// folder OMNIGATE_TEST_TTS_MODEL_DIR names, else the tiny piper test voice.
import { readdir } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Capability, RuntimeType } from "@omnigate/shared/runtimes";
import type { CachedModel } from "../src/cache/types.js";
import { writeTinyLlamaGguf } from "@omnigate/testkit/gguf-writer";
import { writeTinyWhisperModel } from "@omnigate/testkit/whisper-model-writer";
import { EngineRequestError } from "../src/engines/engine-errors.js";
import type { EngineCall, EngineReply } from "../src/engines/types.js";
import { EngineModelServer } from "../src/supervisor/engine-model-server.js";
import { encodePng } from "@omnigate/testkit/png";
import { TestScope } from "@omnigate/testkit/scope";
import { tinyPiperFiles } from "@omnigate/testkit/tiny-piper-voice";
import { FAST, StateLog, cachedModel, modelRecord, standinConfig, testLogger, toneWav } from "./helpers/engine-harness.js";

const env = process.env;
const scope = new TestScope();
afterAll(() => scope.cleanup());

interface Target {
  readonly runtime: RuntimeType;
  /** Config for the model server: stand-in paths, or the real binary's variable. */
  readonly config: Record<string, string>;
  /** The model's files and options. */
  model(dir: string): Promise<{ files: CachedModel; options?: { engine_args?: string[]; voices?: Record<string, number> } }>;
  /** Real engines are slow on a CPU: generous time. */
  readonly timeoutMs: number;
}

/** A CachedModel over files that already exist (a real model somewhere on the box). */
async function existing(path: string, recursive = false): Promise<CachedModel> {
  if (!recursive) return { commit: "local", snapshotDir: dirname(path), files: [basename(path)] };
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => relative(path, join(e.parentPath, e.name)).split("\\").join("/"));
  return { commit: "local", snapshotDir: path, files: files.sort() };
}

const tinyLlama = async (dir: string) => {
  const files = await cachedModel(dir, { "tiny-llama.gguf": Buffer.alloc(0) });
  await writeTinyLlamaGguf(join(files.snapshotDir, "tiny-llama.gguf"));
  return { files, options: { engine_args: ["-c", "256", "--pooling", "mean"] } };
};

const tinyWhisper = async (dir: string) => {
  const files = await cachedModel(dir, { "ggml-tiny-random.bin": Buffer.alloc(0) });
  await writeTinyWhisperModel(join(files.snapshotDir, "ggml-tiny-random.bin"));
  return { files };
};

function adapterSuite(label: string, target: Target): void {
  describe(label, () => {
    let server: EngineModelServer;
    let log: StateLog;
    const name = `${target.runtime}-model`;

    beforeAll(async () => {
      const dir = await scope.tempDir();
      server = new EngineModelServer({
        config: standinConfig(target.config),
        stateDir: join(dir, "state"),
        logger: testLogger(),
        timing: { ...FAST, readyTimeoutMs: target.timeoutMs },
      });
      await server.init();
      const { files, options } = await target.model(join(dir, "model"));
      log = new StateLog();
      server.start(modelRecord(name, target.runtime, [...files.files], options ?? {}), files, log.onState);
      await log.waitFor("ready", target.timeoutMs);
    }, target.timeoutMs + 30_000);
    afterAll(() => server?.close());

    async function call(capability: Capability, request: EngineCall): Promise<EngineReply> {
      const opened = server.open(name, capability);
      if (!opened.ok) throw new Error(opened.message);
      try {
        const reply = await opened.lease.call(request, AbortSignal.timeout(target.timeoutMs));
        if (reply.kind === "sse") {
          const chunks: Buffer[] = [];
          for await (const c of reply.body) chunks.push(c as Buffer);
          return { kind: "bytes", status: reply.status, contentType: "text/event-stream", body: Buffer.concat(chunks) };
        }
        return reply;
      } finally {
        opened.lease.release();
      }
    }
    const json = (reply: EngineReply): Record<string, unknown> =>
      (reply.kind === "json" ? reply.body : JSON.parse(reply.kind === "bytes" ? reply.body.toString("utf8") : "{}")) as Record<string, unknown>;

    it("probes the binary and brings the model to ready", () => {
      expect(server.supportedRuntimes).toContain(target.runtime);
      expect(log.names()).toEqual(["starting", "ready"]);
      expect(server.load(name)!.capacity).toBeGreaterThanOrEqual(1);
      expect(server.engines()[0]).toMatchObject({ model: name, up: true });
    });

    if (target.runtime === "llama_cpp") {
      const body = { model: name, messages: [{ role: "user", content: "Say hi" }], max_tokens: 4 };
      it("chat, completion and a streamed chat", async () => {
        const chat = json(await call("chat", { capability: "chat", body, stream: false })) as { choices: { message: { content: string } }[] };
        expect(typeof chat.choices[0]!.message.content).toBe("string");
        const completion = json(await call("completion", { capability: "completion", body: { model: name, prompt: "Hello", max_tokens: 4 }, stream: false }));
        expect(completion).toMatchObject({ object: "text_completion" });
        const stream = await call("chat", { capability: "chat", body: { ...body, stream: true }, stream: true });
        const text = stream.kind === "bytes" ? stream.body.toString("utf8") : "";
        expect(text).toMatch(/^data: \{/);
        expect(text.trim().endsWith("data: [DONE]")).toBe(true);
      });
      it("maps an engine 400 or 501 to an OpenAI error", async () => {
        // Embeddings are off without --embeddings: llama-server answers 501.
        const error = await call("embedding", { capability: "embedding", body: { model: name, input: "x" }, stream: false }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(EngineRequestError);
        expect((error as EngineRequestError).status).toBe(400);
      });
    }

    if (target.runtime === "whisper") {
      it("transcribes (json and text) and translates", async () => {
        const fields = { model: name, response_format: "json" as const };
        const file = { fieldname: "file", originalname: "tone.wav", mimetype: "audio/wav", size: 0, buffer: toneWav(2) };
        const transcript = json(await call("transcription", { capability: "transcription", fields, file }));
        expect(typeof transcript.text).toBe("string");
        const text = await call("transcription", { capability: "transcription", fields: { ...fields, response_format: "text" }, file });
        expect(text.kind === "bytes" && text.contentType).toBe("text/plain; charset=utf-8");
        const translated = json(await call("translation", { capability: "translation", fields, file }));
        expect(typeof translated.text).toBe("string");
      });
      it("rejects undecodable audio with a 400", async () => {
        const file = { fieldname: "file", originalname: "x.wav", mimetype: "audio/wav", size: 9, buffer: Buffer.from("not audio") };
        const error = await call("transcription", { capability: "transcription", fields: { model: name, response_format: "json" }, file }).catch((e: unknown) => e);
        expect((error as EngineRequestError).status).toBe(400);
      });
    }

    if (target.runtime === "onnx_runtime") {
      it("speaks wav and pcm", async () => {
        const body = { model: name, input: "Hello world.", speed: 1 };
        const wav = await call("speech", { capability: "speech", body: { ...body, response_format: "wav" } });
        expect(wav.kind === "bytes" && wav.body.toString("ascii", 0, 4)).toBe("RIFF");
        const pcm = await call("speech", { capability: "speech", body: { ...body, response_format: "pcm" } });
        expect(pcm.kind === "bytes" && pcm.body.length).toBeGreaterThan(0);
        expect(pcm.kind === "bytes" && Number(pcm.headers?.["x-sample-rate"])).toBeGreaterThan(0);
      });
    }

    if (target.runtime === "stable_diffusion") {
      it("generates an image and a variation", async () => {
        const gen = json(await call("image_generation", { capability: "image_generation", body: { model: name, prompt: "a red circle", n: 1, size: "64x64" } }));
        expect(Number.isInteger(gen.created)).toBe(true);
        const [image] = gen.data as { b64_json: string }[];
        expect(Buffer.from(image!.b64_json, "base64").toString("ascii", 1, 4)).toBe("PNG");
        const file = { fieldname: "image", originalname: "in.png", mimetype: "image/png", size: 0, buffer: encodePng(64, 64, 7) };
        const variation = json(await call("image_variation", { capability: "image_variation", fields: { model: name, n: 1, size: "64x64" }, image: file }));
        expect((variation.data as unknown[]).length).toBe(1);
      });
    }
  });
}

const STANDIN = 30_000;
const REAL = 300_000;

adapterSuite("llama.cpp adapter × llama-server stand-in", { runtime: "llama_cpp", config: {}, model: tinyLlama, timeoutMs: STANDIN });
adapterSuite("whisper adapter × whisper-server stand-in", {
  runtime: "whisper",
  config: {},
  model: async (dir) => ({ files: await cachedModel(dir, { "ggml-base.en.bin": "ggml" }) }),
  timeoutMs: STANDIN,
});
adapterSuite("stable-diffusion adapter × sd-server stand-in", {
  runtime: "stable_diffusion",
  config: {},
  model: async (dir) => ({ files: await cachedModel(dir, { "sd_turbo.safetensors": "st" }) }),
  timeoutMs: STANDIN,
});
adapterSuite("stable-diffusion adapter × sd-cli stand-in", {
  runtime: "stable_diffusion",
  config: { OMNIGATE_SD_SERVER_BIN: "/nonexistent/sd-server" },
  model: async (dir) => ({ files: await cachedModel(dir, { "sd_turbo.safetensors": "st" }) }),
  timeoutMs: STANDIN,
});
adapterSuite(`onnx TTS adapter × built-in engine (sherpa-onnx-node), ${env.OMNIGATE_TEST_TTS_MODEL_DIR ?? "tiny piper voice"}`, {
  runtime: "onnx_runtime",
  config: { OMNIGATE_TTS_BIN: "" },
  model: async (dir) => ({
    files: env.OMNIGATE_TEST_TTS_MODEL_DIR ? await existing(env.OMNIGATE_TEST_TTS_MODEL_DIR, true) : await cachedModel(dir, tinyPiperFiles()),
  }),
  timeoutMs: env.OMNIGATE_TEST_TTS_MODEL_DIR ? REAL : STANDIN,
});
adapterSuite("onnx TTS adapter × sherpa-onnx-offline-tts stand-in", {
  runtime: "onnx_runtime",
  config: {},
  model: async (dir) => ({ files: await cachedModel(dir, { "kokoro/model.onnx": "o", "kokoro/voices.bin": "v", "kokoro/tokens.txt": "t" }) }),
  timeoutMs: STANDIN,
});

// The same suite, unchanged, against real binaries where the variables point at them.
const real = (bin: string | undefined, ...needs: (string | undefined)[]) => !bin || needs.some((n) => !n);

describe.skipIf(real(env.OMNIGATE_LLAMA_SERVER_BIN))("real llama-server", () => {
  adapterSuite("llama.cpp adapter × real llama-server", {
    runtime: "llama_cpp",
    config: { OMNIGATE_LLAMA_SERVER_BIN: env.OMNIGATE_LLAMA_SERVER_BIN ?? "" },
    model: tinyLlama,
    timeoutMs: REAL,
  });
});
describe.skipIf(real(env.OMNIGATE_WHISPER_SERVER_BIN))("real whisper-server", () => {
  adapterSuite("whisper adapter × real whisper-server", {
    runtime: "whisper",
    config: { OMNIGATE_WHISPER_SERVER_BIN: env.OMNIGATE_WHISPER_SERVER_BIN ?? "" },
    model: env.OMNIGATE_TEST_WHISPER_MODEL ? async () => ({ files: await existing(env.OMNIGATE_TEST_WHISPER_MODEL!) }) : tinyWhisper,
    timeoutMs: REAL,
  });
});
describe.skipIf(real(env.OMNIGATE_SD_SERVER_BIN ?? env.OMNIGATE_SD_CLI_BIN, env.OMNIGATE_TEST_SD_MODEL))("real stable-diffusion.cpp", () => {
  adapterSuite("stable-diffusion adapter × real sd-server / sd-cli", {
    runtime: "stable_diffusion",
    config: {
      OMNIGATE_SD_SERVER_BIN: env.OMNIGATE_SD_SERVER_BIN ?? "/nonexistent/sd-server",
      OMNIGATE_SD_CLI_BIN: env.OMNIGATE_SD_CLI_BIN ?? "/nonexistent/sd-cli",
    },
    model: async () => ({ files: await existing(env.OMNIGATE_TEST_SD_MODEL!) }),
    timeoutMs: REAL,
  });
});
describe.skipIf(real(env.OMNIGATE_TTS_BIN, env.OMNIGATE_TEST_TTS_MODEL_DIR))("real sherpa-onnx-offline-tts", () => {
  adapterSuite("onnx TTS adapter × real sherpa-onnx-offline-tts", {
    runtime: "onnx_runtime",
    config: { OMNIGATE_TTS_BIN: env.OMNIGATE_TTS_BIN ?? "" },
    model: async () => ({ files: await existing(env.OMNIGATE_TEST_TTS_MODEL_DIR!, true) }),
    timeoutMs: REAL,
  });
});
