/**
 * What a test can tell about synthesized audio without listening to it. Reads WAV itself (a
 * test's own reader, not the agent's) and measures 16-bit PCM: length, peak, and the frequency of
 * a tone such as the tiny test voice plays.
 */

export interface Pcm16 {
  readonly sampleRate: number;
  readonly channels: number;
  readonly bitsPerSample: number;
  readonly pcm: Buffer;
}

/** The fmt and data chunks of a RIFF/WAVE file; throws when it is not one. */
export function readWav(wav: Buffer): Pcm16 {
  if (wav.toString("ascii", 0, 4) !== "RIFF" || wav.toString("ascii", 8, 12) !== "WAVE") throw new Error("not a RIFF/WAVE file");
  let format: Omit<Pcm16, "pcm"> | undefined;
  for (let at = 12; at + 8 <= wav.length; ) {
    const id = wav.toString("ascii", at, at + 4);
    const size = wav.readUInt32LE(at + 4);
    if (id === "fmt ") format = { channels: wav.readUInt16LE(at + 10), sampleRate: wav.readUInt32LE(at + 12), bitsPerSample: wav.readUInt16LE(at + 22) };
    if (id === "data") {
      if (!format) throw new Error("WAV data before its fmt chunk");
      return { ...format, pcm: wav.subarray(at + 8, at + 8 + size) };
    }
    at += 8 + size + (size % 2);
  }
  throw new Error("WAV file without a data chunk");
}

export interface ToneInfo {
  readonly sampleRate: number;
  readonly samples: number;
  readonly seconds: number;
  /** Largest absolute sample, 0..1. */
  readonly peak: number;
  /**
   * The tone's frequency from its zero crossings (two per period), counted with a little hysteresis
   * and over the span they cover, so a lossy codec's near-silent padding does not count.
   */
  readonly hz: number;
}

/** Measures 16-bit little-endian mono PCM. */
export function measurePcm16(pcm: Buffer, sampleRate: number): ToneInfo {
  const samples = Math.floor(pcm.length / 2);
  const threshold = 0.05;
  let peak = 0;
  let sign = 0;
  const flips: number[] = [];
  for (let i = 0; i < samples; i++) {
    const value = pcm.readInt16LE(i * 2) / 32768;
    peak = Math.max(peak, Math.abs(value));
    const now = value > threshold ? 1 : value < -threshold ? -1 : sign;
    if (sign !== 0 && now !== sign) flips.push(i);
    sign = now;
  }
  const span = flips.length > 1 ? (flips.at(-1)! - flips[0]!) / sampleRate : 0;
  return { sampleRate, samples, seconds: samples / sampleRate, peak, hz: span > 0 ? (flips.length - 1) / 2 / span : 0 };
}

/** Measures a 16-bit WAV file (throws when it is not one). */
export function measureWav(wav: Buffer): ToneInfo & { readonly channels: number; readonly bitsPerSample: number } {
  const info = readWav(wav);
  if (info.bitsPerSample !== 16) throw new Error(`expected 16-bit PCM, got ${info.bitsPerSample}-bit`);
  return { ...measurePcm16(info.pcm, info.sampleRate), channels: info.channels, bitsPerSample: info.bitsPerSample };
}
