import { z } from "zod";
import { MemoryProfile } from "@omnigate/shared/memory-estimate";

// The shapes placement keeps in the shared state, declared with the store so that placement/
// reads and writes them through the store contract like every other table.

/**
 * A replica's role on its node:
 * - `serving`: counts toward the model's replicas; gets traffic once ready;
 * - `leaving`: being moved off (drain, selector no longer matching): still serves until enough
 *   serving replicas are ready elsewhere (make-before-break), then removed;
 * - `lost`: its node has been offline longer than OMNIGATE_REPLACE_AFTER_MS; replaced elsewhere,
 *   and serving again if the node returns (then the surplus goes, not-ready first).
 */
export const ReplicaRole = z.enum(["serving", "leaving", "lost"]);
export type ReplicaRole = z.infer<typeof ReplicaRole>;

export const Replica = z.object({
  node: z.string(),
  role: ReplicaRole,
  /** Unix ms when the model was placed on the node: older replicas are kept over newer ones. */
  placedAt: z.number(),
});
export type Replica = Readonly<z.infer<typeof Replica>>;

/** The `placements` row of one model: where its replicas are, and why some are unplaced. */
export const ModelPlacement = z.object({
  replicas: z.array(Replica),
  errors: z.array(z.string()).default([]),
});
export type ModelPlacement = z.infer<typeof ModelPlacement>;

/** What the gateway read of a model's files at registration, stored so it is read once. */
export const ModelEstimate = z.object({
  /** The commit the model's revision resolved to. */
  commit: z.string(),
  /** The files the engine will load (the model's patterns, or the runtime's default pick), with sizes. */
  files: z.array(z.object({ path: z.string(), size: z.number().nonnegative() })),
  profile: MemoryProfile,
});
export type ModelEstimate = z.infer<typeof ModelEstimate>;

/** An operator's say on a node, kept across gateway restarts and the node's re-registrations. */
export const NodeAdminState = z.object({
  cordoned: z.boolean(),
  draining: z.boolean(),
});
export type NodeAdminState = Readonly<z.infer<typeof NodeAdminState>>;
