import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { Logger } from "../logger.js";
import type { OneShotContext, OneShotResult } from "../engines/types.js";
import { LineTail } from "./log-tail.js";

export interface OneShotRunnerOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly tailLines: number;
  /** Kill a run that takes longer (0 = no limit). */
  readonly timeoutMs: number;
  readonly ffmpeg: string | undefined;
}

/**
 * Runs one-shot engines (sherpa-onnx-offline-tts, sd-cli, ffmpeg): argv array, the engine
 * environment, output into the log, killed (with its process group) when the client goes away or
 * the run exceeds the request timeout.
 */
export function createOneShotContext(options: OneShotRunnerOptions): OneShotContext {
  return {
    logger: options.logger,
    ffmpeg: options.ffmpeg,
    async tempDir() {
      const path = await mkdtemp(join(tmpdir(), "omnigate-oneshot-"));
      return { path, cleanup: () => rm(path, { recursive: true, force: true }).catch(() => undefined) };
    },
    run(argv, { cwd, signal }) {
      return new Promise<OneShotResult>((resolve, reject) => {
        const [bin, ...args] = argv;
        if (!bin) return reject(new Error("empty argv"));
        if (signal.aborted) return reject(signal.reason ?? new Error("aborted"));
        const log = options.logger.child({ engine: basename(bin) });
        const tail = new LineTail(options.tailLines, (stream, line) => log.debug({ stream }, line));
        const child = spawn(bin, args, { cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
        child.stdout.on("data", (c: Buffer) => tail.push("stdout", c));
        child.stderr.on("data", (c: Buffer) => tail.push("stderr", c));
        let timedOut = false;
        const kill = () => {
          if (child.pid === undefined || child.exitCode !== null) return;
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            child.kill("SIGKILL");
          }
        };
        const onAbort = () => kill();
        signal.addEventListener("abort", onAbort, { once: true });
        const timer =
          options.timeoutMs > 0
            ? setTimeout(() => {
                timedOut = true;
                kill();
              }, options.timeoutMs)
            : undefined;
        const finish = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
        };
        child.once("error", (err) => {
          if (child.pid !== undefined) return;
          finish();
          reject(new Error(`${basename(bin)} could not be started: ${err.message}`));
        });
        child.once("close", (code, sig) => {
          finish();
          tail.end();
          if (signal.aborted) return reject(signal.reason ?? new Error("aborted"));
          const last = tail.last(8);
          resolve({ code, signal: sig, tail: timedOut ? `timed out after ${Math.round(options.timeoutMs / 1000)}s. ${last}` : last });
        });
      });
    },
  };
}
