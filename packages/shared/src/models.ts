import { z } from "zod";
import { Capability, ModelKind, RuntimeType } from "./runtimes.js";
import { LabelKey, LabelValue, ModelName, RepoId, RepoPath, Revision } from "./validation.js";

const REPLICAS_RULE = 'replicas must be an integer from 0 to 1000, or "all" (every eligible node)';

/** How many nodes serve a model: a count, or `"all"` = every eligible node. */
export const Replicas = z.union(
  [z.literal("all"), z.number().int(REPLICAS_RULE).min(0, REPLICAS_RULE).max(1000, REPLICAS_RULE)],
  { error: REPLICAS_RULE },
);
export type Replicas = z.infer<typeof Replicas>;

/** Only nodes whose labels (OMNIGATE_NODE_LABELS) hold every pair are eligible. */
export const NodeSelector = z
  .record(z.string(), LabelValue)
  .superRefine((selector, ctx) => {
    for (const key of Object.keys(selector)) {
      const parsed = LabelKey.safeParse(key);
      if (!parsed.success) ctx.addIssue({ code: "custom", path: [key], message: `${JSON.stringify(key)}: ${parsed.error.issues[0]?.message}` });
    }
  })
  .refine((s) => Object.keys(s).length <= 32, "node_selector has at most 32 labels");
export type NodeSelector = z.infer<typeof NodeSelector>;

/** `spread`: replicas on distinct nodes, least committed first; `binpack`: the most committed node that fits. */
export const PlacementPolicy = z.enum(["spread", "binpack"], { error: 'placement_policy must be "spread" or "binpack"' });
export type PlacementPolicy = z.infer<typeof PlacementPolicy>;

export const Resources = z.strictObject({
  /** Overrides the estimate read from the model's files. */
  memory_mib: z.number({ error: "memory_mib must be a number of MiB" }).positive("memory_mib must be greater than 0").max(16 * 1024 * 1024, "memory_mib is too large (at most 16 TiB)"),
});
export type Resources = z.infer<typeof Resources>;

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
  replicas: Replicas.default(1),
  node_selector: NodeSelector.default({}),
  resources: Resources.optional(),
  placement_policy: PlacementPolicy.default("spread"),
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
  // Placement (the gateway's concern; agents ignore them). Defaulted so records of older gateways parse.
  replicas: Replicas.default(1),
  node_selector: z.record(z.string(), z.string()).default({}),
  resources: z.object({ memory_mib: z.number().positive() }).optional(),
  placement_policy: PlacementPolicy.default("spread"),
});
export type ModelRecord = z.infer<typeof ModelRecord>;

/**
 * `PATCH /api/models/{name}`: the placement fields. `resources: null` drops the override (back to
 * the estimate). What the engine runs (repo, runtime, files, revision, options) is not patchable.
 */
export const PatchModelRequest = z.strictObject({
  replicas: Replicas.optional(),
  node_selector: NodeSelector.optional(),
  resources: Resources.nullable().optional(),
  placement_policy: PlacementPolicy.optional(),
});
export type PatchModelRequest = z.infer<typeof PatchModelRequest>;

/** Fields of a model a PATCH may not change: they decide what runs, so delete and register instead. */
export const IMMUTABLE_MODEL_FIELDS = ["name", "repo", "runtime", "revision", "files", "options"] as const;

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
  /** Being moved off this node (drain, scale down, surplus): no new requests; removed once idle and replaced. */
  leaving: z.boolean().optional(),
  /** The node missed its heartbeats: its replica is placed elsewhere once OMNIGATE_REPLACE_AFTER_MS has passed. */
  offline: z.boolean().optional(),
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
  /** The nodes the model is placed on. */
  nodes: z.array(ModelNodeView),
  replicas: z.object({
    desired: Replicas,
    /** Nodes it is placed on (leaving ones not counted). */
    placed: z.number().int().nonnegative(),
    ready: z.number().int().nonnegative(),
  }),
  /** The memory estimate placement uses (resources.memory_mib when given); null while pending. */
  memory_mib: z.number().nullable(),
  node_selector: z.record(z.string(), z.string()),
  placement_policy: PlacementPolicy,
  /** Why replicas are unplaced, in words an operator can act on. */
  placement_errors: z.array(z.string()),
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
