// The agent's OpenAI data plane end to end over real HTTP, media side: whisper-server, the
// one-shot TTS, sd-server and the sd-cli fallback — each a stand-in process speaking its protocol.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findOnPath } from "../src/engines/binary.js";
import { EngineModelServer } from "../src/supervisor/engine-model-server.js";
import { encodePng } from "@omnigate/testkit/png";
import { TestScope } from "@omnigate/testkit/scope";
import { waitFor } from "@omnigate/testkit/wait";
import { AGENT_AUTH, FAST, StateLog, cachedModel, modelRecord, standinConfig, startApp, testLogger, toneWav } from "./helpers/engine-harness.js";

const scope = new TestScope();
const ffmpeg = await findOnPath(["ffmpeg"]);
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
  await scope.cleanup();
});

/** Width and height from a PNG's IHDR. */
function pngSize(b64: string): { width: number; height: number } {
  const buf = Buffer.from(b64, "base64");
  expect(buf.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

async function mediaAgent(configOverrides: Record<string, string>, limits?: { maxUploadBytes: number; maxBodyBytes: number }) {
  const dir = await scope.tempDir();
  const server = new EngineModelServer({ config: standinConfig(configOverrides), stateDir: join(dir, "state"), logger: testLogger(), timing: FAST });
  await server.init();
  const whisperFiles = await cachedModel(join(dir, "w"), { "ggml-tiny.bin": "ggml" });
  const ttsFiles = await cachedModel(join(dir, "t"), {
    "vits-piper/model.onnx": "onnx",
    "vits-piper/tokens.txt": "a 1\n",
    "vits-piper/espeak-ng-data/phontab": "x",
  });
  const sdFiles = await cachedModel(join(dir, "s"), { "sd-v1-5.safetensors": "st", "vae/sdxl_vae.safetensors": "vae" });
  const logs = [
    ["asr", "whisper", whisperFiles, {}],
    ["tts", "onnx_runtime", ttsFiles, { voices: { alloy: 0, echo: 3 } }],
    ["sd", "stable_diffusion", sdFiles, {}],
  ].map(([name, runtime, files, options]) => {
    const log = new StateLog();
    const f = files as Awaited<ReturnType<typeof cachedModel>>;
    server.start(modelRecord(name as string, runtime as "whisper", [...f.files], options as object), f, log.onState);
    return log;
  });
  await Promise.all(logs.map((l) => l.waitFor("ready")));
  const app = await startApp(server, limits);
  cleanups.push(async () => {
    await app.close();
    await server.close();
  });
  return { server, url: app.url };
}

function audioForm(fields: Record<string, string>, file: Buffer = toneWav(1.5), name = "clip.wav"): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append("file", new Blob([file], { type: "audio/wav" }), name);
  return form;
}

describe("agent data plane: whisper, TTS, stable-diffusion", () => {
  let a: Awaited<ReturnType<typeof mediaAgent>>;
  beforeAll(async () => {
    a = await mediaAgent({}, { maxUploadBytes: 256 * 1024, maxBodyBytes: 1024 * 1024 });
  });

  describe("transcription and translation (whisper-server)", () => {
    it("transcribes, asking whisper to detect the language when none is named", async () => {
      const res = await fetch(`${a.url}/v1/audio/transcriptions`, { method: "POST", headers: AGENT_AUTH, body: audioForm({ model: "asr" }) });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { text: string };
      expect(body.text).toContain("stand-in transcript of 1.5 seconds of audio (language auto)");
      await waitFor(() => a.server.load("asr")!.inFlight === 0, { timeoutMs: 2000, what: "the lease to be released" });
      expect(a.server.load("asr")!.capacity).toBe(1);
    });

    it("fixes whisper's text/html to text/plain for response_format text; passes srt and verbose_json", async () => {
      const text = await fetch(`${a.url}/v1/audio/transcriptions`, { method: "POST", headers: AGENT_AUTH, body: audioForm({ model: "asr", response_format: "text", language: "de" }) });
      expect(text.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(await text.text()).toContain("(language de)");
      const srt = await fetch(`${a.url}/v1/audio/transcriptions`, { method: "POST", headers: AGENT_AUTH, body: audioForm({ model: "asr", response_format: "srt" }) });
      expect(await srt.text()).toMatch(/^1\n00:00:00,000 --> 00:00:01,500\n/);
      const verbose = await fetch(`${a.url}/v1/audio/transcriptions`, { method: "POST", headers: AGENT_AUTH, body: audioForm({ model: "asr", response_format: "verbose_json", temperature: "0.2" }) });
      expect(await verbose.json()).toMatchObject({ task: "transcribe", duration: 1.5, segments: [{ temperature: 0.2 }] });
    });

    it("translates through whisper's translate flag", async () => {
      const res = await fetch(`${a.url}/v1/audio/translations`, { method: "POST", headers: AGENT_AUTH, body: audioForm({ model: "asr" }) });
      expect(((await res.json()) as { text: string }).text).toContain("English translation");
    });

    it("refuses audio it cannot decode with a 400 that says which formats work", async () => {
      // Not a format whisper-server decodes, and this node has no ffmpeg to convert it.
      const res = await fetch(`${a.url}/v1/audio/transcriptions`, { method: "POST", headers: AGENT_AUTH, body: audioForm({ model: "asr" }, Buffer.from("not audio at all"), "x.txt") });
      expect(res.status).toBe(400);
      const err = (await res.json()) as { error: { code: string; message: string; param: string } };
      expect(err.error).toMatchObject({ code: "unsupported_audio_format", param: "file" });
      expect(err.error.message).toMatch(/cannot decode an unrecognised format.*ffmpeg.*WAV, MP3, FLAC or Ogg Vorbis/);
      // A WAV header over garbage reaches the engine, which turns it down.
      const broken = Buffer.concat([toneWav(1).subarray(0, 12), Buffer.from("no fmt chunk")]);
      const engine = await fetch(`${a.url}/v1/audio/transcriptions`, { method: "POST", headers: AGENT_AUTH, body: audioForm({ model: "asr" }, broken) });
      expect(engine.status).toBe(400);
      const said = (await engine.json()) as { error: { code: string; message: string } };
      expect(said.error.code).toBe("invalid_request");
      expect(said.error.message).toMatch(/could not be decoded \(whisper-server: Invalid request\).*WAV, MP3, FLAC or Ogg Vorbis/);
      await waitFor(() => a.server.load("asr")!.inFlight === 0, { timeoutMs: 2000, what: "the lease to be released" });
    });

    it("rejects a missing file (400), a file beyond the limit (413) and a non-multipart body (415)", async () => {
      const noFile = new FormData();
      noFile.append("model", "asr");
      const missing = await fetch(`${a.url}/v1/audio/transcriptions`, { method: "POST", headers: AGENT_AUTH, body: noFile });
      expect(missing.status).toBe(400);
      expect(((await missing.json()) as { error: { param: string } }).error.param).toBe("file");
      const big = await fetch(`${a.url}/v1/audio/transcriptions`, { method: "POST", headers: AGENT_AUTH, body: audioForm({ model: "asr" }, toneWav(10)) });
      expect(big.status).toBe(413);
      expect(((await big.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
      const json = await fetch(`${a.url}/v1/audio/transcriptions`, { method: "POST", headers: { ...AGENT_AUTH, "content-type": "application/json" }, body: '{"model":"asr"}' });
      expect(json.status).toBe(415);
    });
  });

  describe("speech (sherpa-onnx-offline-tts, one process per request)", () => {
    const speak = (body: Record<string, unknown>) =>
      fetch(`${a.url}/v1/audio/speech`, { method: "POST", headers: { ...AGENT_AUTH, "content-type": "application/json" }, body: JSON.stringify({ model: "tts", input: "Hello from the node.", ...body }) });

    it("returns the engine's WAV, and raw PCM with its rate for pcm", async () => {
      const wav = await speak({ voice: "alloy", response_format: "wav" });
      expect(wav.status).toBe(200);
      expect(wav.headers.get("content-type")).toBe("audio/wav");
      const wavBytes = Buffer.from(await wav.arrayBuffer());
      expect(wavBytes.toString("ascii", 0, 4)).toBe("RIFF");
      const pcm = await speak({ voice: "alloy", response_format: "pcm" });
      expect(pcm.headers.get("content-type")).toBe("audio/pcm");
      expect(pcm.headers.get("x-sample-rate")).toBe("22050");
      expect((await pcm.arrayBuffer()).byteLength).toBe(wavBytes.length - 44);
    });

    it("maps voices to speaker ids, speed to the length scale, and rejects an unknown voice naming the known ones", async () => {
      const alloy = Buffer.from(await (await speak({ voice: "alloy", response_format: "wav" })).arrayBuffer());
      const echo = Buffer.from(await (await speak({ voice: "echo", response_format: "wav" })).arrayBuffer());
      expect(echo.length).toBe(alloy.length);
      expect(echo.equals(alloy)).toBe(false);
      const fast = Buffer.from(await (await speak({ voice: "alloy", response_format: "wav", speed: 2 })).arrayBuffer());
      expect(fast.length).toBeLessThan(alloy.length * 0.6);
      const unknown = await speak({ voice: "nova", response_format: "wav" });
      expect(unknown.status).toBe(400);
      expect(((await unknown.json()) as { error: { message: string } }).error.message).toBe("Model 'tts' has no voice 'nova'; use one of: alloy, echo.");
    });

    it("passes text that looks like a flag as text, never as an option", async () => {
      const res = await speak({ input: "--sid=7 -rf /", response_format: "wav" });
      expect(res.status).toBe(200);
    });

    it("answers 400 naming wav and pcm for mp3 (the default) when the node has no ffmpeg", async () => {
      for (const body of [{ response_format: "mp3" }, {}]) {
        const res = await speak(body);
        expect(res.status).toBe(400);
        const err = (await res.json()) as { error: { code: string; message: string; param: string } };
        expect(err.error).toMatchObject({ code: "unsupported_response_format", param: "response_format" });
        expect(err.error.message).toMatch(/needs ffmpeg.*'wav' or 'pcm'/);
      }
      await waitFor(() => a.server.load("tts")!.inFlight === 0, { timeoutMs: 2000, what: "the lease to be released" });
      expect(a.server.load("tts")!.capacity).toBe(1);
    });
  });

  describe("images (sd-server)", () => {
    it("generates n images of the asked size with created normalised to Unix seconds", async () => {
      const res = await fetch(`${a.url}/v1/images/generations`, {
        method: "POST",
        headers: { ...AGENT_AUTH, "content-type": "application/json" },
        body: JSON.stringify({ model: "sd", prompt: "a red fox", n: 2, size: "64x32" }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { created: unknown; data: { b64_json: string }[] };
      expect(Number.isInteger(body.created)).toBe(true);
      expect(Math.abs((body.created as number) - Date.now() / 1000)).toBeLessThan(60);
      expect(body.data).toHaveLength(2);
      expect(pngSize(body.data[0]!.b64_json)).toEqual({ width: 64, height: 32 });
    });

    it("refuses response_format url: images come back inline", async () => {
      const res = await fetch(`${a.url}/v1/images/generations`, {
        method: "POST",
        headers: { ...AGENT_AUTH, "content-type": "application/json" },
        body: JSON.stringify({ model: "sd", prompt: "x", response_format: "url" }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unsupported_response_format");
    });

    it("edits an image with a mask (multipart), and makes variations through img2img", async () => {
      const edit = new FormData();
      edit.append("model", "sd");
      edit.append("prompt", "add a hat");
      edit.append("size", "48x48");
      edit.append("image", new Blob([encodePng(48, 48, 1)], { type: "image/png" }), "in.png");
      edit.append("mask", new Blob([encodePng(48, 48, 2)], { type: "image/png" }), "mask.png");
      const edited = await fetch(`${a.url}/v1/images/edits`, { method: "POST", headers: AGENT_AUTH, body: edit });
      expect(edited.status).toBe(200);
      const editBody = (await edited.json()) as { created: number; data: { b64_json: string }[] };
      expect(pngSize(editBody.data[0]!.b64_json)).toEqual({ width: 48, height: 48 });
      expect(Number.isInteger(editBody.created)).toBe(true);

      const vary = new FormData();
      vary.append("model", "sd");
      vary.append("n", "3");
      vary.append("size", "40x24");
      vary.append("image", new Blob([encodePng(40, 24, 3)], { type: "image/png" }), "in.png");
      const varied = await fetch(`${a.url}/v1/images/variations`, { method: "POST", headers: AGENT_AUTH, body: vary });
      expect(varied.status).toBe(200);
      const varyBody = (await varied.json()) as { data: { b64_json: string }[] };
      expect(varyBody.data).toHaveLength(3);
      expect(pngSize(varyBody.data[2]!.b64_json)).toEqual({ width: 40, height: 24 });
    });

    it("maps sd-server's refusal of a broken image to a 400", async () => {
      const edit = new FormData();
      edit.append("model", "sd");
      edit.append("prompt", "x");
      edit.append("image", new Blob([Buffer.from("not an image")]), "in.png");
      const res = await fetch(`${a.url}/v1/images/edits`, { method: "POST", headers: AGENT_AUTH, body: edit });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/sd-server rejected the request: invalid image/);
    });
  });

  describe("images through the sd-cli fallback (no sd-server on the node)", () => {
    let cli: Awaited<ReturnType<typeof mediaAgent>>;
    beforeAll(async () => {
      cli = await mediaAgent({ OMNIGATE_SD_SERVER_BIN: "/nonexistent/sd-server" });
    });

    it("generates, edits and varies with one sd-cli process per request", async () => {
      const gen = await fetch(`${cli.url}/v1/images/generations`, {
        method: "POST",
        headers: { ...AGENT_AUTH, "content-type": "application/json" },
        body: JSON.stringify({ model: "sd", prompt: "a cat", n: 2, size: "32x16" }),
      });
      expect(gen.status).toBe(200);
      const genBody = (await gen.json()) as { data: { b64_json: string }[] };
      expect(genBody.data).toHaveLength(2);
      expect(pngSize(genBody.data[1]!.b64_json)).toEqual({ width: 32, height: 16 });
      expect(genBody.data[0]!.b64_json).not.toBe(genBody.data[1]!.b64_json);

      const vary = new FormData();
      vary.append("model", "sd");
      vary.append("image", new Blob([encodePng(16, 16, 4)], { type: "image/png" }), "in.png");
      const varied = await fetch(`${cli.url}/v1/images/variations`, { method: "POST", headers: AGENT_AUTH, body: vary });
      expect(varied.status).toBe(200);
      expect(((await varied.json()) as { data: unknown[] }).data).toHaveLength(1);

      const edit = new FormData();
      edit.append("model", "sd");
      edit.append("prompt", "hat");
      edit.append("image[]", new Blob([encodePng(16, 16, 5)], { type: "image/png" }), "in.png");
      edit.append("mask", new Blob([encodePng(16, 16, 6)], { type: "image/png" }), "m.png");
      const edited = await fetch(`${cli.url}/v1/images/edits`, { method: "POST", headers: AGENT_AUTH, body: edit });
      expect(edited.status).toBe(200);
      expect(cli.server.engines().find((e) => e.model === "sd")).toMatchObject({ up: true });
      await waitFor(() => cli.server.load("sd")!.inFlight === 0, { timeoutMs: 2000, what: "the lease to be released" });
      expect(cli.server.load("sd")!.capacity).toBe(1);
    });

    it("reports an sd-cli failure as an engine error with its output", async () => {
      const vary = new FormData();
      vary.append("model", "sd");
      vary.append("image", new Blob([Buffer.from("garbage")]), "in.png");
      const res = await fetch(`${cli.url}/v1/images/variations`, { method: "POST", headers: AGENT_AUTH, body: vary });
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/sd-cli exited with 1: .*load image from/);
    });
  });
});

describe.skipIf(!ffmpeg)("agent data plane: TTS formats through a real ffmpeg", () => {
  it("encodes mp3, opus, aac and flac from the engine's WAV", async () => {
    const a = await mediaAgent({ OMNIGATE_FFMPEG_BIN: ffmpeg! });
    const magic: Record<string, (b: Buffer) => boolean> = {
      mp3: (b) => b.toString("ascii", 0, 3) === "ID3" || (b[0] === 0xff && (b[1]! & 0xe0) === 0xe0),
      opus: (b) => b.toString("ascii", 0, 4) === "OggS" && b.includes(Buffer.from("OpusHead")),
      aac: (b) => b[0] === 0xff && (b[1]! & 0xf6) === 0xf0,
      flac: (b) => b.toString("ascii", 0, 4) === "fLaC",
    };
    for (const [format, check] of Object.entries(magic)) {
      const res = await fetch(`${a.url}/v1/audio/speech`, {
        method: "POST",
        headers: { ...AGENT_AUTH, "content-type": "application/json" },
        body: JSON.stringify({ model: "tts", input: "Encoded speech.", response_format: format }),
      });
      expect(res.status, format).toBe(200);
      expect(res.headers.get("content-type"), format).toMatch(/^audio\//);
      expect(check(Buffer.from(await res.arrayBuffer())), format).toBe(true);
    }
  });
});
