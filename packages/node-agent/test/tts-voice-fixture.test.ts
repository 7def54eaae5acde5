// The tiny test voice (@omnigate/testkit/tiny-piper-voice): the files kept in the repo are what its generator writes,
// and sherpa-onnx-node loads and runs it as a piper voice: its sample rate and speakers from the
// metadata, a tone per speaker whose length follows the text and the speed.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSherpa } from "../src/tts-engine/sherpa.js";
import { encodeWav16 } from "../src/tts-engine/wav.js";
import { measureWav } from "@omnigate/testkit/audio";
import { TINY_PIPER_DIR as KEPT, TINY_VOICE, tinyPiperFiles, toneHz, writeTinyPiperVoice } from "@omnigate/testkit/tiny-piper-voice";

describe("the tiny piper test voice", () => {
  it("is kept in the repo exactly as its generator writes it", async () => {
    // After a change to the generator, run this file once with TINY_VOICE_WRITE=1 and commit the files.
    if (process.env.TINY_VOICE_WRITE === "1") await writeTinyPiperVoice(KEPT);
    for (const [name, bytes] of Object.entries(tinyPiperFiles())) {
      const kept = await readFile(join(KEPT, name));
      expect(kept.equals(bytes), `${name} differs from tiny-piper-voice.ts's output (TINY_VOICE_WRITE=1 rewrites it)`).toBe(true);
    }
  });

  it("loads in sherpa-onnx as a multi-speaker piper voice and speaks a tone per speaker", async () => {
    const sherpa = loadSherpa();
    const tts = await sherpa.OfflineTts.createAsync({
      model: { vits: { model: join(KEPT, "model.onnx"), tokens: join(KEPT, "tokens.txt") }, numThreads: 1 },
      maxNumSentences: 1,
    });
    expect(tts.sampleRate).toBe(TINY_VOICE.sampleRate);
    expect(tts.numSpeakers).toBe(TINY_VOICE.speakers);
    const text = "hello there";
    const one = await tts.generateAsync({ text, sid: 1, speed: 1 });
    const tone = measureWav(encodeWav16(one.samples, one.sampleRate));
    // The characters frontend: one token per character, after a bos token.
    expect(tone.samples).toBe((text.length + 1) * TINY_VOICE.hop);
    expect(tone.peak).toBeCloseTo(TINY_VOICE.amplitude, 2);
    expect(tone.hz).toBeGreaterThan(toneHz(1) * 0.95);
    expect(tone.hz).toBeLessThan(toneHz(1) * 1.05);
    const fast = await tts.generateAsync({ text, sid: 1, speed: 2 });
    expect(fast.samples.length).toBe(tone.samples / 2);
  });
});
