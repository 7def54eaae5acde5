// The built-in TTS engine for real: the engine program (src/tts-engine) over sherpa-onnx-node, one
// process per voice, supervised by the model server and reached through the agent's OpenAI routes
// over HTTP. Voices: the tiny piper test voice (characters frontend: nothing but npm packages), and
// the same voice phonemized by espeak-ng when Debian's espeak-ng-data is installed (CI installs it).
import { execFile } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelRecord } from "@omnigate/shared/models";
import { findOnPath } from "../src/engines/binary.js";
import { TTS_ENGINE_ENTRY } from "../src/engines/onnx-tts-server.js";
import { MAX_BODY_BYTES } from "../src/tts-engine/protocol.js";
import { EngineModelServer } from "../src/supervisor/engine-model-server.js";
import type { CachedModel } from "../src/cache/types.js";
import { measurePcm16, measureWav } from "@omnigate/testkit/audio";
import { TestScope } from "@omnigate/testkit/scope";
import { TINY_VOICE, tinyPiperFiles, toneHz } from "@omnigate/testkit/tiny-piper-voice";
import { waitFor } from "@omnigate/testkit/wait";
import { AGENT_AUTH, FAST, StateLog, cachedModel, isAlive, modelRecord, standinConfig, startApp, testLogger } from "./helpers/engine-harness.js";

const scope = new TestScope();
const ffmpeg = await findOnPath(["ffmpeg"]);
/** Debian's espeak-ng-data package (/usr/lib/<triplet>/espeak-ng-data), or another distribution's. */
async function findEspeakData(): Promise<string | undefined> {
  const triplets = (await readdir("/usr/lib").catch(() => [])).filter((d) => d.endsWith("-linux-gnu"));
  for (const dir of [...triplets.map((t) => `/usr/lib/${t}/espeak-ng-data`), "/usr/share/espeak-ng-data"]) {
    if (await readFile(join(dir, "phontab")).then(() => true, () => false)) return dir;
  }
  return undefined;
}
const espeakData = await findEspeakData();
const VOICES = { alloy: 0, echo: 3 };

afterAll(() => scope.cleanup());

/** A model server whose TTS is the built-in engine (no OMNIGATE_TTS_BIN), serving `voices`. */
async function ttsAgent(voices: Record<string, { files: CachedModel; options?: ModelRecord["options"] }>, config: Record<string, string> = {}) {
  const dir = await scope.tempDir();
  const server = new EngineModelServer({
    config: standinConfig({ OMNIGATE_TTS_BIN: "", ...config }),
    stateDir: join(dir, "state"),
    logger: testLogger(),
    timing: FAST,
  });
  await server.init();
  const logs = new Map<string, StateLog>();
  for (const [name, voice] of Object.entries(voices)) {
    const log = new StateLog();
    logs.set(name, log);
    server.start(modelRecord(name, "onnx_runtime", [...voice.files.files], voice.options ?? {}), voice.files, log.onState);
  }
  const app = await startApp(server);
  const speak = (body: Record<string, unknown>) =>
    fetch(`${app.url}/v1/audio/speech`, {
      method: "POST",
      headers: { ...AGENT_AUTH, "content-type": "application/json" },
      body: JSON.stringify({ model: "tts", input: "hello from the node", response_format: "wav", ...body }),
    });
  return { server, logs, speak, close: async () => (await app.close(), await server.close()) };
}

const tinyVoice = async () => ({ files: await cachedModel(await scope.tempDir(), tinyPiperFiles()), options: { voices: VOICES } });

async function errorOf(res: Response): Promise<{ code: string; message: string; param: string | null }> {
  return ((await res.json()) as { error: { code: string; message: string; param: string | null } }).error;
}

describe("the built-in TTS engine (sherpa-onnx-node) through the agent", () => {
  let agent: Awaited<ReturnType<typeof ttsAgent>>;
  beforeAll(async () => {
    agent = await ttsAgent({ tts: await tinyVoice() });
    await agent.logs.get("tts")!.waitFor("ready");
  });
  afterAll(() => agent?.close());

  it("probes sherpa-onnx-node at start and runs the voice as its own process on 127.0.0.1", async () => {
    expect(agent.server.supportedRuntimes).toContain("onnx_runtime");
    const probe = agent.server.probeResults().get("onnx_runtime");
    expect(probe).toMatchObject({ ok: true, binary: TTS_ENGINE_ENTRY, detail: expect.stringMatching(/^sherpa-onnx \d+\.\d+\.\d+ \(onnxruntime /) });
    const engine = agent.server.engines()[0]!;
    expect(engine).toMatchObject({ model: "tts", runtime: "onnx_runtime", up: true, restarts: 0 });
    const cmdline = (await readFile(`/proc/${engine.pid}/cmdline`, "utf8")).split("\0");
    expect(cmdline).toContain(TTS_ENGINE_ENTRY);
    expect(cmdline).toContain("--host=127.0.0.1");
    expect(agent.server.load("tts")).toEqual({ inFlight: 0, capacity: 1 });
  });

  it("answers a WAV of non-silent samples at the voice's sample rate", async () => {
    const res = await agent.speak({ voice: "alloy" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("audio/wav");
    const tone = measureWav(Buffer.from(await res.arrayBuffer()));
    expect(tone).toMatchObject({ sampleRate: TINY_VOICE.sampleRate, channels: 1, bitsPerSample: 16 });
    expect(tone.samples).toBe(("hello from the node".length + 1) * TINY_VOICE.hop);
    expect(tone.peak).toBeGreaterThan(0.4);
    expect(tone.hz).toBeCloseTo(toneHz(VOICES.alloy), -1);
  });

  it("answers raw PCM with its rate for pcm", async () => {
    const res = await agent.speak({ response_format: "pcm" });
    expect(res.headers.get("content-type")).toBe("audio/pcm");
    expect(res.headers.get("x-sample-rate")).toBe(String(TINY_VOICE.sampleRate));
    const tone = measurePcm16(Buffer.from(await res.arrayBuffer()), TINY_VOICE.sampleRate);
    expect(tone.samples).toBe(("hello from the node".length + 1) * TINY_VOICE.hop);
    expect(tone.peak).toBeGreaterThan(0.4);
  });

  it("maps voice names to the voice's speakers and speed to the length", async () => {
    const measure = async (body: Record<string, unknown>) => measureWav(Buffer.from(await (await agent.speak(body)).arrayBuffer()));
    const echo = await measure({ voice: "echo" });
    expect(echo.hz).toBeCloseTo(toneHz(VOICES.echo), -1);
    // A number is a speaker id too.
    expect((await measure({ voice: "2" })).hz).toBeCloseTo(toneHz(2), -1);
    const normal = await measure({ voice: "alloy" });
    expect((await measure({ voice: "alloy", speed: 2 })).samples).toBe(normal.samples / 2);
    expect((await measure({ voice: "alloy", speed: 0.5 })).samples).toBe(normal.samples * 2);
  });

  it("answers 400 for a voice it does not have, and for a speaker id beyond the voice's", async () => {
    const unknown = await agent.speak({ voice: "nova" });
    expect(unknown.status).toBe(400);
    expect((await errorOf(unknown)).message).toBe("Model 'tts' has no voice 'nova'; use one of: alloy, echo.");
    const beyond = await agent.speak({ voice: "9" });
    expect(beyond.status).toBe(400);
    expect((await errorOf(beyond)).message).toMatch(/speaker id 9 is out of range: this voice has 4 speaker\(s\), ids 0-3/);
  });

  it("answers 400 for text the voice has no token for, and for input over 4096 characters", async () => {
    const unsayable = await agent.speak({ input: "§§§" });
    expect(unsayable.status).toBe(400);
    expect((await errorOf(unsayable)).message).toMatch(/produced no audio for this text/);
    const long = await agent.speak({ input: "a".repeat(4097) });
    expect(long.status).toBe(400);
    expect(await errorOf(long)).toMatchObject({ param: "input", message: expect.stringMatching(/4096/) });
  });

  it("answers 400 naming wav and pcm for mp3 when the node has no ffmpeg", async () => {
    const res = await agent.speak({ response_format: "mp3" });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: "unsupported_response_format", param: "response_format" });
  });

  it("speaks its documented protocol on its own port: health, and errors for bad requests", async () => {
    const { pid } = agent.server.engines()[0]!;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
    const engine = `http://127.0.0.1:${cmdline.find((a) => a.startsWith("--port="))!.slice("--port=".length)}`;
    const health = await fetch(`${engine}/health`);
    expect(await health.json()).toMatchObject({ status: "ok", sample_rate: TINY_VOICE.sampleRate, num_speakers: TINY_VOICE.speakers });
    const post = (body: string) => fetch(`${engine}/synthesize`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const expectError = async (res: Response, status: number, message: RegExp) => {
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
    };
    await expectError(await post("not json"), 400, /not JSON/);
    await expectError(await post(JSON.stringify({ text: "" })), 400, /text: text must not be empty/);
    await expectError(await post(JSON.stringify({ text: "x".repeat(MAX_BODY_BYTES) })), 413, /over 1048576 bytes/);
    await expectError(await fetch(`${engine}/synthesize`), 405, /takes POST/);
    await expectError(await fetch(`${engine}/nowhere`), 404, /use GET \/health or POST \/synthesize/);
    const wav = await post(JSON.stringify({ text: "hi", sid: 1, speed: 2 }));
    expect(measureWav(Buffer.from(await wav.arrayBuffer())).samples).toBe((("hi".length + 1) * TINY_VOICE.hop) / 2);
  });

  it("restarts the engine after it crashes and speaks again", async () => {
    const log = agent.logs.get("tts")!;
    const pid = agent.server.engines()[0]!.pid!;
    process.kill(pid, "SIGKILL");
    await log.waitFor("starting", 10_000, 2);
    await log.waitFor("ready", 20_000, 2);
    expect(log.names()).toEqual(["starting", "ready", "starting", "ready"]);
    expect(await isAlive(pid)).toBe(false);
    expect(agent.server.engines()[0]).toMatchObject({ up: true, restarts: 1 });
    expect((await agent.speak({})).status).toBe(200);
  });

  it("stops the engine process with the model", async () => {
    const pid = agent.server.engines()[0]!.pid!;
    await agent.server.stop("tts");
    await waitFor(async () => !(await isAlive(pid)), { what: "the engine to exit", timeoutMs: 5_000 });
    expect((await agent.speak({})).status).toBe(404);
  });
});

describe("the engine program's command line", () => {
  it("refuses bad arguments with exit code 2 and its usage, before loading anything", async () => {
    const run = await promisify(execFile)(process.execPath, [TTS_ENGINE_ENTRY, "--vits-model=x", "--bogus=1"]).catch((e: unknown) => e);
    expect(run).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown option --bogus\nUsage: /) });
    const noPort = await promisify(execFile)(process.execPath, [TTS_ENGINE_ENTRY, "--vits-model=x"]).catch((e: unknown) => e);
    expect(noPort).toMatchObject({ code: 2, stderr: expect.stringMatching(/--port is required/) });
  });
});

describe("a voice the engine cannot load", () => {
  it("turns failed with sherpa-onnx's reason after the crash loop, instead of starting forever", async () => {
    const files = await cachedModel(await scope.tempDir(), { "model.onnx": "not an onnx model", "tokens.txt": tinyPiperFiles()["tokens.txt"]! });
    const agent = await ttsAgent({ broken: { files } });
    try {
      const failed = await agent.logs.get("broken")!.waitFor("failed", 30_000);
      expect(failed.state === "failed" && failed.error).toMatch(/crash loop.*could not load the voice.*Protobuf parsing failed/s);
    } finally {
      await agent.close();
    }
  }, 40_000);
});

describe.skipIf(!ffmpeg)("the built-in TTS engine's speech through a real ffmpeg", () => {
  it("encodes mp3, opus, aac and flac; flac decodes back to the engine's exact samples", async () => {
    const agent = await ttsAgent({ tts: await tinyVoice() }, { OMNIGATE_FFMPEG_BIN: ffmpeg! });
    try {
      await agent.logs.get("tts")!.waitFor("ready");
      const wav = measureWav(Buffer.from(await (await agent.speak({})).arrayBuffer()));
      const dir = await scope.tempDir();
      for (const [format, magic] of Object.entries({ mp3: "ID3", opus: "OggS", aac: "\xff", flac: "fLaC" })) {
        const res = await agent.speak({ response_format: format });
        expect(res.status, format).toBe(200);
        expect(res.headers.get("content-type"), format).toMatch(/^audio\//);
        const bytes = Buffer.from(await res.arrayBuffer());
        expect(bytes.toString("latin1", 0, magic.length), format).toBe(magic);
        // Decoded again, each is the same tone for (about) as long; flac, being lossless, exactly.
        const file = join(dir, `speech.${format}`);
        await writeFile(file, bytes);
        await promisify(execFile)(ffmpeg!, ["-v", "error", "-y", "-i", file, "-ac", "1", "-ar", String(wav.sampleRate), "-c:a", "pcm_s16le", `${file}.wav`]);
        const decoded = measureWav(await readFile(`${file}.wav`));
        if (format === "flac") expect(decoded.samples).toBe(wav.samples);
        expect(Math.abs(decoded.seconds - wav.seconds), format).toBeLessThan(0.1);
        expect(decoded.hz, format).toBeCloseTo(wav.hz, -1);
      }
    } finally {
      await agent.close();
    }
  });
});

describe.skipIf(!espeakData)("a piper voice that phonemizes with espeak-ng (its repo's espeak-ng-data/)", () => {
  it("loads espeak-ng-data from the voice's files and speaks", async () => {
    const dir = await scope.tempDir();
    const voice: Record<string, Buffer> = tinyPiperFiles("espeak");
    // Debian's data, laid out as a voice repo carries it; only what English needs.
    for (const name of ["phontab", "phonindex", "phondata", "intonations", "en_dict", "lang/gmw/en-US", "lang/gmw/en"]) {
      voice[`espeak-ng-data/${name}`] = await readFile(join(espeakData!, name));
    }
    const files = await cachedModel(dir, voice);
    const agent = await ttsAgent({ tts: { files, options: { voices: VOICES } } });
    try {
      await agent.logs.get("tts")!.waitFor("ready");
      const res = await agent.speak({ voice: "echo", input: "Hello world. This is a test." });
      expect(res.status).toBe(200);
      const tone = measureWav(Buffer.from(await res.arrayBuffer()));
      expect(tone.sampleRate).toBe(TINY_VOICE.sampleRate);
      expect(tone.hz).toBeCloseTo(toneHz(VOICES.echo), -1);
      // Phonemes, not characters: the length is espeak-ng's phonemes for the text, padded as piper does.
      expect(tone.samples % TINY_VOICE.hop).toBe(0);
      expect(tone.samples).not.toBe(("Hello world. This is a test.".length + 1) * TINY_VOICE.hop);
    } finally {
      await agent.close();
    }
  });
});
