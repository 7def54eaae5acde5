import { describe, expect, it } from "vitest";
import { buildTinyWhisperModel, TINY_WHISPER_TRANSCRIPT, WHISPER_TOKENS } from "../src/whisper-model-writer.js";

/** Reads the file back the way whisper_model_load does (header, filters, vocabulary, tensors). */
function readBack(bytes: Buffer) {
  let at = 0;
  const int = () => {
    const v = bytes.readInt32LE(at);
    at += 4;
    return v;
  };
  const magic = int() >>> 0;
  const [nVocab, nAudioCtx, nAudioState, nAudioHead, nAudioLayer, nTextCtx, nTextState, nTextHead, nTextLayer, nMels, ftype] = Array.from({ length: 11 }, int);
  const [nMel, nFft] = [int(), int()];
  const filters = Array.from({ length: nMel! * nFft! }, (_, i) => bytes.readFloatLE(at + 4 * i));
  at += 4 * filters.length;
  const tokens: string[] = [];
  for (let i = int(); i > 0; i--) {
    const len = int();
    tokens.push(bytes.toString("latin1", at, at + len));
    at += len;
  }
  const tensors = new Map<string, { dims: number[]; type: number; bytes: number }>();
  while (at < bytes.length) {
    const [nDims, nameLength, type] = [int(), int(), int()];
    const dims = Array.from({ length: nDims }, int);
    const name = bytes.toString("utf8", at, at + nameLength);
    at += nameLength;
    const size = dims.reduce((a, d) => a * d, 1) * (type === 0 ? 4 : 2);
    tensors.set(name, { dims, type, bytes: size });
    at += size;
  }
  return { magic, hparams: { nVocab, nAudioCtx, nAudioState, nAudioHead, nAudioLayer, nTextCtx, nTextState, nTextHead, nTextLayer, nMels, ftype }, nMel, nFft, filters, tokens, tensors, end: at };
}

describe("the tiny whisper model writer", () => {
  const bytes = buildTinyWhisperModel();
  const file = readBack(bytes);

  it("writes whisper.cpp's header and a multilingual, vocabulary-compatible layout", () => {
    expect(file.magic).toBe(0x67676d6c);
    expect(file.hparams).toEqual({
      nVocab: 51865, nAudioCtx: 1500, nAudioState: 64, nAudioHead: 1, nAudioLayer: 1,
      nTextCtx: 32, nTextState: 64, nTextHead: 1, nTextLayer: 1, nMels: 80, ftype: 1,
    });
    // The text tokens only; whisper.cpp names the special tokens (eot, sot, languages, timestamps) itself.
    expect(file.tokens).toHaveLength(WHISPER_TOKENS.textTokens);
    expect(new Set(file.tokens).size).toBe(file.tokens.length);
    // whisper.cpp looks the space up by text to suppress blanks: without it, it throws.
    expect(file.tokens[220]).toBe(" ");
    expect(file.tokens).toContain(TINY_WHISPER_TRANSCRIPT);
    expect(file.end).toBe(bytes.length);
  });

  it("writes 80 Slaney mel triangles over the 201 bins of a 400-point FFT", () => {
    expect([file.nMel, file.nFft]).toEqual([80, 201]);
    const peaks = Array.from({ length: 80 }, (_, m) => {
      const row = file.filters.slice(m * 201, (m + 1) * 201);
      expect(Math.min(...row)).toBeGreaterThanOrEqual(0);
      return row.indexOf(Math.max(...row));
    });
    // Rising centre frequencies (the low filters are narrower than a bin and may share one).
    for (let m = 1; m < 80; m++) expect(peaks[m]!).toBeGreaterThanOrEqual(peaks[m - 1]!);
    expect(peaks[79]!).toBeGreaterThan(150);
  });

  it("writes every tensor whisper_model_load creates, in its shape and type", () => {
    const state = 64;
    const expected: Record<string, [number[], number]> = {
      "encoder.positional_embedding": [[state, 1500], 0],
      "encoder.conv1.weight": [[3, 80, state], 1],
      "encoder.conv1.bias": [[1, state], 0],
      "encoder.conv2.weight": [[3, state, state], 1],
      "decoder.positional_embedding": [[state, 32], 0],
      "decoder.token_embedding.weight": [[state, 51865], 1],
      "decoder.ln.bias": [[state], 0],
      "encoder.blocks.0.mlp.0.weight": [[state, 4 * state], 1],
      "decoder.blocks.0.cross_attn.value.bias": [[state], 0],
    };
    for (const [name, [dims, type]] of Object.entries(expected)) expect(file.tensors.get(name), name).toMatchObject({ dims, type });
    // 7 encoder tensors + 15 per encoder block, 4 decoder tensors + 24 per decoder block.
    expect(file.tensors.size).toBe(7 + 15 + 4 + 24);
  });

  it("is the same file for the same seed, another for another seed", () => {
    expect(buildTinyWhisperModel().equals(bytes)).toBe(true);
    expect(buildTinyWhisperModel({ seed: 2 }).equals(bytes)).toBe(false);
  });
});
