/**
 * The environment an engine process gets: an allow-list, never the agent's whole environment (which
 * holds the node token, HF_TOKEN…). What engines legitimately read: locale, paths, and the GPU and
 * threading runtimes' variables.
 */
const NAMES = new Set(["PATH", "HOME", "USER", "LANG", "LANGUAGE", "TZ", "TMPDIR", "LD_LIBRARY_PATH", "SHELL"]);
const PREFIXES = ["LC_", "CUDA_", "NVIDIA_", "HIP_", "ROCR_", "HSA_", "GPU_", "GGML_", "VK_", "OMP_", "MKL_", "OPENBLAS_", "ORT_"];

/** `extra` is OMNIGATE_ENGINE_ENV_PASS: "NAME,OTHER,PREFIX_*". */
export function buildEngineEnv(extra: string, source: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const names = new Set(NAMES);
  const prefixes = [...PREFIXES];
  for (const item of extra.split(",").map((s) => s.trim()).filter(Boolean)) {
    if (item.endsWith("*")) prefixes.push(item.slice(0, -1));
    else names.add(item);
  }
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if (names.has(key) || prefixes.some((p) => p.length > 0 && key.startsWith(p))) env[key] = value;
  }
  return env;
}
