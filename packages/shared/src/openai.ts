import { z } from "zod";
import { transcriptionLanguage } from "./languages.js";
import { ModelName } from "./validation.js";

// The data plane checks only what it needs to route (the model, the stream flag) and passes the
// rest through to the engine untouched: engines accept fields OpenAI does not define.
//
// Beside three of the schemas, a quick check of a request's usual shape (plain JavaScript, no
// schema machinery: every inference request pays for it, at both hops). When it says yes, the
// schema says yes too and leaves the body as it is (a loose object, no defaults or transforms); when
// it says no, the schema decides and names what is wrong. openai.test.ts holds each pair together.

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const isOptionalBoolean = (v: unknown): boolean => v === undefined || typeof v === "boolean";
const isString = (v: unknown): v is string => typeof v === "string";

export const ChatCompletionRequest = z.looseObject({
  model: ModelName,
  messages: z.array(z.looseObject({ role: z.string() })).min(1, "messages must not be empty"),
  stream: z.boolean().optional(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

/** ChatCompletionRequest's usual shape, but the model name (see above). */
export function quickChatCompletion(body: Record<string, unknown>): boolean {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0 || !isOptionalBoolean(body.stream)) return false;
  for (const m of messages) if (!isRecord(m) || typeof m.role !== "string") return false;
  return true;
}

export const CompletionRequest = z.looseObject({
  model: ModelName,
  prompt: z.union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))]),
  stream: z.boolean().optional(),
});
export type CompletionRequest = z.infer<typeof CompletionRequest>;

/** CompletionRequest's usual shape (a prompt string), but the model name (see above). */
export function quickCompletion(body: Record<string, unknown>): boolean {
  return typeof body.prompt === "string" && isOptionalBoolean(body.stream);
}

export const EmbeddingRequest = z.looseObject({
  model: ModelName,
  input: z.union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))]),
});
export type EmbeddingRequest = z.infer<typeof EmbeddingRequest>;

/** EmbeddingRequest's usual shape (a string or strings), but the model name (see above). */
export function quickEmbedding(body: Record<string, unknown>): boolean {
  const input = body.input;
  return typeof input === "string" || (Array.isArray(input) && input.every(isString));
}

export const SpeechResponseFormat = z.enum(["mp3", "opus", "aac", "flac", "wav", "pcm"]);
export type SpeechResponseFormat = z.infer<typeof SpeechResponseFormat>;

export const SpeechRequest = z.looseObject({
  model: ModelName,
  input: z.string().min(1, "input must not be empty").max(4096, "input is longer than 4096 characters"),
  voice: z.string().max(64).optional(),
  response_format: SpeechResponseFormat.default("mp3"),
  speed: z.number().min(0.25).max(4).default(1),
});
export type SpeechRequest = z.infer<typeof SpeechRequest>;

export const ImageGenerationRequest = z.looseObject({
  model: ModelName,
  prompt: z.string().min(1, "prompt must not be empty").max(32_000),
  n: z.number().int().min(1).max(8).default(1),
  size: z.string().regex(/^\d{2,5}x\d{2,5}$/, "size must be 'WIDTHxHEIGHT', e.g. '512x512'").optional(),
  response_format: z.enum(["b64_json", "url"]).optional(),
});
export type ImageGenerationRequest = z.infer<typeof ImageGenerationRequest>;

/** Multipart text fields of transcription/translation (the `file` part is separate). */
export const TranscriptionFields = z.looseObject({
  model: ModelName,
  // Normalised to whisper's code; an unknown language is the client's mistake (400), not the engine's.
  language: z
    .string()
    .max(32)
    .transform((value, ctx) => {
      const code = transcriptionLanguage(value);
      if (code !== undefined) return code;
      ctx.addIssue({
        code: "custom",
        message: `'${value}' is not a language whisper knows: use an ISO-639-1 code such as 'en', 'de' or 'ja', or leave language out to detect it`,
      });
      return z.NEVER;
    })
    .optional(),
  prompt: z.string().max(4096).optional(),
  response_format: z.enum(["json", "text", "srt", "vtt", "verbose_json"]).default("json"),
  temperature: z.coerce.number().min(0).max(1).optional(),
});
export type TranscriptionFields = z.infer<typeof TranscriptionFields>;

/** Multipart text fields of image edits and variations. */
export const ImageEditFields = z.looseObject({
  model: ModelName,
  prompt: z.string().max(32_000).optional(),
  n: z.coerce.number().int().min(1).max(8).default(1),
  size: z.string().regex(/^\d{2,5}x\d{2,5}$/, "size must be 'WIDTHxHEIGHT', e.g. '512x512'").optional(),
});
export type ImageEditFields = z.infer<typeof ImageEditFields>;
