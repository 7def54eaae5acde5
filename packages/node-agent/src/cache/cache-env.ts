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
  // "1": never touch the network; serve what is cached (huggingface_hub's truthy values: 1/true/yes/on).
  HF_HUB_OFFLINE: z
    .string()
    .default("0")
    .refine((v) => ["0", "1", "true", "false", "yes", "no", "on", "off", ""].includes(v.trim().toLowerCase()), {
      message: "HF_HUB_OFFLINE must be 1/true/yes/on (offline) or 0/false/no/off (online)",
    }),
  // Files downloaded at once across all models.
  OMNIGATE_DOWNLOAD_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  // Connections per big file: a CDN caps each connection well below what a data-centre link carries.
  OMNIGATE_DOWNLOAD_CONNECTIONS: z.coerce.number().int().min(1).max(64).default(8),
  // Connections at once across all downloads, so many files in parallel cannot open hundreds of sockets.
  OMNIGATE_DOWNLOAD_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(256).default(16),
  // Files at least this big are fetched as parallel ranges; smaller ones in one stream (a range request costs a round trip).
  OMNIGATE_DOWNLOAD_PARALLEL_MIN_BYTES: z.coerce.number().int().min(0).default(64 * 1024 * 1024),
  // The most one range request asks for: a killed download fetches at most this much again per connection.
  OMNIGATE_DOWNLOAD_CHUNK_BYTES: z.coerce.number().int().min(64 * 1024).max(1024 * 1024 * 1024).default(16 * 1024 * 1024),
  // A hub request, or a download that sends nothing, for this long is retried (hung hub, dead link).
  OMNIGATE_HUB_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  // Attempts per hub request on 5xx, dropped connections and timeouts (a download making progress resets it).
  OMNIGATE_HUB_RETRIES: z.coerce.number().int().min(1).max(100).default(5),
  // First backoff between attempts; doubles up to 8 s, with jitter so agents do not retry in lockstep.
  OMNIGATE_HUB_RETRY_BASE_MS: z.coerce.number().int().min(1).max(60_000).default(500),
  // Longest 429 Retry-After waited out in place; longer fails as "rate limited" and the reconciler retries later.
  OMNIGATE_HUB_MAX_RETRY_AFTER_S: z.coerce.number().int().min(0).max(3600).default(60),
  // A blob lock not refreshed for this long belongs to a killed process and is taken over.
  OMNIGATE_CACHE_LOCK_STALE_MS: z.coerce.number().int().min(2000).max(600_000).default(10_000),
  // Disk space a download must leave free, so a full cache cannot starve logs and agent state.
  OMNIGATE_CACHE_RESERVE_BYTES: z.coerce.number().int().min(0).default(100_000_000),
};

export const CacheEnv = z.object(cacheEnv);
export type CacheConfig = z.infer<typeof CacheEnv>;
