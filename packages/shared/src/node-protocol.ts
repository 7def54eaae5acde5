import { z } from "zod";
import { ModelRecord, NodeModelStatus } from "./models.js";
import { ModelName } from "./validation.js";
import { RuntimeType } from "./runtimes.js";
import { LlamaMemorySettings } from "./memory-estimate.js";
import { MAX_CSR_CHARS } from "./tls.js";

/** The seed's `loaded_models`: model names the node serves right now, by kind. */
export const LoadedModels = z.object({
  llm: z.array(ModelName).default([]),
  asr: z.array(ModelName).default([]),
  tts: z.array(ModelName).default([]),
  image: z.array(ModelName).default([]),
});
export type LoadedModels = z.infer<typeof LoadedModels>;

/** One GPU as `nvidia-smi` reports it. */
export const GpuInfo = z.object({
  index: z.number().int().nonnegative(),
  name: z.string().max(256),
  memory_total_mib: z.number().nonnegative(),
  memory_used_mib: z.number().nonnegative(),
});
export type GpuInfo = z.infer<typeof GpuInfo>;

/** An engine process's health, for `/api/nodes`. */
export const EngineHealth = z.object({
  model: ModelName,
  runtime: RuntimeType,
  pid: z.number().int().optional(),
  up: z.boolean(),
  restarts: z.number().int().nonnegative().default(0),
});
export type EngineHealth = z.infer<typeof EngineHealth>;

const Labels = z
  .record(z.string().max(64), z.string().max(256))
  .refine((l) => Object.keys(l).length <= 64, "at most 64 labels");

/** What a node can hold, as its agent measures it. */
export const NodeCapacity = z.object({
  /** System memory (the capacity of a node without GPUs). */
  memory_total_mib: z.number().nonnegative(),
  memory_available_mib: z.number().nonnegative(),
  /** Free space where the model cache lives; null when it cannot be measured. */
  disk_free_mib: z.number().nonnegative().nullable(),
  /** OMNIGATE_NODE_RESERVED_MIB: kept free of models on this node. */
  reserved_mib: z.number().nonnegative().default(0),
});
export type NodeCapacity = z.infer<typeof NodeCapacity>;

/** One snapshot in the node's model cache: placement prefers nodes that already hold a model's files. */
export const CachedSnapshot = z.object({
  repo: z.string().max(256),
  commit: z.string().max(64),
  /** Repo-relative paths of the files present. */
  files: z.array(z.string().max(1024)).max(4096),
});
export type CachedSnapshot = z.infer<typeof CachedSnapshot>;

/**
 * `POST /api/nodes/register` body (node token). The seed's fields come first and keep their names:
 * `runtime_id`, `supported_runtimes`, `loaded_models`.
 */
export const NodeRegistration = z.object({
  runtime_id: z.uuid("runtime_id must be a UUID"),
  supported_runtimes: z.array(RuntimeType).max(16),
  loaded_models: LoadedModels,
  /** Where the gateway reaches this agent (`http://host:port`). */
  agent_url: z.url({ protocol: /^https?$/, error: "agent_url must be an http(s) URL" }),
  hostname: z.string().min(1).max(255),
  version: z.string().max(64),
  gpus: z.array(GpuInfo).max(64).default([]),
  labels: Labels.default({}),
  // Placement inputs (agents before placement send none: they are then placed on as if unlimited).
  capacity: NodeCapacity.optional(),
  cached: z.array(CachedSnapshot).max(1024).optional(),
  /** The llama-server memory settings this node runs models with (its OMNIGATE_LLAMA_ARGS over the defaults). */
  llama: LlamaMemorySettings.optional(),
  /**
   * A PKCS#10 request (PEM) for the agent's TLS certificate: required when `agent_url` is https.
   * Its only SAN is `agent_url`'s host. In a heartbeat it asks for a renewal.
   */
  csr: z
    .string()
    .max(MAX_CSR_CHARS, `csr is larger than ${MAX_CSR_CHARS} characters; an EC P-256 request is under 1 KB`)
    .optional(),
});
export type NodeRegistration = z.input<typeof NodeRegistration>;
export type NodeRegistrationParsed = z.output<typeof NodeRegistration>;

/** What the gateway answers a `csr` with. */
export const CertificateAnswer = z.object({
  /** The agent's certificate (PEM), signed by the cluster CA; present when a `csr` was granted. */
  certificate: z.string().optional(),
  /** The cluster CA (PEM): whose client certificates the agent accepts. */
  ca_certificate: z.string().optional(),
});
export type CertificateAnswer = z.infer<typeof CertificateAnswer>;

export const RegisterResponse = z.object({
  runtime_id: z.string(),
  /** Shown once; the gateway keeps only its hash. The agent sends it as `Authorization: Bearer`. */
  node_secret: z.string(),
  heartbeat_interval_ms: z.number().int().positive(),
  ...CertificateAnswer.shape,
});
export type RegisterResponse = z.infer<typeof RegisterResponse>;

/** `POST /api/nodes/{runtime_id}/heartbeat` body (node secret): registration fields plus state. */
export const Heartbeat = NodeRegistration.extend({
  models: z.array(NodeModelStatus).max(1024).default([]),
  engines: z.array(EngineHealth).max(1024).default([]),
  /** The `desired_version` of the last answer the agent applied: an unchanged set is then not sent again. */
  desired_version: z.string().max(64).optional(),
});
export type Heartbeat = z.input<typeof Heartbeat>;
export type HeartbeatParsed = z.output<typeof Heartbeat>;

/**
 * The heartbeat's answer: the models placed on the node. `models` is left out when the agent's
 * `desired_version` is current (most heartbeats); an agent that sends no version always gets it.
 */
export const HeartbeatResponse = z.object({
  models: z.array(ModelRecord).optional(),
  desired_version: z.string().optional(),
  heartbeat_interval_ms: z.number().int().positive(),
  /** A renewed certificate, when the heartbeat carried a `csr`. */
  ...CertificateAnswer.shape,
});
export type HeartbeatResponse = z.infer<typeof HeartbeatResponse>;

/** A node certificate as `GET /api/nodes` shows it. */
export const NodeCertificateView = z.object({
  /** Hex, as `openssl x509 -serial` prints it. */
  serial: z.string(),
  /** Unix ms. */
  not_before: z.number(),
  not_after: z.number(),
});
export type NodeCertificateView = z.infer<typeof NodeCertificateView>;

/** `DELETE /api/nodes/{runtime_id}` answer: the node is gone and its certificates revoked. */
export const NodeDeleteResponse = z.object({
  runtime_id: z.string(),
  deleted: z.literal(true),
  /** Serials put on the deny list (the node's certificates that had not expired). */
  revoked_serials: z.array(z.string()),
});
export type NodeDeleteResponse = z.infer<typeof NodeDeleteResponse>;

/** `GET /api/nodes` entry. */
export const NodeView = z.object({
  runtime_id: z.string(),
  hostname: z.string(),
  agent_url: z.string(),
  version: z.string(),
  online: z.boolean(),
  /** Ejected by outlier detection until this Unix-ms time, if so. */
  ejected_until: z.number().nullable(),
  /** Why it was ejected ("5 failed requests in a row, last: connection refused"), while it is. */
  ejection_reason: z.string().nullable(),
  supported_runtimes: z.array(RuntimeType),
  loaded_models: LoadedModels,
  models: z.array(NodeModelStatus),
  engines: z.array(EngineHealth),
  gpus: z.array(GpuInfo),
  labels: z.record(z.string(), z.string()),
  registered_at: z.number(),
  last_seen: z.number(),
  /** No new placements (drain cordons too). */
  cordoned: z.boolean(),
  /** Its replicas are being moved elsewhere, make-before-break. */
  draining: z.boolean(),
  capacity: NodeCapacity.nullable(),
  /** What placement may commit on the node (GPU memory, else system memory, less the reserve); null = not reported. */
  capacity_mib: z.number().nullable(),
  /** The estimates of the models placed on the node. */
  committed_mib: z.number(),
  /** The models placed on the node. */
  placed_models: z.array(z.string()),
  cached: z.array(CachedSnapshot),
  /** The node's current TLS certificate (null: an agent on loopback, in plain HTTP). */
  certificate: NodeCertificateView.nullable(),
});
export type NodeView = z.infer<typeof NodeView>;

/** Agent `DELETE /api/models/{name}` answer. */
export const AgentDeleteResponse = z.object({
  name: z.string(),
  /** False when the agent did not have the model (already gone): still a success. */
  deleted: z.boolean(),
});
export type AgentDeleteResponse = z.infer<typeof AgentDeleteResponse>;
