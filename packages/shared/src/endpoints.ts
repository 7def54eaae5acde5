import type { z } from "zod";
import {
  ChatCompletionRequest,
  CompletionRequest,
  EmbeddingRequest,
  ImageEditFields,
  ImageGenerationRequest,
  SpeechRequest,
  TranscriptionFields,
  quickChatCompletion,
  quickCompletion,
  quickEmbedding,
} from "./openai.js";
import { CAPABILITY_ENDPOINTS, type Capability } from "./runtimes.js";
import { parseBody } from "./validation.js";

/** What routing needs from any endpoint's body (JSON, or a form's text fields). */
export type RoutableBody = { model: string; stream?: boolean | undefined };

/** A JSON endpoint: the body is one object, validated with `schema`. */
export interface JsonEndpoint<S extends z.ZodType<RoutableBody> = z.ZodType<RoutableBody>> {
  readonly capability: Capability;
  /** The same path on the gateway and on the agent: the agent serves the OpenAI routes too. */
  readonly path: string;
  readonly body: "json";
  readonly schema: S;
  /**
   * A quick check of the body's usual shape, but the model name (openai.ts): true only when `schema`
   * accepts the body and would leave it as it is. Absent where the schema fills defaults.
   */
  readonly quick?: (body: Record<string, unknown>) => boolean;
}

/** A multipart endpoint: text fields validated with `schema`, and one required file part. */
export interface MultipartEndpoint<S extends z.ZodType<RoutableBody> = z.ZodType<RoutableBody>> {
  readonly capability: Capability;
  readonly path: string;
  readonly body: "multipart";
  readonly schema: S;
  /** The required file part, under any of these field names, and what it is (for messages). */
  readonly file: { readonly fields: readonly string[]; readonly what: string };
}

export type EndpointSpec = JsonEndpoint | MultipartEndpoint;

const json = <S extends z.ZodType<RoutableBody>>(capability: Capability, schema: S, quick?: (body: Record<string, unknown>) => boolean): JsonEndpoint<S> => ({
  capability,
  path: CAPABILITY_ENDPOINTS[capability],
  body: "json",
  schema,
  ...(quick ? { quick } : {}),
});

const multipart = <S extends z.ZodType<RoutableBody>>(capability: Capability, schema: S, fields: readonly string[], what: string): MultipartEndpoint<S> => ({
  capability,
  path: CAPABILITY_ENDPOINTS[capability],
  body: "multipart",
  schema,
  file: { fields, what },
});

// The OpenAI SDKs send one image as `image`, several as `image[]` (an array form value): both are
// taken wherever an image is, so what the SDK sends passes the gateway and the agent alike.
const IMAGE = ["image", "image[]"] as const;

/**
 * The nine OpenAI endpoints of the runtime table, one per capability: the one definition the
 * gateway's data plane and the agent's read (path, body kind, schema, file part).
 */
export const ENDPOINTS = {
  chat: json("chat", ChatCompletionRequest, quickChatCompletion),
  completion: json("completion", CompletionRequest, quickCompletion),
  embedding: json("embedding", EmbeddingRequest, quickEmbedding),
  speech: json("speech", SpeechRequest),
  image_generation: json("image_generation", ImageGenerationRequest),
  transcription: multipart("transcription", TranscriptionFields, ["file"], "the audio file"),
  translation: multipart("translation", TranscriptionFields, ["file"], "the audio file"),
  image_edit: multipart("image_edit", ImageEditFields, IMAGE, "the image to edit"),
  image_variation: multipart("image_variation", ImageEditFields, IMAGE, "the image to vary"),
} as const satisfies Record<Capability, EndpointSpec>;

const BY_PATH: ReadonlyMap<string, EndpointSpec> = new Map(Object.values(ENDPOINTS).map((spec) => [spec.path, spec] as const));

/**
 * The endpoint a request line names: a POST to exactly one of the nine paths (the query ignored),
 * else undefined. Exact, as the OpenAI API is: `/v1/chat/completions/` is not one.
 */
export function endpointOf(method: string | undefined, url: string | undefined): EndpointSpec | undefined {
  if (method !== "POST" || !url) return undefined;
  const q = url.indexOf("?");
  return BY_PATH.get(q < 0 ? url : url.slice(0, q));
}

/** Model names the schema has accepted, so the next request naming one skips the schema (bounded). */
const validModelNames = new Set<string>();
const MAX_REMEMBERED_NAMES = 1024;

/**
 * A JSON body checked against its endpoint's schema. Its usual shape — a model name the schema
 * accepted before and the endpoint's `quick` check — passes as it is, without the schema's
 * machinery (every inference request comes here, at both hops); anything else is parsed by the
 * schema, which names what is wrong (an `invalid_request` ApiError).
 */
export function validBody<S extends z.ZodType<RoutableBody>>(spec: JsonEndpoint<S>, body: Record<string, unknown>): z.output<S> {
  const model = body.model;
  if (spec.quick && typeof model === "string" && validModelNames.has(model) && spec.quick(body)) return body as z.output<S>;
  const parsed = parseBody(spec.schema, body);
  if (validModelNames.size >= MAX_REMEMBERED_NAMES) validModelNames.clear();
  validModelNames.add(parsed.model);
  return parsed;
}

/** Why a form lacks its file part, for an `invalid_multipart` error naming the field. */
export function missingFilePart(spec: MultipartEndpoint): { message: string; param: string } {
  const names = spec.file.fields.map((f) => `'${f}'`).join(" or ");
  return { message: `The form has no file part ${names} (${spec.file.what}). Attach it as ${names}.`, param: spec.file.fields[0]! };
}

/** A form's text fields as the schema reads them: a field sent twice keeps its last value. */
export function formFields(fields: unknown): Record<string, unknown> {
  if (fields === null || typeof fields !== "object") return {};
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, Array.isArray(v) ? v.at(-1) : v]));
}
