import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "../logger.js";
import { LineTail } from "./log-tail.js";

/** Why an engine process ended. */
export interface ExitReason {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when it could not be started at all (ENOENT, EACCES). */
  readonly error?: string;
}

export function describeExit(reason: ExitReason): string {
  if (reason.error) return `could not start: ${reason.error}`;
  return reason.signal ? `killed by ${reason.signal}` : `exit code ${reason.code}`;
}

export interface SpawnOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Engine-prefixed child logger; each output line goes to it at debug level. */
  readonly logger: Logger;
  readonly tailLines: number;
  readonly cwd?: string;
}

/** Sends a signal to the engine's process group (it may have children), falling back to the pid. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/**
 * One engine process: argv array (never a shell), an explicit environment, output piped line by line
 * into the log with the last lines kept, an exit promise, and a stop that escalates and never throws.
 */
export class EngineProcess {
  readonly exited: Promise<ExitReason>;
  readonly tail: LineTail;
  private readonly child: ChildProcess;
  private exitReason: ExitReason | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(argv: readonly string[], options: SpawnOptions) {
    const [bin, ...args] = argv;
    if (!bin) throw new Error("empty argv");
    const log = options.logger;
    this.tail = new LineTail(options.tailLines, (stream, line) => log.debug({ stream }, line));
    // Own process group: stop() reaches the engine's children too, and a Ctrl-C meant for the agent
    // does not hit the engines before the agent decides to stop them.
    this.child = spawn(bin, args, { env: options.env, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"], detached: true });
    this.child.stdout?.on("data", (chunk: Buffer) => this.tail.push("stdout", chunk));
    this.child.stderr?.on("data", (chunk: Buffer) => this.tail.push("stderr", chunk));
    this.exited = new Promise((resolve) => {
      const done = (reason: ExitReason) => {
        if (this.exitReason) return;
        this.exitReason = reason;
        this.tail.end();
        resolve(reason);
      };
      this.child.once("error", (err) => {
        // 'error' without a pid: it never started. With a pid, 'exit' follows and reports.
        if (this.child.pid === undefined) done({ code: null, signal: null, error: err.message });
      });
      this.child.once("exit", (code, signal) => done({ code, signal }));
    });
  }

  static spawn(argv: readonly string[], options: SpawnOptions): EngineProcess {
    return new EngineProcess(argv, options);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitReason === undefined && this.child.pid !== undefined;
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process is gone. Never throws. */
  stop(timeoutMs: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    this.stopping ??= (async () => {
      signalGroup(this.child, "SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        signalGroup(this.child, "SIGKILL");
        // A process stuck in the kernel (D state) may outlive even SIGKILL for a while: don't hang on it.
        await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
      }
    })().catch(() => undefined);
    return this.stopping;
  }
}
