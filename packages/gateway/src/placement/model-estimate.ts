import { z } from "zod";
import { MemoryProfile } from "@omnigate/shared/memory-estimate";

/** What the gateway read of a model's files at registration, stored so it is read once. */
export const ModelEstimate = z.object({
  /** The commit the model's revision resolved to. */
  commit: z.string(),
  /** The files the engine will load (the model's patterns, or the runtime's default pick), with sizes. */
  files: z.array(z.object({ path: z.string(), size: z.number().nonnegative() })),
  profile: MemoryProfile,
});
export type ModelEstimate = z.infer<typeof ModelEstimate>;
