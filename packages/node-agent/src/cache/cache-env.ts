import { z } from "zod";

/** Variables of the model cache and hub client (issue 3). */
export const cacheEnv = {
  // The Hugging Face Hub (or a mirror); tests point it at a local server.
  HF_ENDPOINT: z.url().default("https://huggingface.co"),
  // Token for gated and private repos; sent to the hub host only.
  HF_TOKEN: z.string().optional(),
  // Same as HF_TOKEN (older name), used when HF_TOKEN is unset.
  HUGGING_FACE_HUB_TOKEN: z.string().optional(),
  // Root of the HF cache; the hub cache is $HF_HOME/hub unless HF_HUB_CACHE is set.
  HF_HOME: z.string().optional(),
  // The hub cache folder (models--org--name/…); shared with huggingface_hub tools.
  HF_HUB_CACHE: z.string().optional(),
  // "1": never touch the network; serve what is cached.
  HF_HUB_OFFLINE: z.enum(["0", "1", "true", "false", ""]).default("0"),
  // Files downloaded at once across all models.
  OMNIGATE_DOWNLOAD_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
};
