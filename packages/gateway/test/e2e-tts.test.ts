// Speech for real, end to end: the built gateway, a built agent whose TTS is the built-in engine
// (nothing configured: sherpa-onnx-node comes with `pnpm install`), the local test hub serving the
// tiny piper test voice, and the official `openai` client. The voice is pulled into the agent's
// cache, its engine started, and /v1/audio/speech answers real synthesized audio.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { measurePcm16, measureWav } from "@omnigate/testkit/audio";
import { startAgent, startGateway, type AgentProcess } from "@omnigate/testkit/cluster";
import { GatewayApi } from "@omnigate/testkit/gateway-api";
import { startTestHub, type TestHub } from "@omnigate/testkit/hub";
import { TestScope } from "@omnigate/testkit/scope";
import { standInEngineEnv, onPath } from "@omnigate/testkit/stand-ins";
import { TINY_VOICE, tinyPiperFiles, toneHz } from "@omnigate/testkit/tiny-piper-voice";
import { waitFor } from "@omnigate/testkit/wait";

const ffmpeg = await onPath("ffmpeg");
const REPO = "omnigate-tests/tiny-piper-voice";
const VOICES = { alloy: 0, echo: 3 };
const TEXT = "hello from the gateway";

const scope = new TestScope();
let hub: TestHub;
let api: GatewayApi;
let agent: AgentProcess;
let client: OpenAI;

beforeAll(async () => {
  hub = await startTestHub({ repos: { [REPO]: { revisions: { main: { files: tinyPiperFiles() } } } } });
  const gateway = await startGateway(scope, { heartbeatIntervalMs: 200, nodeTimeoutMs: 2_000, env: { LOG_LEVEL: "warn", HF_ENDPOINT: hub.url } });
  // No engine binaries, and no OMNIGATE_TTS_BIN: text-to-speech is the built-in engine.
  const engines: Record<string, string> = standInEngineEnv([]);
  delete engines.OMNIGATE_TTS_BIN;
  agent = await startAgent(scope, {
    gateway,
    env: {
      ...engines,
      HF_ENDPOINT: hub.url,
      LOG_LEVEL: "warn",
      OMNIGATE_FFMPEG_BIN: ffmpeg ?? "/nonexistent/ffmpeg",
      OMNIGATE_ENGINE_RESTART_BACKOFF_MS: "200",
    },
  });
  api = new GatewayApi(gateway);
  await waitFor(async () => (await api.node(agent.runtimeId))?.supported_runtimes, { what: "the agent registered" }).then((runtimes) =>
    expect(runtimes).toEqual(["onnx_runtime"]),
  );
  // Registered as a user would: the whole repo, its runtime, names for its speakers.
  const res = await api.registerModel({ name: "voice", repo: REPO, runtime: "onnx_runtime", options: { voices: VOICES } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  await waitFor(async () => (await api.model("voice"))?.ready, { what: "the voice ready", timeoutMs: 60_000 });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: (await api.createKey("tts")).key, maxRetries: 0, timeout: 30_000 });
}, 120_000);

afterAll(async () => {
  await scope.cleanup();
  await hub?.close();
});

const speak = async (body: Partial<OpenAI.Audio.SpeechCreateParams>) =>
  Buffer.from(await (await client.audio.speech.create({ model: "voice", voice: "alloy", input: TEXT, response_format: "wav", ...body })).arrayBuffer());

describe("/v1/audio/speech through gateway, agent and the built-in engine", () => {
  it("answers a WAV of non-silent samples at the voice's sample rate", async () => {
    const tone = measureWav(await speak({}));
    expect(tone).toMatchObject({ sampleRate: TINY_VOICE.sampleRate, channels: 1, bitsPerSample: 16 });
    expect(tone.samples).toBe((TEXT.length + 1) * TINY_VOICE.hop);
    expect(tone.peak).toBeGreaterThan(0.4);
  });

  it("answers raw 16-bit PCM for pcm", async () => {
    const tone = measurePcm16(await speak({ response_format: "pcm" }), TINY_VOICE.sampleRate);
    expect(tone.samples).toBe((TEXT.length + 1) * TINY_VOICE.hop);
    expect(tone.hz).toBeCloseTo(toneHz(VOICES.alloy), -1);
  });

  it("speaks each voice with its speaker, and speed changes the length", async () => {
    expect(measureWav(await speak({ voice: "echo" })).hz).toBeCloseTo(toneHz(VOICES.echo), -1);
    const normal = measureWav(await speak({}));
    expect(measureWav(await speak({ speed: 2 })).samples).toBe(normal.samples / 2);
    expect(measureWav(await speak({ speed: 0.5 })).samples).toBe(normal.samples * 2);
  });

  it.skipIf(!ffmpeg)("encodes mp3, opus, aac and flac through the agent's ffmpeg", async () => {
    const magic = { mp3: "ID3", opus: "OggS", aac: "\xff", flac: "fLaC" } as const;
    for (const [format, head] of Object.entries(magic)) {
      const bytes = await speak({ response_format: format as keyof typeof magic });
      expect(bytes.toString("latin1", 0, head.length), format).toBe(head);
    }
  });

  it("refuses an input over 4096 characters and an unknown voice with a 400 saying why", async () => {
    const long = await speak({ input: "a".repeat(4097) }).catch((e: unknown) => e);
    expect(long).toBeInstanceOf(OpenAI.BadRequestError);
    expect((long as InstanceType<typeof OpenAI.BadRequestError>).message).toMatch(/4096/);
    const unknown = await speak({ voice: "nova" }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.BadRequestError);
    expect((unknown as InstanceType<typeof OpenAI.BadRequestError>).message).toMatch(/no voice 'nova'; use one of: alloy, echo/);
  });

  it("restarts a crashed engine: the voice is not ready, then ready and speaking again", async () => {
    const engine = (await api.node(agent.runtimeId))!.engines.find((e) => e.model === "voice")!;
    process.kill(engine.pid!, "SIGKILL");
    await waitFor(async () => (await api.model("voice"))?.ready === false, { what: "the voice not ready", timeoutMs: 10_000 });
    const restarted = await waitFor(
      async () => {
        const view = await api.node(agent.runtimeId);
        const now = view?.engines.find((e) => e.model === "voice");
        return now?.up && now.pid !== engine.pid && (await api.model("voice"))?.ready ? now : undefined;
      },
      { what: "the engine restarted and the voice ready", timeoutMs: 30_000 },
    );
    expect(restarted.restarts).toBeGreaterThanOrEqual(1);
    expect(measureWav(await speak({})).samples).toBe((TEXT.length + 1) * TINY_VOICE.hop);
  });
});
