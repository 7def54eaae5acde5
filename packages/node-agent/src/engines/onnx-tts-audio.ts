import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { SpeechResponseFormat } from "@omnigate/shared/openai";
import { EngineRequestError } from "./engine-errors.js";
import type { EngineReply, OneShotContext } from "./types.js";
import { parseWav } from "./wav.js";

/** ffmpeg output per OpenAI format: muxer, codec args, content type. */
const TRANSCODE: Record<Exclude<SpeechResponseFormat, "wav" | "pcm">, { args: string[]; ext: string; type: string }> = {
  mp3: { args: ["-f", "mp3"], ext: "mp3", type: "audio/mpeg" },
  opus: { args: ["-c:a", "libopus", "-f", "ogg"], ext: "ogg", type: "audio/ogg" },
  aac: { args: ["-c:a", "aac", "-f", "adts"], ext: "aac", type: "audio/aac" },
  flac: { args: ["-f", "flac"], ext: "flac", type: "audio/flac" },
};

/** Refuses, before any synthesis, a format this node cannot encode (no work wasted on it). */
export function requireEncodable(format: SpeechResponseFormat, context: OneShotContext): void {
  if (format !== "wav" && format !== "pcm" && !context.ffmpeg) {
    throw new EngineRequestError(
      "unsupported_response_format",
      `response_format '${format}' needs ffmpeg, which this node does not have; ask for 'wav' or 'pcm'.`,
      "response_format",
    );
  }
}

async function transcode(wav: Buffer, format: keyof typeof TRANSCODE, context: OneShotContext, signal: AbortSignal): Promise<EngineReply> {
  const spec = TRANSCODE[format];
  const tmp = await context.tempDir();
  try {
    const input = join(tmp.path, "speech.wav");
    const output = join(tmp.path, `speech.${spec.ext}`);
    await writeFile(input, wav);
    const argv = [context.ffmpeg!, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", input, ...spec.args, output];
    const result = await context.run(argv, { cwd: tmp.path, signal });
    if (result.code !== 0) {
      throw new EngineRequestError("engine_error", `ffmpeg could not encode ${format}: ${result.tail || `exit ${result.signal ?? result.code}`}`);
    }
    return { kind: "bytes", status: 200, contentType: spec.type, body: await readFile(output) };
  } finally {
    await tmp.cleanup();
  }
}

/** The engine's WAV as the client asked for it: as is, its raw samples (`pcm`), or through ffmpeg. */
export async function speechReply(
  wav: Buffer,
  format: SpeechResponseFormat,
  engine: string,
  context: OneShotContext,
  signal: AbortSignal,
): Promise<EngineReply> {
  if (format === "wav") return { kind: "bytes", status: 200, contentType: "audio/wav", body: wav };
  if (format !== "pcm") return transcode(wav, format, context, signal);
  let info;
  try {
    info = parseWav(wav);
  } catch (err) {
    throw new EngineRequestError("engine_error", `${engine} wrote an unreadable WAV: ${(err as Error).message}`);
  }
  return {
    kind: "bytes",
    status: 200,
    contentType: "audio/pcm",
    body: info.pcm,
    headers: { "x-sample-rate": String(info.sampleRate), "x-channels": String(info.channels), "x-bits-per-sample": String(info.bitsPerSample) },
  };
}
