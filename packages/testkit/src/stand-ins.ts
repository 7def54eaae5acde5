/**
 * Stand-in engine binaries for cross-process tests: the executable `.mjs` programs under
 * packages/testkit/engines (mode 755, `#!/usr/bin/env node`), configured directly as the agent's
 * OMNIGATE_*_BIN so the supervisor's orphan reaping recognises them by their command line.
 */
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { REPO_ROOT } from "./cluster.js";

export const ENGINE_FIXTURES = join(REPO_ROOT, "packages/testkit/engines");

export type StandInName = "llama-server" | "whisper-server" | "sd-server" | "sd-cli" | "sherpa-onnx-offline-tts" | "nvidia-smi";

/** The path of one stand-in, e.g. to run it directly or to configure it as an engine binary. */
export function standin(name: StandInName): string {
  return join(ENGINE_FIXTURES, `${name}.mjs`);
}

/** Which fixture stands in for which engine variable. */
export const STAND_IN_ENGINES = {
  OMNIGATE_LLAMA_SERVER_BIN: "llama-server.mjs",
  OMNIGATE_WHISPER_SERVER_BIN: "whisper-server.mjs",
  OMNIGATE_SD_SERVER_BIN: "sd-server.mjs",
  OMNIGATE_SD_CLI_BIN: "sd-cli.mjs",
  OMNIGATE_TTS_BIN: "sherpa-onnx-offline-tts.mjs",
  OMNIGATE_NVIDIA_SMI_BIN: "nvidia-smi.mjs",
} as const;
export type EngineVariable = keyof typeof STAND_IN_ENGINES;

/**
 * Env for an agent whose engines are the stand-ins: `{ OMNIGATE_LLAMA_SERVER_BIN: <fixture path>, … }`.
 * The variables not asked for point at a path that does not exist, so the agent supports exactly
 * the runtimes asked for whatever is installed on this machine's PATH.
 */
export function standInEngineEnv(variables: readonly EngineVariable[] = ["OMNIGATE_LLAMA_SERVER_BIN"]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [v, fixture] of Object.entries(STAND_IN_ENGINES) as [EngineVariable, string][]) {
    env[v] = variables.includes(v) ? join(ENGINE_FIXTURES, fixture) : `/nonexistent/${fixture.replace(/\.mjs$/, "")}`;
  }
  // The stand-ins' STANDIN_* knobs reach the engines through the agent's env allow-list.
  env.OMNIGATE_ENGINE_ENV_PASS = "STANDIN_*";
  return env;
}

/** A real program on PATH (ffmpeg, an engine), for suites that use it when it is installed. */
export async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
