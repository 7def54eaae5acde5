import { describe, expect, it } from "vitest";
import { parseWav } from "./wav.js";

function wav(samples: number[], rate: number, extraChunk = false): Buffer {
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => data.writeInt16LE(s, i * 2));
  const fmt = Buffer.alloc(24);
  fmt.write("fmt ", 0, "ascii");
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(1, 8);
  fmt.writeUInt16LE(1, 10);
  fmt.writeUInt32LE(rate, 12);
  fmt.writeUInt32LE(rate * 2, 16);
  fmt.writeUInt16LE(2, 20);
  fmt.writeUInt16LE(16, 22);
  const list = extraChunk ? Buffer.concat([Buffer.from("LIST"), Buffer.from([3, 0, 0, 0]), Buffer.from("abc\0")]) : Buffer.alloc(0);
  const head = Buffer.alloc(8);
  head.write("data", 0, "ascii");
  head.writeUInt32LE(data.length, 4);
  const body = Buffer.concat([Buffer.from("WAVE"), fmt, list, head, data]);
  const riff = Buffer.alloc(8);
  riff.write("RIFF", 0, "ascii");
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

describe("parseWav", () => {
  it("finds the PCM after any extra chunks (odd sizes padded)", () => {
    const info = parseWav(wav([1, -2, 3], 22050, true));
    expect(info).toMatchObject({ sampleRate: 22050, channels: 1, bitsPerSample: 16 });
    expect([...new Int16Array(info.pcm.buffer.slice(info.pcm.byteOffset, info.pcm.byteOffset + info.pcm.length))]).toEqual([1, -2, 3]);
  });
  it("rejects what is not a WAV", () => {
    expect(() => parseWav(Buffer.from("ID3 not a wav file"))).toThrow(/RIFF/);
  });
});
