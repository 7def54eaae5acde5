import { z } from "zod";
import { ggmlTensorBytes, type GgufHeader, type GgufValue } from "./gguf.js";

/**
 * How much memory a model needs on a node, decided before anything is downloaded.
 *
 * llama_cpp (GGUF): the sum of three parts, each as llama.cpp allocates it —
 *   weights  = the tensor data of every GGUF file the engine loads (header sizes, all shards and the projector);
 *   KV cache = n_layer × n_ctx × n_head_kv × (head_dim_k × bytes(cache_type_k) + head_dim_v × bytes(cache_type_v));
 *   compute  = n_ctx × n_ubatch × 2                                (the attention mask, f16, flash attention)
 *            + n_ubatch × 4 × max(4 × n_embd + 3 × n_ff, 6 × n_embd) (the widest step of a layer, f32 activations);
 *     with flash attention off the mask is f32 and the attention scores are kept too:
 *            n_ctx × n_ubatch × 4 × (1 + n_head) in place of the mask term.
 * n_ctx is the context the engine runs with: `-c` in the model's engine_args, else in the node's
 * OMNIGATE_LLAMA_ARGS, else DEFAULT_LLAMA_CTX_SIZE, which the agent then passes itself — so the
 * estimate and the engine always agree on it. n_ubatch = min(-ub, n_ctx).
 *
 * Everything else (whisper, stable-diffusion, TTS, and GGUFs of architectures whose shape keys are
 * missing): the files' total size × FILE_SIZE_FACTOR, unless `resources.memory_mib` is given.
 */

/** llama-server's context when neither the model's nor the node's arguments set one. */
export const DEFAULT_LLAMA_CTX_SIZE = 4096;
/** llama.cpp's default physical batch (`-ub`). */
export const DEFAULT_LLAMA_UBATCH = 512;
/** Runtimes without a model of their own: weights plus activations and buffers, generously. */
export const FILE_SIZE_FACTOR = 1.25;

const MIB = 1024 * 1024;

/** The llama-server settings that change its memory. */
export const LlamaMemorySettings = z.object({
  ctx_size: z.number().int().positive().max(16_777_216),
  ubatch_size: z.number().int().positive().max(1_048_576),
  flash_attn: z.boolean(),
  cache_type_k: z.string().max(16),
  cache_type_v: z.string().max(16),
});
export type LlamaMemorySettings = z.infer<typeof LlamaMemorySettings>;

export const DEFAULT_LLAMA_SETTINGS: LlamaMemorySettings = {
  ctx_size: DEFAULT_LLAMA_CTX_SIZE,
  ubatch_size: DEFAULT_LLAMA_UBATCH,
  // `-fa auto` (the default) turns it on wherever the backend supports it: CPU and CUDA do.
  flash_attn: true,
  cache_type_k: "f16",
  cache_type_v: "f16",
};

/** Bytes per element of a KV cache type (`-ctk`/`-ctv`); block types as ggml stores them. */
const KV_TYPE_BYTES: Readonly<Record<string, number>> = {
  f32: 4,
  f16: 2,
  bf16: 2,
  q8_0: 34 / 32,
  q4_0: 18 / 32,
  q4_1: 20 / 32,
  iq4_nl: 18 / 32,
  q5_0: 22 / 32,
  q5_1: 24 / 32,
};

const FLAG_VALUE = /^(--?[\w-]+)=(.*)$/;

/**
 * The memory settings `args` (llama-server arguments, as split) give on top of `base`. Later
 * arguments win, as llama-server reads them. `-c 0` means the model's training context: the
 * estimate then uses `trainedCtx` when known.
 */
export function llamaSettingsFromArgs(args: readonly string[], base: LlamaMemorySettings = DEFAULT_LLAMA_SETTINGS): LlamaMemorySettings & { ctx_from_model?: true } {
  const out: LlamaMemorySettings & { ctx_from_model?: true } = { ...base };
  for (let i = 0; i < args.length; i++) {
    let flag = args[i]!;
    let value: string | undefined;
    const inline = FLAG_VALUE.exec(flag);
    if (inline) {
      flag = inline[1]!;
      value = inline[2];
    }
    const next = (): string | undefined => value ?? args[++i];
    switch (flag) {
      case "-c":
      case "--ctx-size": {
        const n = Number(next());
        if (Number.isInteger(n) && n > 0) {
          out.ctx_size = n;
          delete out.ctx_from_model;
        } else if (n === 0) out.ctx_from_model = true;
        break;
      }
      case "-ub":
      case "--ubatch-size": {
        const n = Number(next());
        if (Number.isInteger(n) && n > 0) out.ubatch_size = n;
        break;
      }
      case "-fa":
      case "--flash-attn": {
        // Newer llama.cpp takes on|off|auto; older ones a bare flag.
        const v = value ?? args[i + 1];
        if (v === "on" || v === "off" || v === "auto") {
          if (value === undefined) i++;
          out.flash_attn = v !== "off";
        } else out.flash_attn = true;
        break;
      }
      case "--no-flash-attn":
        out.flash_attn = false;
        break;
      case "-ctk":
      case "--cache-type-k":
        out.cache_type_k = (next() ?? out.cache_type_k).toLowerCase();
        break;
      case "-ctv":
      case "--cache-type-v":
        out.cache_type_v = (next() ?? out.cache_type_v).toLowerCase();
        break;
      default:
        break;
    }
  }
  return out;
}

/** What a model's files say about its memory; stored once per registration. */
export const MemoryProfile = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("llama"),
    /** Tensor data of every file the engine loads. */
    weights_bytes: z.number().nonnegative(),
    n_layer: z.number().int().nonnegative(),
    n_embd: z.number().int().nonnegative(),
    n_ff: z.number().int().nonnegative(),
    n_head: z.number().int().nonnegative(),
    n_head_kv: z.number().int().nonnegative(),
    head_dim_k: z.number().int().nonnegative(),
    head_dim_v: z.number().int().nonnegative(),
    /** The context the model was trained with (for `-c 0`). */
    n_ctx_train: z.number().int().nonnegative(),
  }),
  z.object({
    kind: z.literal("files"),
    /** Total size of the files the engine loads. */
    bytes: z.number().nonnegative(),
  }),
]);
export type MemoryProfile = z.infer<typeof MemoryProfile>;

/** Bytes the model needs when its engine runs with `settings` (the formula at the top of this file). */
export function estimateBytes(profile: MemoryProfile, settings: LlamaMemorySettings & { ctx_from_model?: true } = DEFAULT_LLAMA_SETTINGS): number {
  if (profile.kind === "files") return profile.bytes * FILE_SIZE_FACTOR;
  const ctx = settings.ctx_from_model && profile.n_ctx_train > 0 ? profile.n_ctx_train : settings.ctx_size;
  const kTypeBytes = KV_TYPE_BYTES[settings.cache_type_k] ?? 2;
  const vTypeBytes = KV_TYPE_BYTES[settings.cache_type_v] ?? 2;
  const kv = profile.n_layer * ctx * profile.n_head_kv * (profile.head_dim_k * kTypeBytes + profile.head_dim_v * vTypeBytes);
  const ubatch = Math.min(settings.ubatch_size, ctx);
  const attention = settings.flash_attn ? ctx * ubatch * 2 : ctx * ubatch * 4 * (1 + profile.n_head);
  const activations = ubatch * 4 * Math.max(4 * profile.n_embd + 3 * profile.n_ff, 6 * profile.n_embd);
  return profile.weights_bytes + kv + attention + activations;
}

/** The estimate in whole MiB, rounded up (what the ledger counts). */
export function estimateMib(profile: MemoryProfile, settings?: LlamaMemorySettings & { ctx_from_model?: true }): number {
  return Math.max(1, Math.ceil(estimateBytes(profile, settings) / MIB));
}

function num(header: GgufHeader, key: string): number | undefined {
  const v: GgufValue | undefined = header.kv.get(key);
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  // Per-layer arrays (some architectures vary head counts by layer): the largest bounds them all.
  if (v && typeof v === "object" && v.items && v.items.length > 0) return Math.max(...v.items.map(Number));
  return undefined;
}

/** The tensor data of one GGUF file (what its model buffer holds); unknown tensor types count their share of the file. */
export function ggufTensorBytes(header: GgufHeader): number {
  let total = 0;
  for (const t of header.tensors) {
    const bytes = ggmlTensorBytes(t.type, t.dims);
    if (typeof bytes === "bigint") total += Number(bytes);
  }
  return total > 0 ? total : Math.max(0, header.fileSize - header.dataOffset);
}

/**
 * The profile of a model from the headers of its GGUF files: the shape comes from the first file
 * that states one (split models repeat it; a projector has none of the text model's keys), the
 * weights from all of them. No shape at all → a file-size profile.
 */
export function ggufMemoryProfile(headers: readonly GgufHeader[]): MemoryProfile {
  const weights = headers.reduce((sum, h) => sum + ggufTensorBytes(h), 0);
  for (const h of headers) {
    const arch = h.architecture;
    const layers = num(h, `${arch}.block_count`);
    const embd = num(h, `${arch}.embedding_length`);
    const heads = num(h, `${arch}.attention.head_count`);
    if (layers === undefined || embd === undefined || heads === undefined || heads === 0) continue;
    const headsKv = num(h, `${arch}.attention.head_count_kv`) ?? heads;
    const headDim = Math.floor(embd / heads);
    return {
      kind: "llama",
      weights_bytes: weights,
      n_layer: layers,
      n_embd: embd,
      n_ff: num(h, `${arch}.feed_forward_length`) ?? 4 * embd,
      n_head: heads,
      n_head_kv: headsKv,
      head_dim_k: num(h, `${arch}.attention.key_length`) ?? headDim,
      head_dim_v: num(h, `${arch}.attention.value_length`) ?? headDim,
      n_ctx_train: num(h, `${arch}.context_length`) ?? 0,
    };
  }
  return { kind: "files", bytes: headers.reduce((sum, h) => sum + h.fileSize, 0) };
}
