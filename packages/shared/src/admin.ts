import { z } from "zod";

/** `POST /api/keys` body. */
export const CreateKeyRequest = z.strictObject({
  name: z
    .string()
    .min(1, "name must not be empty")
    .max(128, "name is too long (at most 128 characters)")
    .regex(/^[\x20-\x7e]+$/, "name must be printable ASCII"),
});
export type CreateKeyRequest = z.infer<typeof CreateKeyRequest>;

/** A client API key as listed: never the key itself. */
export const ApiKeyView = z.object({
  id: z.string(),
  name: z.string(),
  /** The first characters of the key, to tell keys apart (`og-3f9a…`). */
  prefix: z.string(),
  created_at: z.number().int(),
  revoked_at: z.number().int().nullable(),
});
export type ApiKeyView = z.infer<typeof ApiKeyView>;

/** `POST /api/keys` answer: the only time the key is shown. */
export const CreatedApiKey = ApiKeyView.extend({ key: z.string() });
export type CreatedApiKey = z.infer<typeof CreatedApiKey>;
