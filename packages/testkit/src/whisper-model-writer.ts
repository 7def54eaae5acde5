import { writeFile } from "node:fs/promises";
import { prng, toHalf } from "./gguf-writer.js";

/**
 * A writer of whisper.cpp's own model format (the legacy ggml file `ggml-*.bin` that
 * whisper_model_load reads), next to the GGUF writer: tests run the real whisper-server on a tiny
 * model written from code instead of downloading one.
 *
 * Layout, all little-endian: magic `ggml`; eleven int32 hyper-parameters (n_vocab, n_audio_ctx,
 * n_audio_state, n_audio_head, n_audio_layer, n_text_ctx, n_text_state, n_text_head, n_text_layer,
 * n_mels, ftype); the mel filterbank (int32 n_mel, int32 n_fft, n_mel·n_fft float32); the vocabulary
 * (int32 count, then per token a uint32 length and its bytes); then each tensor as int32 n_dims,
 * int32 name length, int32 ggml type, n_dims int32 extents (ggml order: the row length first), the
 * name, the data.
 */

const GGML_FILE_MAGIC = 0x67676d6c;
const F32 = 0;
const F16 = 1;

/** Token ids of a multilingual whisper vocabulary (n_vocab 51865, 99 languages). */
export const WHISPER_TOKENS = {
  nVocab: 51865,
  /** Tokens below this id are text (byte-level BPE); <|endoftext|>, <|startoftranscript|>, the languages, tasks and timestamps follow. */
  textTokens: 50257,
  /** <|en|>: the first language token (sot + 1 + language id). */
  english: 50259,
  /** <|0.00|>; timestamp token k is beg + k and means k·20 ms, up to <|30.00|>. */
  beg: 50364,
} as const;

/**
 * What the tiny model transcribes any speech-length audio (up to 30 s) as: one vocabulary token,
 * planted so that greedy decoding picks it with near certainty.
 */
export const TINY_WHISPER_TRANSCRIPT = " The tiny whisper model heard you.";

interface Tensor {
  readonly name: string;
  /** ggml order: dims[0] is the row length. */
  readonly dims: readonly number[];
  readonly type: typeof F32 | typeof F16;
  readonly data: Float32Array;
}

/**
 * GPT-2's byte order for the first 256 tokens (its bytes_to_unicode table): printable bytes first,
 * then the rest, so token 220 is the space that whisper.cpp looks up by text (" ") to suppress blanks.
 */
function byteTokens(): Buffer[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const rest: number[] = [];
  for (let b = 0; b < 256; b++) if (!printable.includes(b)) rest.push(b);
  return [...printable, ...rest].map((b) => Buffer.from([b]));
}

const WORDS = (
  "the be to of and a in that have I it for not on with he as you do at this but his by from they we say her she or an will my " +
  "one all would there their what so up out if about who get which go me when make can like time no just him know take people " +
  "into year your good some could them see other than then now look only come its over think also back after use two how our work " +
  "first well way even new want because any these give day most us is are was were been has had did said hello world yes okay"
).split(" ");

/**
 * 50257 text tokens: the 256 bytes (any text tokenizes), common English words with and without a
 * leading space, the planted transcript, then distinct fillers up to the real vocabulary's size so
 * every special-token id matches a real multilingual model.
 */
function vocabulary(): { tokens: Buffer[]; transcriptId: number } {
  const tokens = byteTokens();
  // One-letter words are byte tokens already.
  for (const w of WORDS) tokens.push(Buffer.from(` ${w}`), ...(w.length > 1 ? [Buffer.from(w)] : []));
  const transcriptId = tokens.length;
  tokens.push(Buffer.from(TINY_WHISPER_TRANSCRIPT));
  while (tokens.length < WHISPER_TOKENS.textTokens) tokens.push(Buffer.from(` tok${tokens.length}`));
  return { tokens, transcriptId };
}

/** Slaney-style mel scale (librosa's default, which whisper's filters come from). */
function hzToMel(hz: number): number {
  return hz < 1000 ? (3 * hz) / 200 : 15 + Math.log(hz / 1000) / (Math.log(6.4) / 27);
}
function melToHz(mel: number): number {
  return mel < 15 ? (200 * mel) / 3 : 1000 * Math.exp((Math.log(6.4) / 27) * (mel - 15));
}

/** librosa.filters.mel(sr=16000, n_fft=400, n_mels=80): triangles with Slaney area normalisation. */
function melFilters(nMel: number, nFft: number, sampleRate: number): Float32Array {
  const bins = nFft / 2 + 1;
  const out = new Float32Array(nMel * bins);
  const top = hzToMel(sampleRate / 2);
  const edges = Array.from({ length: nMel + 2 }, (_, i) => melToHz((top * i) / (nMel + 1)));
  for (let m = 0; m < nMel; m++) {
    const [lo, mid, hi] = [edges[m]!, edges[m + 1]!, edges[m + 2]!];
    const norm = 2 / (hi - lo);
    for (let k = 0; k < bins; k++) {
      const f = (k * sampleRate) / nFft;
      const w = Math.max(0, Math.min((f - lo) / (mid - lo), (hi - f) / (hi - mid)));
      out[m * bins + k] = w * norm;
    }
  }
  return out;
}

export interface TinyWhisperOptions {
  /** Same seed → byte-identical file. Default 1. */
  readonly seed?: number;
}

/**
 * A tiny multilingual whisper model (1 encoder and 1 decoder layer, 64 wide, the real 51865-token
 * vocabulary layout, 80 mel bins, 1500 audio positions, a 32-token text context; 8 MB) that
 * the real whisper-server loads and runs end to end.
 *
 * The weights are random except for one plant, made because whisper.cpp falls back to sampling
 * (random between requests) when greedy decoding is unsure: the decoder's final layer norm emits a
 * fixed direction, and the output embeddings of four tokens point along it, so every decoding step
 * sees the same confident logits — <|30.00|> 30, <|0.00|> 27, the transcript token 25, <|en|> 10,
 * everything else near 0. whisper's timestamp rules then yield `<|0.00|> transcript <|30.00|>`:
 * an English transcription (or translation) of TINY_WHISPER_TRANSCRIPT in three decoding steps,
 * average log-probability about -0.06, no temperature fallback.
 */
export function buildTinyWhisperModel(options: TinyWhisperOptions = {}): Buffer {
  const rand = prng(options.seed ?? 1);
  // Uniform with a standard deviation of 0.02 (a typical init scale): cheap for 3.5 million weights.
  const weight = (): number => (rand() * 2 - 1) * 0.02 * Math.sqrt(3);
  const nState = 64, nHead = 1, nAudioCtx = 1500, nTextCtx = 32, nMels = 80, nLayers = 1;
  const { tokens, transcriptId } = vocabulary();
  const nVocab = WHISPER_TOKENS.nVocab;

  const random = (name: string, dims: number[], type: typeof F32 | typeof F16 = F16): Tensor => {
    const data = new Float32Array(dims.reduce((a, d) => a * d, 1));
    for (let i = 0; i < data.length; i++) data[i] = weight();
    return { name, dims, type, data };
  };
  const filled = (name: string, length: number, value: number): Tensor => ({ name, dims: [length], type: F32, data: new Float32Array(length).fill(value) });
  const vector = (name: string, length = nState) => random(name, [length], F32);
  // A pre-norm transformer block (attention, optionally cross-attention, MLP), as whisper names it.
  const block = (prefix: string, cross: boolean): Tensor[] => {
    const attention = (p: string) => [
      filled(`${p}_ln.weight`, nState, 1), filled(`${p}_ln.bias`, nState, 0),
      random(`${p}.query.weight`, [nState, nState]), vector(`${p}.query.bias`),
      random(`${p}.key.weight`, [nState, nState]),
      random(`${p}.value.weight`, [nState, nState]), vector(`${p}.value.bias`),
      random(`${p}.out.weight`, [nState, nState]), vector(`${p}.out.bias`),
    ];
    return [
      ...attention(`${prefix}.attn`),
      ...(cross ? attention(`${prefix}.cross_attn`) : []),
      filled(`${prefix}.mlp_ln.weight`, nState, 1), filled(`${prefix}.mlp_ln.bias`, nState, 0),
      random(`${prefix}.mlp.0.weight`, [nState, 4 * nState]), vector(`${prefix}.mlp.0.bias`, 4 * nState),
      random(`${prefix}.mlp.2.weight`, [4 * nState, nState]), vector(`${prefix}.mlp.2.bias`),
    ];
  };

  // The plant: final norm weight 0 on dimension 0 and bias e0, so the decoder's output always has
  // 1 there; token embeddings (tied with the output projection) carry each planted logit on it.
  const lnWeight = random("decoder.ln.weight", [nState], F32);
  lnWeight.data[0] = 0;
  const lnBias = filled("decoder.ln.bias", nState, 0);
  lnBias.data[0] = 1;
  const embedding = random("decoder.token_embedding.weight", [nState, nVocab]);
  const planted: [number, number][] = [
    [WHISPER_TOKENS.beg + 1500, 30],
    [WHISPER_TOKENS.beg, 27],
    [transcriptId, 25],
    [WHISPER_TOKENS.english, 10],
  ];
  for (const [token, logit] of planted) embedding.data[token * nState] = logit;

  const tensors: Tensor[] = [
    random("encoder.positional_embedding", [nState, nAudioCtx], F32),
    random("encoder.conv1.weight", [3, nMels, nState]),
    random("encoder.conv1.bias", [1, nState], F32),
    random("encoder.conv2.weight", [3, nState, nState]),
    random("encoder.conv2.bias", [1, nState], F32),
    filled("encoder.ln_post.weight", nState, 1),
    filled("encoder.ln_post.bias", nState, 0),
    ...Array.from({ length: nLayers }, (_, i) => block(`encoder.blocks.${i}`, false)).flat(),
    random("decoder.positional_embedding", [nState, nTextCtx], F32),
    embedding,
    lnWeight,
    lnBias,
    ...Array.from({ length: nLayers }, (_, i) => block(`decoder.blocks.${i}`, true)).flat(),
  ];

  const chunks: Buffer[] = [];
  const ints = (...values: number[]) => {
    const b = Buffer.alloc(4 * values.length);
    values.forEach((v, i) => b.writeInt32LE(v, 4 * i));
    chunks.push(b);
  };
  const floats = (data: Float32Array) => chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  ints(GGML_FILE_MAGIC | 0);
  // ftype 1: matrices F16, norms, biases and positional embeddings F32 (what the loader expects).
  ints(nVocab, nAudioCtx, nState, nHead, nLayers, nTextCtx, nState, nHead, nLayers, nMels, 1);
  ints(nMels, 201);
  floats(melFilters(nMels, 400, 16_000));
  ints(tokens.length);
  for (const t of tokens) {
    ints(t.length);
    chunks.push(t);
  }
  for (const t of tensors) {
    const name = Buffer.from(t.name);
    ints(t.dims.length, name.length, t.type, ...t.dims);
    chunks.push(name);
    if (t.type === F32) floats(t.data);
    else {
      const half = new Uint16Array(t.data.length);
      for (let i = 0; i < t.data.length; i++) half[i] = toHalf(t.data[i]!);
      chunks.push(Buffer.from(half.buffer));
    }
  }
  return Buffer.concat(chunks);
}

/** Writes the tiny whisper model to `path` (name it `ggml-*.bin`); returns its size in bytes. */
export async function writeTinyWhisperModel(path: string, options: TinyWhisperOptions = {}): Promise<number> {
  const bytes = buildTinyWhisperModel(options);
  await writeFile(path, bytes);
  return bytes.length;
}
