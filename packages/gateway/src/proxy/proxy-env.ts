import { z } from "zod";

/** Variables of the data plane (issue 5). */
export const proxyEnv = {
  // Largest JSON body accepted on /v1/* (chat histories with images can be big).
  OMNIGATE_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(10 * 1024 * 1024),
  // Largest multipart upload (audio, images) on /v1/*; OpenAI's own audio limit is 25 MB.
  OMNIGATE_MAX_UPLOAD_BYTES: z.coerce.number().int().min(1024).default(25 * 1024 * 1024),
  // Request bodies held in memory at once, all requests together (each is kept for failover); beyond → 429.
  OMNIGATE_MAX_BUFFERED_BYTES: z.coerce.number().int().min(1024).default(256 * 1024 * 1024),
  // Requests waiting per model when every ready node is at capacity; more are refused with 429.
  OMNIGATE_QUEUE_MAX: z.coerce.number().int().min(0).default(256),
  // How long a request waits for a free slot before a 503; a client retry beats an endless wait.
  OMNIGATE_QUEUE_TIMEOUT_MS: z.coerce.number().int().min(1).default(30_000),
  // Tries per request on different nodes when one fails before answering (refused, reset, 5xx).
  OMNIGATE_PROXY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(16).default(3),
  // TCP connect to an agent; agents sit on the LAN, so a slow connect means a dead host: fail over.
  OMNIGATE_PROXY_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(1).default(5_000),
  // Wait for the first response byte; long because a cold engine or a big image takes minutes.
  OMNIGATE_PROXY_FIRST_BYTE_TIMEOUT_MS: z.coerce.number().int().min(1).default(300_000),
  // Longest silence between two chunks of a response once it started; a stuck stream is cut.
  OMNIGATE_PROXY_IDLE_TIMEOUT_MS: z.coerce.number().int().min(1).default(60_000),
  // Most open connections to one agent: bounds file descriptors; in-flight requests need one each.
  OMNIGATE_PROXY_CONNECTIONS: z.coerce.number().int().min(1).default(2048),
  // Consecutive failures (refused, reset, 5xx but 503 "not ready there", timeout) that eject a node (Envoy default: 5).
  OMNIGATE_OUTLIER_FAILURES: z.coerce.number().int().min(1).default(5),
  // First ejection's cool-down; each repeat ejection of the same node lasts this much longer.
  OMNIGATE_OUTLIER_BASE_EJECTION_MS: z.coerce.number().int().min(1).default(30_000),
  // Cap on one ejection's cool-down, so a node that recovers is used again within this time.
  OMNIGATE_OUTLIER_MAX_EJECTION_MS: z.coerce.number().int().min(1).default(300_000),
  // With several gateways: tell the others about an ejection (a node failing one likely fails all); "0" = each gateway ejects on its own.
  OMNIGATE_SHARE_EJECTIONS: z.enum(["0", "1"]).default("1"),
};

/** The data plane's part of the gateway config. */
export type ProxyConfig = z.infer<z.ZodObject<typeof proxyEnv>>;
