import { posix } from "node:path";
import type { RuntimeType } from "./runtimes.js";

/**
 * GGUF repos hold one file (or one set of shards) per quantization, often a dozen of them and
 * together many times the size of one. The default follows llama.cpp's own `-hf <repo>`: Q4_K_M,
 * else what comes closest to it in size and quality, else the first variant.
 */
export const QUANT_PREFERENCE = [
  "Q4_K_M", "Q4_K_S", "IQ4_XS", "IQ4_NL", "Q4_0", "Q5_K_M", "Q5_K_S", "Q5_0", "Q6_K", "Q8_0",
  "Q3_K_L", "Q3_K_M", "IQ3_M", "Q3_K_S", "IQ3_XS", "Q2_K", "IQ2_M", "BF16", "F16", "F32",
] as const;

const GGUF = /\.gguf$/i;
const PROJECTOR = /mmproj/i;
const SHARD = /-\d{5}-of-\d{5}(?=\.gguf$)/i;

/** A quantization label as a whole token of a path: `-Q4_K_M.`, `/Q4_K_M/`, but not `Q4_0_4_4` for Q4_0. */
function hasQuant(path: string, quant: string): boolean {
  return new RegExp(`(?:^|[-._/])${quant}(?=[-./]|$)`, "i").test(path);
}

/**
 * llama_cpp's default: one model variant (every shard of it) and, when the repo has a multimodal
 * projector, one projector (F16 when there is a choice), as `llama-server -hf` downloads them.
 * A repo with no `.gguf` at all is refused before anything is downloaded.
 */
export function pickGgufVariant(paths: readonly string[]): string[] {
  const sorted = [...paths].sort();
  const ggufs = sorted.filter((p) => GGUF.test(p));
  const models = ggufs.filter((p) => !PROJECTOR.test(posix.basename(p)));
  if (models.length === 0) {
    const some = sorted.slice(0, 8).join(", ") || "no files";
    throw new Error(`it has no .gguf model file for llama-server (it has ${some}${sorted.length > 8 ? ", …" : ""}); register a GGUF repo, or name the files with 'files'`);
  }
  const variants = new Map<string, string[]>();
  for (const p of models) {
    const key = p.replace(SHARD, "");
    variants.set(key, [...(variants.get(key) ?? []), p]);
  }
  const keys = [...variants.keys()];
  const chosen = QUANT_PREFERENCE.map((q) => keys.find((k) => hasQuant(k, q))).find((k) => k !== undefined) ?? keys[0]!;
  const projectors = ggufs.filter((p) => PROJECTOR.test(posix.basename(p)));
  const projector = projectors.find((p) => hasQuant(posix.basename(p), "F16")) ?? projectors[0];
  return [...variants.get(chosen)!, ...(projector ? [projector] : [])];
}

/**
 * What to take of a repo when a model names no `files`: the repo's file paths in, the paths to use
 * out; throws (with the reason) when nothing in the repo can serve. The agent pulls this pick and
 * the gateway estimates the memory of the same pick, so both come from here.
 */
export type DefaultFiles = (paths: readonly string[]) => string[];

const DEFAULTS: Partial<Record<RuntimeType, DefaultFiles>> = { llama_cpp: pickGgufVariant };

/** The default file pick of a runtime, if it has one (the others take the whole repo). */
export function defaultFilesFor(runtime: RuntimeType): DefaultFiles | undefined {
  return DEFAULTS[runtime];
}
