/** MP3 test audio made in process through lamejs (LAME in JavaScript): no ffmpeg needed. */
import { Mp3Encoder } from "@breezystack/lamejs";

/** `seconds` of a sine tone as 16-bit samples. */
function tone(seconds: number, sampleRate: number, freq: number): Int16Array {
  const n = Math.round(seconds * sampleRate);
  return Int16Array.from({ length: n }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * freq * i) / sampleRate)));
}

/** A sine tone as a mono 64 kbit/s MP3 (MPEG frames, no ID3 tag). */
export function mp3Tone(seconds: number, sampleRate = 16_000, freq = 440): Buffer {
  const encoder = new Mp3Encoder(1, sampleRate, 64);
  const samples = tone(seconds, sampleRate, freq);
  const frames: Buffer[] = [];
  // lamejs hands out Int8Arrays: viewed as bytes.
  const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  for (let i = 0; i < samples.length; i += 1152) frames.push(bytes(encoder.encodeBuffer(samples.subarray(i, i + 1152))));
  frames.push(bytes(encoder.flush()));
  return Buffer.concat(frames);
}
