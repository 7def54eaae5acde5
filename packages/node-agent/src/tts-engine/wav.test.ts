import { describe, expect, it } from "vitest";
import { parseWav } from "../engines/wav.js";
import { encodeWav16 } from "./wav.js";

describe("encodeWav16", () => {
  it("writes float samples as 16-bit mono PCM that parseWav reads back, clipping beyond ±1", () => {
    const info = parseWav(encodeWav16(new Float32Array([0, 0.5, -1, 2, -3]), 16_000));
    expect(info).toMatchObject({ sampleRate: 16_000, channels: 1, bitsPerSample: 16 });
    expect([0, 1, 2, 3, 4].map((i) => info.pcm.readInt16LE(i * 2))).toEqual([0, 16384, -32767, 32767, -32767]);
  });
});
