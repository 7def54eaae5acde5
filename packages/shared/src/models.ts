import { z } from "zod";
import { Capability, ModelKind, RuntimeType } from "./runtimes.js";
import { ModelName, RepoId, RepoPath, Revision } from "./validation.js";

/** `POST /api/models` body. Registration stores metadata only. */
export const RegisterModelRequest = z.strictObject({
  /** Public name; defaults to the repo id. */
  name: ModelName.optional(),
  repo: RepoId,
  revision: Revision.default("main"),
  /** Paths or globs inside the repo; a TTS voice is several files. Empty = let the runtime choose. */
  files: z.array(RepoPath).max(256, "at most 256 file patterns").default([]),
  /** Given, or inferred from `files` where unambiguous. */
  runtime: RuntimeType.optional(),
  /** Engine options for this model (e.g. TTS voice name → speaker id). */
  options: z
    .strictObject({
      voices: z.record(z.string().max(64), z.number().int().min(0)).optional(),
      engine_args: z.array(z.string().max(256)).max(64).optional(),
    })
    .default({}),
});
export type RegisterModelRequest = z.input<typeof RegisterModelRequest>;
export type RegisterModelParsed = z.output<typeof RegisterModelRequest>;

/** The gateway's record of a registered model (desired state, sent to nodes in heartbeats). */
export const ModelRecord = z.object({
  name: ModelName,
  repo: RepoId,
  revision: Revision,
  files: z.array(RepoPath),
  runtime: RuntimeType,
  kind: ModelKind,
  capabilities: z.array(Capability),
  options: z.object({
    voices: z.record(z.string(), z.number().int()).optional(),
    engine_args: z.array(z.string()).optional(),
  }),
  /** Unix seconds. */
  created_at: z.number().int(),
});
export type ModelRecord = z.infer<typeof ModelRecord>;

/** A model's life on one node. */
export const ModelState = z.enum(["pending", "downloading", "verifying", "starting", "ready", "failed", "deleting"]);
export type ModelState = z.infer<typeof ModelState>;

export const DownloadProgress = z.object({
  bytes: z.number().nonnegative(),
  total: z.number().nonnegative(),
  /** Bytes per second over the last few seconds. */
  rate: z.number().nonnegative().default(0),
  /** 0–100, one decimal. */
  percent: z.number().min(0).max(100),
});
export type DownloadProgress = z.infer<typeof DownloadProgress>;

/** One assigned model's state on one node, as the heartbeat reports it. */
export const NodeModelStatus = z.object({
  name: ModelName,
  state: ModelState,
  progress: DownloadProgress.optional(),
  error: z.string().max(4096).optional(),
  /** Requests in flight on this node for this model. */
  in_flight: z.number().int().nonnegative().default(0),
  /** How many requests the engine runs at once (llama.cpp slots, 1 for whisper). */
  capacity: z.number().int().positive().default(1),
});
export type NodeModelStatus = z.infer<typeof NodeModelStatus>;

/** `nodes[]` of a `/v1/models` entry. */
export const ModelNodeView = z.object({
  runtime_id: z.string(),
  ready: z.boolean(),
  state: ModelState,
  progress: DownloadProgress.optional(),
  error: z.string().optional(),
});
export type ModelNodeView = z.infer<typeof ModelNodeView>;

/** One `/v1/models` entry: OpenAI's fields plus readiness. */
export const ModelListEntry = z.object({
  id: z.string(),
  object: z.literal("model"),
  created: z.number().int(),
  owned_by: z.string(),
  ready: z.boolean(),
  capabilities: z.array(Capability),
  runtime: RuntimeType,
  kind: ModelKind,
  repo: RepoId,
  revision: Revision,
  nodes: z.array(ModelNodeView),
});
export type ModelListEntry = z.infer<typeof ModelListEntry>;

export const ModelList = z.object({ object: z.literal("list"), data: z.array(ModelListEntry) });
export type ModelList = z.infer<typeof ModelList>;

/** One node's answer to being told to delete a model. */
export const NodeDeleteOutcome = z.object({
  runtime_id: z.string(),
  /** `deleted`: the node confirmed; `deferred`: it could not be told and cleans up at its next heartbeat. */
  outcome: z.enum(["deleted", "deferred"]),
  error: z.string().optional(),
});
export type NodeDeleteOutcome = z.infer<typeof NodeDeleteOutcome>;

export const DeleteModelResponse = z.object({
  id: z.string(),
  object: z.literal("model"),
  deleted: z.literal(true),
  nodes: z.array(NodeDeleteOutcome),
});
export type DeleteModelResponse = z.infer<typeof DeleteModelResponse>;
