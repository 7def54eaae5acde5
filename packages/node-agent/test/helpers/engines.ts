/**
 * Stand-in engine binaries for cross-process tests. The fixtures are plain `.mjs` programs; the
 * agent wants an executable path (OMNIGATE_*_BIN), so each gets a tiny `sh` wrapper that execs this
 * very Node binary on the fixture (no reliance on the fixture's mode bits or `node` on PATH).
 */
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO_ROOT } from "./stack.js";
import type { TestScope } from "./processes.js";

export const ENGINE_FIXTURES = join(REPO_ROOT, "packages/node-agent/test/fixtures/engines");

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

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Writes an executable wrapper running `fixture` (a file under test/fixtures/engines) and returns its path. */
export async function standInBinary(scope: TestScope, fixture: string, dir?: string): Promise<string> {
  const where = dir ?? (await scope.tempDir("og-bin-"));
  const path = join(where, fixture.replace(/\.mjs$/, ""));
  await writeFile(path, `#!/bin/sh\nexec ${shellQuote(process.execPath)} ${shellQuote(join(ENGINE_FIXTURES, fixture))} "$@"\n`);
  await chmod(path, 0o755);
  return path;
}

/**
 * Env for an agent whose engines are the stand-ins: `{ OMNIGATE_LLAMA_SERVER_BIN: <wrapper>, … }`.
 * The variables not asked for point at a path that does not exist, so the agent supports exactly
 * the runtimes asked for whatever is installed on this machine's PATH.
 */
export async function standInEngineEnv(scope: TestScope, variables: readonly EngineVariable[] = ["OMNIGATE_LLAMA_SERVER_BIN"]): Promise<Record<string, string>> {
  const dir = await scope.tempDir("og-bin-");
  const env: Record<string, string> = {};
  for (const [v, fixture] of Object.entries(STAND_IN_ENGINES) as [EngineVariable, string][]) {
    env[v] = variables.includes(v) ? await standInBinary(scope, fixture, dir) : `/nonexistent/${fixture.replace(/\.mjs$/, "")}`;
  }
  return env;
}
