import { z } from "zod";
import { ApiKeyView } from "./admin.js";
import { ModelListEntry, ModelRecord, NodeModelStatus } from "./models.js";
import { NodeView } from "./node-protocol.js";

/**
 * What `GET /api/events` starts with, and sends again to a client that reconnects with
 * `Last-Event-ID`: the state the events that follow apply to (what GET /api/nodes, GET /v1/models
 * and GET /api/keys would answer at that instant).
 */
export const Snapshot = z.object({
  nodes: z.array(NodeView),
  models: z.array(ModelListEntry),
  keys: z.array(ApiKeyView),
});
export type Snapshot = z.infer<typeof Snapshot>;

const node = <T extends string>(type: T) => z.object({ type: z.literal(type), node: NodeView });

/**
 * One event on `GET /api/events` (Server-Sent Events: `id`, `event: <type>`, `data: <this as JSON>`).
 * Node events carry the node's whole view (replace what you hold); `node.model` carries one model's
 * state and download progress on one node, at most a few per second per model and node.
 * `model.registered` carries the stored record (what POST /api/models answered); `model.status`
 * follows it, and comes again whenever the model's readiness or a node's state for it changes, with
 * the model's `/v1/models` entry.
 */
export const GatewayEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("snapshot"), ...Snapshot.shape }),
  z.object({ type: z.literal("model.registered"), model: ModelRecord }),
  z.object({ type: z.literal("model.patched"), model: ModelRecord }),
  z.object({ type: z.literal("model.status"), model: ModelListEntry }),
  z.object({ type: z.literal("model.deleted"), name: z.string() }),
  node("node.registered"),
  node("node.online"),
  node("node.offline"),
  node("node.updated"),
  node("node.cordoned"),
  node("node.uncordoned"),
  node("node.draining"),
  z.object({
    type: z.literal("node.ejected"),
    node: NodeView,
    /** Why outlier detection took the node out of rotation. */
    reason: z.string(),
    /** Unix ms when it gets traffic again. */
    until: z.number(),
  }),
  z.object({ type: z.literal("node.removed"), runtime_id: z.string() }),
  z.object({ type: z.literal("node.model"), runtime_id: z.string(), model: NodeModelStatus }),
  z.object({ type: z.literal("node.model_removed"), runtime_id: z.string(), name: z.string() }),
  z.object({ type: z.literal("key.created"), key: ApiKeyView }),
  z.object({ type: z.literal("key.revoked"), key: ApiKeyView }),
]);
export type GatewayEvent = z.infer<typeof GatewayEvent>;
export type GatewayEventType = GatewayEvent["type"];

/** p50 / p99 in milliseconds; null when the window holds no sample. */
export const Percentiles = z.object({
  p50_ms: z.number().nullable(),
  p99_ms: z.number().nullable(),
});
export type Percentiles = z.infer<typeof Percentiles>;

/** One slice of the stats window. */
export const StatsBucket = z.object({
  /** Unix ms the slice starts at. */
  start: z.number(),
  requests: z.number().int().nonnegative(),
  /** Answers with a 5xx status: the gateway or a node failed the request. */
  errors: z.number().int().nonnegative(),
  latency: Percentiles,
  /** Time to the first token of streamed answers (the first body byte otherwise). */
  ttft: Percentiles,
});
export type StatsBucket = z.infer<typeof StatsBucket>;

/** `GET /api/stats`: the gateway's own request figures over its in-memory window. */
export const GatewayStats = z.object({
  window_s: z.number().int().positive(),
  bucket_s: z.number().int().positive(),
  /** Unix ms the figures were taken at. */
  now: z.number(),
  requests: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  /** Over the window, or over the gateway's uptime when it is younger than the window. */
  requests_per_s: z.number().nonnegative(),
  /** errors / requests; 0 with no request. */
  error_rate: z.number().min(0).max(1),
  latency: Percentiles,
  ttft: Percentiles,
  /** Oldest first, one per bucket_s, the whole window (empty slices included). */
  series: z.array(StatsBucket),
});
export type GatewayStats = z.infer<typeof GatewayStats>;
