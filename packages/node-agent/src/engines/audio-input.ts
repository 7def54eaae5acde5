import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EngineRequestError } from "./engine-errors.js";
import type { OneShotContext } from "./types.js";

/** What whisper-server decodes by itself (miniaudio and stb_vorbis, no ffmpeg): said in every refusal. */
export const WHISPER_DECODES = "WAV, MP3, FLAC or Ogg Vorbis";

export interface AudioKind {
  /** For messages: "WAV", "MP4/M4A", "an unrecognised format"… */
  readonly label: string;
  /** whisper-server decodes it without ffmpeg. */
  readonly native: boolean;
}

const ascii = (bytes: Buffer, start: number, end: number) => bytes.toString("latin1", start, end);

/**
 * The audio container, from its first bytes (what OpenAI's transcription endpoint accepts: flac,
 * mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm). Decides whether whisper-server can take the file as is.
 */
export function sniffAudio(bytes: Buffer): AudioKind {
  const head = ascii(bytes, 0, Math.min(bytes.length, 128));
  if (head.startsWith("RIFF") && head.slice(8, 12) === "WAVE") return { label: "WAV", native: true };
  if (head.startsWith("RF64")) return { label: "WAV", native: true };
  if (head.startsWith("fLaC")) return { label: "FLAC", native: true };
  if (head.startsWith("OggS")) {
    if (head.includes("\x01vorbis")) return { label: "Ogg Vorbis", native: true };
    return { label: head.includes("OpusHead") ? "Ogg Opus" : "Ogg (not Vorbis)", native: false };
  }
  if (head.startsWith("ID3")) return { label: "MP3", native: true };
  // An MPEG audio frame header: 11 sync bits, then a layer other than the reserved 00 (which is
  // AAC's ADTS header, not MPEG audio).
  if (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0) {
    return (bytes[1]! & 0x06) !== 0 ? { label: "MP3", native: true } : { label: "AAC", native: false };
  }
  if (head.slice(4, 8) === "ftyp") return { label: "MP4/M4A", native: false };
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === 0x1a45dfa3) return { label: "WebM", native: false };
  return { label: "an unrecognised format", native: false };
}

/** The refusal when the audio needs a decoder this node lacks. */
export function needsFfmpeg(kind: AudioKind): EngineRequestError {
  return new EngineRequestError(
    "unsupported_audio_format",
    `This node cannot decode ${kind.label} audio: that needs ffmpeg, which it does not have. Send ${WHISPER_DECODES}, ` +
      `which whisper-server decodes itself (or install ffmpeg on the node).`,
    "file",
  );
}

/** The refusal for audio that neither whisper-server nor ffmpeg could read. */
export function undecodable(detail: string): EngineRequestError {
  return new EngineRequestError(
    "invalid_request",
    `The audio file could not be decoded (${detail}); send ${WHISPER_DECODES}, or another format ffmpeg reads.`,
    "file",
  );
}

/**
 * Any audio (or video) ffmpeg reads → 16 kHz mono 16-bit WAV, whisper's own input format. Through
 * files in a temp dir, ffmpeg run by argv (no shell) and killed when the request is aborted.
 */
export async function decodeWithFfmpeg(bytes: Buffer, kind: AudioKind, context: OneShotContext, signal: AbortSignal): Promise<Buffer> {
  if (!context.ffmpeg) throw needsFfmpeg(kind);
  const tmp = await context.tempDir();
  try {
    const input = join(tmp.path, "input");
    const output = join(tmp.path, "audio.wav");
    await writeFile(input, bytes);
    const argv = [context.ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", input, "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", "-f", "wav", output];
    const result = await context.run(argv, { cwd: tmp.path, signal });
    if (result.code !== 0) {
      // ffmpeg names its input by path and its demuxers by address: neither is for the client.
      const said = result.tail
        .replaceAll(`${tmp.path}/`, "")
        .replace(/\[[\w-]+ @ 0x[0-9a-f]+\] /g, "")
        .split("\n")
        .map((line) => line.trim())
        .filter(Boolean)
        .join("; ");
      throw undecodable(`ffmpeg: ${said || `exit ${result.signal ?? result.code}`}`);
    }
    return await readFile(output);
  } finally {
    await tmp.cleanup();
  }
}
