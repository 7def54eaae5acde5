import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** The variables huggingface_hub reads, by the names it reads them. */
export interface HfEnv {
  readonly HF_ENDPOINT?: string;
  readonly HF_TOKEN?: string;
  readonly HUGGING_FACE_HUB_TOKEN?: string;
  readonly HF_HOME?: string;
  readonly HF_HUB_CACHE?: string;
  readonly XDG_CACHE_HOME?: string;
  readonly HF_HUB_OFFLINE?: string;
}

/** `HF_ENDPOINT` without its trailing slashes, default https://huggingface.co. */
export function hubEndpoint(env: HfEnv): string {
  return (env.HF_ENDPOINT?.trim() || "https://huggingface.co").replace(/\/+$/, "");
}

/** `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface` (huggingface_hub constants.py). */
export function hfHome(env: HfEnv): string {
  if (env.HF_HOME?.trim()) return env.HF_HOME;
  const xdg = env.XDG_CACHE_HOME?.trim() || join(homedir(), ".cache");
  return join(xdg, "huggingface");
}

/** `HF_HUB_CACHE`, else `$HF_HOME/hub`. */
export function hubCacheDir(env: HfEnv): string {
  return env.HF_HUB_CACHE?.trim() || join(hfHome(env), "hub");
}

/** "1"/"true" (any case) mean offline, as in huggingface_hub. */
export function isOffline(env: HfEnv): boolean {
  return ["1", "true", "yes", "on"].includes((env.HF_HUB_OFFLINE ?? "").trim().toLowerCase());
}

/**
 * `HF_TOKEN`, else `HUGGING_FACE_HUB_TOKEN`, else the file `$HF_HOME/token` that `huggingface-cli
 * login` writes. Empty values count as unset.
 */
export function resolveHubToken(env: HfEnv): string | undefined {
  const direct = env.HF_TOKEN?.trim() || env.HUGGING_FACE_HUB_TOKEN?.trim();
  if (direct) return direct;
  try {
    return readFileSync(join(hfHome(env), "token"), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
