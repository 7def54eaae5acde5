/**
 * The TTS engine's HTTP protocol on 127.0.0.1 (the agent is its only client):
 *
 *   GET  /health      200 {"status":"ok","sample_rate","num_speakers","sherpa_onnx"} once the voice is
 *                     loaded (the port opens only then, so a refused connection means "loading").
 *   POST /synthesize  {"text", "sid"?: 0, "speed"?: 1} → 200 audio/wav (16-bit PCM mono at the
 *                     voice's sample rate). speed > 1 is faster; sid picks the speaker.
 *
 * Errors are {"error":{"message"}}: 400 for a request the voice cannot say (bad JSON, empty text,
 * a speaker id beyond the voice's, text none of whose characters or phonemes the voice knows),
 * 404/405 for other paths and methods, 413 for a body over MAX_BODY_BYTES, 500 when synthesis fails.
 * Requests are synthesized one at a time, in arrival order; a request whose client went away while
 * it waited is dropped from the queue.
 */
import { z } from "zod";

export const TTS_ENGINE_PATHS = { health: "/health", synthesize: "/synthesize" } as const;

/** Far above the agent's own 4096-character input limit: the engine only guards itself. */
export const MAX_TEXT_CHARS = 100_000;
export const MAX_BODY_BYTES = 1024 * 1024;

export const SynthesizeRequest = z.object({
  text: z.string().min(1, "text must not be empty").max(MAX_TEXT_CHARS, `text is longer than ${MAX_TEXT_CHARS} characters`),
  sid: z.number().int().min(0).default(0),
  speed: z.number().min(0.1).max(10).default(1),
});
export type SynthesizeRequest = z.infer<typeof SynthesizeRequest>;

export const TtsEngineHealth = z.object({
  status: z.literal("ok"),
  sample_rate: z.number().int(),
  num_speakers: z.number().int(),
  sherpa_onnx: z.string(),
});
export type TtsEngineHealth = z.infer<typeof TtsEngineHealth>;
