/**
 * Real child processes for cross-process tests: spawn a program (a Node script by default), collect
 * its output line by line, wait for a line, pause/resume/kill it, and make sure nothing outlives the
 * test run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";

/**
 * Variables a spawned program must not inherit from the test runner's environment (a stand-in's
 * STANDIN_* knobs too: each test or bench sets the ones it means).
 */
const PRIVATE_ENV = /^(OMNIGATE_|HF_|HUGGING_FACE_|STANDIN_|LOG_LEVEL$|NODE_OPTIONS$|VITEST|NODE_ENV$)/;

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** Shown in diagnostics (`[gateway] ...`). */
  readonly name: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly args?: readonly string[];
  readonly cwd?: string;
  /** How many output lines to keep for diagnostics. */
  readonly keepLines?: number;
  /** Run `program` itself (a native binary, an executable stand-in) instead of `node program`. */
  readonly direct?: boolean;
  /** Node's own flags, before `program` (`--cpu-prof`); not with `direct`. */
  readonly nodeArgs?: readonly string[];
  /** An IPC channel to the child (`child.send`, its `message` events), e.g. for a bench host. */
  readonly ipc?: boolean;
}

/** How a process ended, with everything it printed. */
export interface ProcessResult extends ExitInfo {
  readonly stdout: string;
  readonly stderr: string;
}

const live = new Set<ChildProcess>();
// If the test runner itself dies, take the children along (best effort, synchronous).
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** A spawned program whose output the test can wait on. */
export class TestProcess {
  readonly child: ChildProcess;
  readonly name: string;
  readonly exited: Promise<ExitInfo>;
  /** Output lines (stdout and stderr), newest last, bounded. */
  readonly lines: string[] = [];
  /** Everything printed on each stream (for CLIs whose stdout and stderr differ). */
  stdout = "";
  stderr = "";
  readonly #keep: number;
  #waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  #exit: ExitInfo | undefined;

  constructor(program: string, options: SpawnOptions) {
    this.name = options.name;
    this.#keep = options.keepLines ?? 2_000;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !PRIVATE_ENV.test(k)) env[k] = v;
    for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined) env[k] = v;
    const [command, args] = options.direct
      ? [program, options.args ?? []]
      : [process.execPath, [...(options.nodeArgs ?? []), program, ...(options.args ?? [])]];
    this.child = spawn(command, args, {
      env,
      cwd: options.cwd,
      stdio: options.ipc ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "pipe", "pipe"],
    });
    live.add(this.child);
    this.exited = new Promise<ExitInfo>((resolve) => {
      const done = (exit: ExitInfo) => {
        live.delete(this.child);
        this.#exit ??= exit;
        resolve(this.#exit);
      };
      this.child.once("exit", (code, signal) => done({ code, signal }));
      // A program that cannot start (ENOENT, EACCES) never exits: it ends here, its reason in the output.
      this.child.once("error", (err) => {
        this.#onLine(`spawn failed: ${err.message}`);
        done({ code: null, signal: null });
      });
    });
    this.child.stdout!.setEncoding("utf8").on("data", (text: string) => (this.stdout += text));
    this.child.stderr!.setEncoding("utf8").on("data", (text: string) => (this.stderr += text));
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on("line", (line) => this.#onLine(line));
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** stdout and stderr together, as far as `lines` keeps them. */
  get output(): string {
    return this.lines.join("\n");
  }

  /** Waits for the exit and for the last output to arrive through the pipes. */
  async result(): Promise<ProcessResult> {
    const exit = await this.exited;
    const drained = [this.child.stdout!, this.child.stderr!].map((s) => (s.readableEnded || s.destroyed ? undefined : once(s, "close")));
    // A grandchild holding the pipes open must not hang the test: a second is plenty for the rest.
    await Promise.race([Promise.all(drained), new Promise((r) => setTimeout(r, 1_000).unref())]);
    return { ...exit, stdout: this.stdout, stderr: this.stderr };
  }

  /** Resolves with the first line (already seen or coming) matching `re`; rejects on exit or timeout. */
  async waitForLine(re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    for (const line of this.lines) {
      const m = line.match(re);
      if (m) return m;
    }
    let timer: NodeJS.Timeout | undefined;
    let waiter: { re: RegExp; resolve: (m: RegExpMatchArray) => void } | undefined;
    try {
      return await Promise.race([
        new Promise<RegExpMatchArray>((resolve) => {
          waiter = { re, resolve };
          this.#waiters.push(waiter);
        }),
        this.exited.then((e) => {
          throw new Error(`${this.name} exited (${e.signal ?? e.code}) before printing ${re}\n${this.tail()}`);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${this.name} did not print ${re} within ${timeoutMs} ms\n${this.tail()}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
    }
  }

  /** The last output lines, for an assertion message. */
  tail(n = 40): string {
    return this.lines
      .slice(-n)
      .map((l) => `[${this.name}] ${l.length > 500 ? `${l.slice(0, 500)}…` : l}`)
      .join("\n");
  }

  /** SIGSTOP: the process stays alive but answers nothing (a hung or partitioned box). */
  pause(): void {
    if (this.running) this.child.kill("SIGSTOP");
  }

  resume(): void {
    if (this.running) this.child.kill("SIGCONT");
  }

  /** SIGTERM (graceful), then SIGKILL after `graceMs`. Resolves once it has exited. */
  async stop(graceMs = 8_000): Promise<ExitInfo> {
    if (!this.running) return this.exited;
    this.child.kill("SIGCONT");
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL: a crash, no cleanup. */
  async kill(): Promise<ExitInfo> {
    if (this.running) this.child.kill("SIGKILL");
    return this.exited;
  }

  #onLine(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.#keep) this.lines.splice(0, this.lines.length - this.#keep);
    for (const w of [...this.#waiters]) {
      const m = line.match(w.re);
      if (m) w.resolve(m);
    }
  }
}
