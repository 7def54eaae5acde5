import { describe, expect, it } from "vitest";
import { sniffAudio } from "./audio-input.js";

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))));

describe("sniffAudio", () => {
  it.each([
    ["WAV", bytes("RIFF\x24\0\0\0WAVEfmt ")],
    ["FLAC", bytes("fLaC\0\0\0\x22")],
    ["MP3", bytes("ID3\x04\0\0\0\0\0\0")],
    ["MP3", bytes([0xff, 0xfb, 0x90, 0x64])],
    ["Ogg Vorbis", bytes("OggS\0\x02", [0, 0, 0, 0, 0, 0, 0, 0], "\0\0\0\0\0\0\0\0\0\0\0\0\x01\x1e\x01vorbis")],
  ])("takes %s as what whisper-server decodes itself", (label, head) => {
    expect(sniffAudio(head)).toEqual({ label, native: true });
  });

  it.each([
    ["MP4/M4A", bytes([0, 0, 0, 0x20], "ftypM4A \0\0\0\0")],
    ["WebM", bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f])],
    ["Ogg Opus", bytes("OggS\0\x02", [0, 0, 0, 0, 0, 0, 0, 0], "\0\0\0\0\0\0\0\0\0\0\0\0\x01\x13OpusHead")],
    // ADTS shares MPEG audio's sync bits; its layer bits are 00.
    ["AAC", bytes([0xff, 0xf1, 0x50, 0x80])],
    ["an unrecognised format", bytes("not audio at all")],
    ["an unrecognised format", Buffer.alloc(0)],
  ])("sends %s through ffmpeg", (label, head) => {
    expect(sniffAudio(head)).toEqual({ label, native: false });
  });
});
