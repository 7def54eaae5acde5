// A WAV through the whole system to the real whisper.cpp engine: the official `openai` client →
// the built gateway → a built agent → a real `whisper-server` (OMNIGATE_WHISPER_SERVER_BIN; CI
// builds one with tools/build-whisper-server.sh), which the agent pulled a tiny random-weight
// whisper model for from the local test hub. The engine's transcript comes back to the client.
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestScope } from "@omnigate/testkit/scope";
import { TINY_WHISPER_TRANSCRIPT } from "@omnigate/testkit/whisper-model-writer";
import { startHub, startStack, toneWav, type Stack } from "@omnigate/testkit/e2e-stack";

const bin = process.env.OMNIGATE_WHISPER_SERVER_BIN;

describe.skipIf(!bin)("transcription through gateway → agent → real whisper-server", () => {
  const scope = new TestScope();
  let stack: Stack;
  let client: OpenAI;
  const wav = () => toFile(toneWav(1.5), "hello.wav", { type: "audio/wav" });

  beforeAll(async () => {
    const hub = await startHub(scope, ["whisper"]);
    stack = await startStack(scope, hub, { agents: 1, models: ["whisper"], agentEnv: () => ({ OMNIGATE_WHISPER_SERVER_BIN: bin! }) });
    client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: stack.key, maxRetries: 0, timeout: 60_000 });
  }, 120_000);

  afterAll(() => scope.cleanup());

  it("gets the engine's transcript back, as json and as verbose_json", async () => {
    const transcription = await client.audio.transcriptions.create({ model: "whisper", file: await wav() });
    expect(transcription.text).toBe(TINY_WHISPER_TRANSCRIPT.trim());
    const verbose = await client.audio.transcriptions.create({ model: "whisper", file: await wav(), response_format: "verbose_json" });
    expect(verbose).toMatchObject({ language: "english", text: TINY_WHISPER_TRANSCRIPT.trim() });
    expect(verbose.duration).toBeCloseTo(1.5, 2);
    expect(verbose.segments![0]!.text).toBe(TINY_WHISPER_TRANSCRIPT);
  });

  it("gets subtitles and a translation", async () => {
    const srt = await client.audio.transcriptions.create({ model: "whisper", file: await wav(), response_format: "srt" });
    expect(srt).toBe(`1\n00:00:00,000 --> 00:00:30,000\n${TINY_WHISPER_TRANSCRIPT}\n\n`);
    const translation = await client.audio.translations.create({ model: "whisper", file: await wav(), response_format: "verbose_json" });
    expect(translation).toMatchObject({ task: "translate", text: TINY_WHISPER_TRANSCRIPT.trim() });
  });

  it("shows a language whisper does not know as the client's 400", async () => {
    const err = await client.audio.transcriptions.create({ model: "whisper", file: await wav(), language: "xx" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("language");
  });
});
