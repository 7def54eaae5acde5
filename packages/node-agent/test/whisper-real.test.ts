// The real whisper.cpp engine end to end: a real `whisper-server` (OMNIGATE_WHISPER_SERVER_BIN; CI
// builds one with tools/build-whisper-server.sh) supervised by the model server and reached through
// the agent's OpenAI routes over HTTP. The model is OMNIGATE_TEST_WHISPER_MODEL (a ggml-*.bin) when
// set, else the tiny random-weight model the test writes. Start, health wait, every response format,
// translation, WAV and MP3 input, audio it cannot decode (with and without ffmpeg), client abort,
// crash and restart.
import { execFile } from "node:child_process";
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { basename, delimiter, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mp3Tone } from "@omnigate/testkit/mp3";
import { TestScope } from "@omnigate/testkit/scope";
import { waitFor } from "@omnigate/testkit/wait";
import { TINY_WHISPER_TRANSCRIPT, writeTinyWhisperModel } from "@omnigate/testkit/whisper-model-writer";
import type { CachedModel } from "../src/cache/types.js";
import { EngineModelServer } from "../src/supervisor/engine-model-server.js";
import { AGENT_AUTH, FAST, StateLog, cachedModel, captureLogger, isAlive, modelRecord, standinConfig, startApp, toneWav } from "./helpers/engine-harness.js";

const bin = process.env.OMNIGATE_WHISPER_SERVER_BIN;
const realModel = process.env.OMNIGATE_TEST_WHISPER_MODEL;
/** ffmpeg as the agent would find it: the variable, else PATH. */
const ffmpeg =
  process.env.OMNIGATE_FFMPEG_BIN ?? (process.env.PATH ?? "").split(delimiter).map((d) => join(d, "ffmpeg")).find((p) => existsSync(p));
/** n_vocab, the first hyper-parameter after the magic of a whisper.cpp model file. */
function vocabularySize(path: string): number {
  const fd = openSync(path, "r");
  try {
    const header = Buffer.alloc(8);
    readSync(fd, header, 0, 8, 0);
    return header.readInt32LE(4);
  } finally {
    closeSync(fd);
  }
}
/** English-only models (ggml-*.en.bin, n_vocab 51864) cannot translate: whisper-server transcribes instead. */
const multilingual = !realModel || vocabularySize(realModel) >= 51865;
const NAME = "whisper-test";
const CLIP_SECONDS = 1.5;

/**
 * What a transcript must be: the tiny model's planted sentence. A real model hears the test tone as
 * it likes (words, "[Music]", or nothing, possibly after sampling): a string is all that is certain.
 */
function expectTranscript(text: string): void {
  if (realModel) expect(typeof text).toBe("string");
  else expect(text.trim()).toBe(TINY_WHISPER_TRANSCRIPT.trim());
}

/** A model server running the real binary on the test model; `ffmpegBin` decides whether the node has ffmpeg. */
async function startWhisper(scope: TestScope, ffmpegBin: string) {
  const dir = await scope.tempDir("omnigate-whisper-");
  let files: CachedModel;
  if (realModel) files = { commit: "local", snapshotDir: dirname(realModel), files: [basename(realModel)] };
  else {
    files = await cachedModel(dir, { "ggml-tiny-random.bin": Buffer.alloc(0) });
    await writeTinyWhisperModel(join(files.snapshotDir, "ggml-tiny-random.bin"));
  }
  const captured = captureLogger();
  const server = new EngineModelServer({
    config: standinConfig({ OMNIGATE_WHISPER_SERVER_BIN: bin!, OMNIGATE_FFMPEG_BIN: ffmpegBin }),
    stateDir: join(dir, "state"),
    logger: captured.logger,
    timing: { ...FAST, readyTimeoutMs: 120_000 },
  });
  await server.init();
  const log = new StateLog();
  server.start(modelRecord(NAME, "whisper", [...files.files]), files, log.onState);
  const app = await startApp(server);
  const transcribe = (fields: Record<string, string>, audio: Buffer, filename: string, init: RequestInit = {}, path = "/v1/audio/transcriptions") => {
    const form = new FormData();
    for (const [k, v] of Object.entries({ model: NAME, ...fields })) form.append(k, v);
    form.append("file", new Blob([audio]), filename);
    return fetch(`${app.url}${path}`, { method: "POST", headers: AGENT_AUTH, body: form, ...init });
  };
  scope.defer(() => server.close());
  scope.defer(() => app.close());
  return { server, log, captured, transcribe };
}

describe.skipIf(!bin)("real whisper-server through the agent", () => {
  const scope = new TestScope();
  let w: Awaited<ReturnType<typeof startWhisper>>;
  const wav = toneWav(CLIP_SECONDS);

  beforeAll(async () => {
    // No ffmpeg on this node: what whisper-server cannot decode itself must be refused clearly.
    w = await startWhisper(scope, "/nonexistent/ffmpeg");
  }, 60_000);
  afterAll(() => scope.cleanup());

  it("starts the engine and waits for /health before reporting ready", async () => {
    expect(w.server.supportedRuntimes).toContain("whisper");
    await w.log.waitFor("ready", 120_000);
    expect(w.log.names()).toEqual(["starting", "ready"]);
    expect(w.server.load(NAME)).toEqual({ inFlight: 0, capacity: 1 });
  }, 130_000);

  it("transcribes a WAV as json (the same text every time, from a model that decodes greedily)", async () => {
    const first = await w.transcribe({}, wav, "clip.wav");
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toMatch(/^application\/json/);
    const { text } = (await first.json()) as { text: string };
    expectTranscript(text);
    // OpenAI's shape: segments run together, no line breaks.
    expect(text).not.toMatch(/\n/);
    const again = (await (await w.transcribe({}, wav, "clip.wav")).json()) as { text: string };
    expectTranscript(again.text);
    // A real model unsure of a tone falls back to sampling, which differs between requests.
    if (!realModel) expect(again.text).toBe(text);
  });

  it("answers text, srt and vtt as whisper-server writes them, text as text/plain", async () => {
    const text = await w.transcribe({ response_format: "text" }, wav, "clip.wav");
    expect(text.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expectTranscript(await text.text());
    const srt = await (await w.transcribe({ response_format: "srt" }, wav, "clip.wav")).text();
    expect(srt).toMatch(/^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n.+\n/);
    const vtt = await (await w.transcribe({ response_format: "vtt" }, wav, "clip.wav")).text();
    expect(vtt).toMatch(/^WEBVTT\n\n\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}\n.+\n/);
  });

  it("answers verbose_json with the task, the detected language, the duration and segments (with a prompt)", async () => {
    const res = await w.transcribe({ response_format: "verbose_json", prompt: "A short test clip for omnigate." }, wav, "clip.wav");
    const body = (await res.json()) as { task: string; language: string; duration: number; text: string; segments: { start: number; end: number; text: string }[] };
    expect(body.task).toBe("transcribe");
    expect(body.duration).toBeCloseTo(CLIP_SECONDS, 2);
    expect(body.language).toMatch(/^[a-z ]+$/);
    if (!realModel) expect(body.language).toBe("english");
    expectTranscript(body.text);
    expect(body.segments.length).toBeGreaterThan(0);
    expect(body.segments[0]!.end).toBeGreaterThan(body.segments[0]!.start);
  });

  it("translates through whisper's translate flag, from a language the client names", async () => {
    const res = await w.transcribe({ response_format: "verbose_json", language: "German" }, wav, "clip.wav", {}, "/v1/audio/translations");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { task: string; language: string; text: string };
    expect(body).toMatchObject(multilingual ? { task: "translate", language: "german" } : { task: "transcribe", language: "english" });
    expectTranscript(body.text);
  });

  it("transcribes an MP3, which whisper-server decodes itself", async () => {
    const res = await w.transcribe({}, mp3Tone(CLIP_SECONDS), "clip.mp3");
    expect(res.status).toBe(200);
    expectTranscript(((await res.json()) as { text: string }).text);
  });

  it("refuses audio it cannot decode with a 400 that names the formats that work", async () => {
    // The first bytes of an M4A (MP4 container): whisper-server would need ffmpeg, which this node lacks.
    const m4a = Buffer.concat([Buffer.from([0, 0, 0, 0x20]), Buffer.from("ftypM4A \0\0\0\0M4A mp42isom"), Buffer.alloc(4000)]);
    const needsFfmpeg = await w.transcribe({}, m4a, "voice.m4a");
    expect(needsFfmpeg.status).toBe(400);
    const refused = (await needsFfmpeg.json()) as { error: { code: string; param: string; message: string } };
    expect(refused.error).toMatchObject({ code: "unsupported_audio_format", param: "file" });
    expect(refused.error.message).toMatch(/MP4\/M4A.*ffmpeg.*WAV, MP3, FLAC or Ogg Vorbis/);
    // A WAV header over garbage: the engine itself turns it down (1.9 says only "Invalid request").
    const broken = Buffer.concat([wav.subarray(0, 12), Buffer.from("garbage that is no fmt chunk")]);
    const undecodable = await w.transcribe({}, broken, "broken.wav");
    expect(undecodable.status).toBe(400);
    const error = ((await undecodable.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("invalid_request");
    expect(error.message).toMatch(/could not be decoded.*WAV, MP3, FLAC or Ogg Vorbis/);
    expect(w.server.engines()[0]).toMatchObject({ up: true, restarts: 0 });
  });

  it("refuses a language whisper does not know before the engine sees it (it would answer 500)", async () => {
    const res = await w.transcribe({ language: "klingon" }, wav, "clip.wav");
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { param: string; message: string } };
    expect(error.param).toBe("language");
    expect(error.message).toMatch(/'klingon' is not a language whisper knows/);
  });

  it("stops the inference when the client goes away, and serves the next request", async () => {
    const controller = new AbortController();
    // Ten minutes of audio: twenty 30-second windows, seconds of work even for the tiny model.
    const pending = w.transcribe({}, toneWav(600, 8000), "long.wav", { signal: controller.signal }).catch((err: unknown) => err);
    // (stderr: whisper-server's stdout is block-buffered into the pipe)
    await waitFor(() => w.captured.messages().some((m) => /processing 'long\.wav'/.test(m)), { timeoutMs: 30_000, what: "whisper-server to start the inference" });
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await waitFor(() => w.server.load(NAME)!.inFlight === 0, { timeoutMs: 10_000, what: "the lease to be released" });
    // whisper-server's abort callback sees the closed connection and gives up the audio.
    await waitFor(() => w.captured.messages().some((m) => /client disconnected, aborted processing/.test(m)), { timeoutMs: 30_000, what: "whisper-server to abort" });
    const next = await w.transcribe({}, wav, "clip.wav", { signal: AbortSignal.timeout(30_000) });
    expect(next.status).toBe(200);
  }, 90_000);

  it("restarts the engine after it crashes and serves again", async () => {
    const pid = w.server.engines()[0]!.pid!;
    process.kill(pid, "SIGKILL");
    await w.log.waitFor("starting", 10_000, 2);
    await w.log.waitFor("ready", 120_000, 2);
    expect(w.log.names()).toEqual(["starting", "ready", "starting", "ready"]);
    expect(await isAlive(pid)).toBe(false);
    expect(w.server.engines()[0]).toMatchObject({ up: true, restarts: 1 });
    const res = await w.transcribe({}, wav, "clip.wav");
    expect(res.status).toBe(200);
    expectTranscript(((await res.json()) as { text: string }).text);
  }, 130_000);
});

describe.skipIf(!bin || !ffmpeg)("real whisper-server on a node with ffmpeg", () => {
  const scope = new TestScope();
  let w: Awaited<ReturnType<typeof startWhisper>>;

  beforeAll(async () => {
    w = await startWhisper(scope, ffmpeg!);
    await w.log.waitFor("ready", 120_000);
  }, 130_000);
  afterAll(() => scope.cleanup());

  /** The test tone in another container, made by the same ffmpeg. */
  async function encoded(args: string[], ext: string): Promise<Buffer> {
    const dir = await scope.tempDir("omnigate-audio-");
    await writeFile(join(dir, "in.wav"), toneWav(CLIP_SECONDS));
    await new Promise<void>((resolve, reject) =>
      execFile(ffmpeg!, ["-v", "error", "-y", "-i", join(dir, "in.wav"), ...args, join(dir, `out.${ext}`)], (err) => (err ? reject(err) : resolve())),
    );
    return readFile(join(dir, `out.${ext}`));
  }

  it.each([
    ["M4A (AAC)", ["-c:a", "aac"], "m4a"],
    ["WebM (Opus)", ["-c:a", "libopus"], "webm"],
    ["Ogg Opus", ["-c:a", "libopus"], "ogg"],
  ])("converts %s, which whisper-server cannot decode, to WAV with ffmpeg first", async (_label, args, ext) => {
    const res = await w.transcribe({}, await encoded(args, ext), `clip.${ext}`);
    expect(res.status).toBe(200);
    expectTranscript(((await res.json()) as { text: string }).text);
  });

  it("refuses garbage with ffmpeg's own words, and no temp paths", async () => {
    const res = await w.transcribe({}, Buffer.from("RIFF....WAVEnot really a wave file at all"), "junk.wav");
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("invalid_request");
    expect(error.message).toMatch(/could not be decoded \(ffmpeg: .+\)/);
    expect(error.message).not.toMatch(/omnigate-oneshot-/);
  });
});
