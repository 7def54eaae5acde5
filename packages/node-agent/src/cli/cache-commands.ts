import { join } from "node:path";
import type { Command } from "commander";
import { pino } from "pino";
import { createLogger } from "@omnigate/server-kit/logger";
import type { DownloadProgress } from "@omnigate/shared/models";
import { RuntimeType } from "@omnigate/shared/runtimes";
import { CacheEnv, type CacheConfig } from "../cache/cache-env.js";
import { formatBytes } from "../cache/cache-errors.js";
import { modelCacheOptions } from "../cache/create-model-cache.js";
import { HfModelCache } from "../cache/model-cache.js";
import { removeRepo } from "../cache/cache-remove.js";
import { verifyCache } from "../cache/cache-verify.js";
import { formatEnvErrors } from "@omnigate/shared/validation";
import { defaultFilesFor } from "@omnigate/shared/default-files";
import type { Logger } from "../logger.js";
import { progressOutput } from "./cache-progress.js";

/** Where the commands write; tests and main.ts may pass their own. */
export interface CacheCommandIo {
  readonly env?: NodeJS.ProcessEnv;
  readonly stdout?: NodeJS.WriteStream;
  readonly stderr?: NodeJS.WriteStream;
}

/** Reported as "error: <message>" with exit code 1 (2 for bad configuration). */
class CliFailure extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

function config(env: NodeJS.ProcessEnv): CacheConfig {
  const parsed = CacheEnv.safeParse(env);
  if (!parsed.success) throw new CliFailure(formatEnvErrors(parsed.error), 2);
  return parsed.data;
}

/** Logs go to stderr so stdout stays the list of paths a script can consume. */
function cliLogger(env: NodeJS.ProcessEnv): Logger {
  return createLogger("omnigate-agent", env.LOG_LEVEL ?? "warn", pino.destination(2));
}

function openCache(io: CacheCommandIo, cacheDir: string | undefined): HfModelCache {
  const env = io.env ?? process.env;
  const logger = cliLogger(env);
  return new HfModelCache(modelCacheOptions(config(env), logger, cacheDir ? { cacheDir } : {}, env));
}

/** Runs a command body: typed errors become one line and an exit code, never a stack trace. */
async function run(io: CacheCommandIo, body: () => Promise<number>): Promise<void> {
  const stderr = io.stderr ?? process.stderr;
  try {
    process.exitCode = await body();
  } catch (err) {
    const e = err as Error & { exitCode?: number };
    const aborted = e.name === "AbortError";
    stderr.write(`error: ${aborted ? "interrupted (partial downloads are kept and resume next time)" : e.message}\n`);
    process.exitCode = aborted ? 130 : (e.exitCode ?? 1);
  }
}

/**
 * `pull`, `verify` and `rm`: ops pre-pull models onto a box before it joins, check a cache, and
 * clear a repo. Registered on the agent's program by main.ts.
 */
export function registerCacheCommands(program: Command, io: CacheCommandIo = {}): Command {
  const out = (): NodeJS.WriteStream => io.stdout ?? process.stdout;
  const err = (): NodeJS.WriteStream => io.stderr ?? process.stderr;
  const collect = (value: string, previous: string[]): string[] => [...previous, value];

  program
    .command("pull")
    .description("download a model from the Hugging Face Hub into the cache and verify it")
    .argument("<repo>", "Hugging Face repo id, org/name")
    .option("-f, --file <path-or-glob>", "a file or glob inside the repo (repeatable; default: every file)", collect, [])
    .option("-r, --revision <rev>", "branch, tag or commit", "main")
    .option("--runtime <runtime>", `without --file, pull what the agent pulls for a model of this runtime registered without 'files' (llama_cpp: one quantization, Q4_K_M first); one of ${RuntimeType.options.join(", ")}`)
    .option("--cache-dir <dir>", "hub cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub)")
    .action((repo: string, opts: { file: string[]; revision: string; runtime?: string; cacheDir?: string }) =>
      run(io, async () => {
        const runtime = opts.runtime === undefined ? undefined : RuntimeType.safeParse(opts.runtime);
        if (runtime && !runtime.success) throw new CliFailure(`--runtime must be one of ${RuntimeType.options.join(", ")}, not '${opts.runtime}'`, 2);
        const defaultFiles = runtime ? defaultFilesFor(runtime.data) : undefined;
        const cache = openCache(io, opts.cacheDir);
        const controller = new AbortController();
        const onSignal = (): void => controller.abort();
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        const progress = progressOutput(`pull ${repo}`, err());
        const started = performance.now();
        let last: DownloadProgress | undefined;
        try {
          const model = await cache.pull(
            { repo, revision: opts.revision, files: opts.file },
            { signal: controller.signal, onProgress: (p) => progress.update((last = p)), ...(defaultFiles ? { defaultFiles } : {}) },
          );
          progress.done();
          for (const f of model.files) out().write(`${join(model.snapshotDir, f)}\n`);
          const seconds = (performance.now() - started) / 1000;
          const size = last ? `, ${formatBytes(last.total)} in ${seconds.toFixed(2)} s` : "";
          err().write(`pulled ${repo}@${model.commit} (${model.files.length} file${model.files.length === 1 ? "" : "s"}${size}) into ${cache.layout.root}\n`);
          return 0;
        } finally {
          progress.done();
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          await cache.close();
        }
      }),
    );

  program
    .command("verify")
    .description("re-check size, sha256 and GGUF headers of cached files; --fix removes corrupt ones")
    .argument("[repo]", "only this repo (default: every model in the cache)")
    .option("--fix", "remove corrupt files so the next pull downloads them again", false)
    .option("--cache-dir <dir>", "hub cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub)")
    .action((repo: string | undefined, opts: { fix: boolean; cacheDir?: string }) =>
      run(io, async () => {
        const cache = openCache(io, opts.cacheDir);
        try {
          const findings = await verifyCache(cache.layout, {
            repo,
            fix: opts.fix,
            lockStaleMs: cache.options.lockStaleMs,
            onFinding: (f) => {
              const where = `${f.repo}@${f.commit.slice(0, 10)} ${f.path}`;
              if (!f.problem) out().write(`ok       ${where}\n`);
              else out().write(`${f.removed ? "removed " : "CORRUPT "} ${where}: ${f.problem}\n`);
            },
          });
          const bad = findings.filter((f) => f.problem);
          const left = bad.filter((f) => !f.removed);
          err().write(
            `checked ${findings.length} file${findings.length === 1 ? "" : "s"} in ${cache.layout.root}: ` +
              (bad.length === 0 ? "all good\n" : `${bad.length} corrupt${opts.fix ? `, ${bad.length - left.length} removed` : " (run with --fix to remove them)"}\n`),
          );
          return left.length > 0 ? 1 : 0;
        } finally {
          await cache.close();
        }
      }),
    );

  program
    .command("rm")
    .description("remove a repo from the cache (every revision and file)")
    .argument("<repo>", "Hugging Face repo id, org/name")
    .option("--cache-dir <dir>", "hub cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub)")
    .action((repo: string, opts: { cacheDir?: string }) =>
      run(io, async () => {
        const cache = openCache(io, opts.cacheDir);
        try {
          const existed = await removeRepo(cache.layout, repo, { lockStaleMs: cache.options.lockStaleMs, log: cliLogger(io.env ?? process.env) });
          err().write(existed ? `removed ${repo} from ${cache.layout.root}\n` : `${repo} is not in ${cache.layout.root}\n`);
          return 0;
        } finally {
          await cache.close();
        }
      }),
    );
  return program;
}
