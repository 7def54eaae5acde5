import type { z } from "zod";
import {
  ChatCompletionRequest,
  CompletionRequest,
  EmbeddingRequest,
  ImageEditFields,
  ImageGenerationRequest,
  SpeechRequest,
  TranscriptionFields,
} from "@omnigate/shared/openai";
import { CAPABILITY_ENDPOINTS, type Capability } from "@omnigate/shared/runtimes";

/** How an endpoint's body arrives and what must be in it. */
export interface EndpointSpec {
  readonly capability: Capability;
  /** The path on the gateway and on the agent: the agent serves the same OpenAI routes. */
  readonly path: string;
  readonly body: "json" | "multipart";
  /** JSON body, or the multipart text fields. */
  readonly schema: z.ZodType<{ model: string; stream?: boolean | undefined }>;
  /** Multipart only: the file part it needs, any of these field names. */
  readonly fileFields?: readonly string[];
}

const json = (capability: Capability, schema: EndpointSpec["schema"]): EndpointSpec => ({
  capability,
  path: CAPABILITY_ENDPOINTS[capability],
  body: "json",
  schema,
});

const multipart = (capability: Capability, schema: EndpointSpec["schema"], fileFields: string[]): EndpointSpec => ({
  capability,
  path: CAPABILITY_ENDPOINTS[capability],
  body: "multipart",
  schema,
  fileFields,
});

/** The nine OpenAI endpoints of the runtime table, one per capability. */
export const ENDPOINTS: readonly EndpointSpec[] = [
  json("chat", ChatCompletionRequest),
  json("completion", CompletionRequest),
  json("embedding", EmbeddingRequest),
  json("speech", SpeechRequest),
  json("image_generation", ImageGenerationRequest),
  multipart("transcription", TranscriptionFields, ["file"]),
  multipart("translation", TranscriptionFields, ["file"]),
  // The OpenAI SDK sends one image as `image`, several as `image[]`.
  multipart("image_edit", ImageEditFields, ["image", "image[]"]),
  multipart("image_variation", ImageEditFields, ["image"]),
];
