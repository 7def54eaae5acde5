import type { ModelRecord } from "@omnigate/shared/models";
import type { CachedModel } from "../cache/types.js";
import { filePath, filesMatching, requireFile } from "./model-files.js";

// Which files of a stable-diffusion repo the engine loads: the same for sd-server and sd-cli.

export interface SdModelFiles {
  readonly model: string;
  readonly vae?: string;
}

/** The checkpoint (and a separate VAE when the repo has one). */
export function sdModelFiles(model: ModelRecord, files: CachedModel): SdModelFiles {
  const weights = filesMatching(files, /\.(safetensors|ckpt|gguf)$/i);
  const vae = weights.find((f) => /(^|[._-])(vae|ae)([._-]|$)/i.test(f.split("/").pop() ?? ""));
  const main = weights.filter((f) => f !== vae && !/(taesd|lora|clip|t5xxl|controlnet)/i.test(f));
  return {
    model: requireFile(model, files, main, "stable-diffusion checkpoint (.safetensors, .ckpt or .gguf)"),
    ...(vae ? { vae: filePath(files, vae) } : {}),
  };
}
