import { readFile, readdir, rm, writeFile, mkdir } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Logger } from "../logger.js";

/** What the agent records per engine process, so a later agent can tell it is ours. */
interface PidRecord {
  readonly pid: number;
  readonly argv: readonly string[];
  readonly model: string;
  readonly agentPid: number;
  readonly startedAt: number;
}

/** The command line of a live process, or undefined (gone, a zombie, or no /proc here). */
async function commandLine(pid: number): Promise<string[] | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // The state letter follows the parenthesised command name; Z = a zombie, already dead.
    if (/\)\s+Z\s/.test(stat)) return undefined;
    const raw = await readFile(`/proc/${pid}/cmdline`, "utf8");
    const parts = raw.split("\0");
    if (parts.at(-1) === "") parts.pop();
    return parts.length > 0 ? parts : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when `cmdline` is the process we started with `argv`: its arguments end with ours (which hold
 * the unique --port) and it runs our binary (directly, or through the interpreter of a script).
 */
export function isOurEngine(cmdline: readonly string[], argv: readonly string[]): boolean {
  const [bin, ...args] = argv;
  if (!bin || cmdline.length < argv.length) return false;
  const tail = cmdline.slice(cmdline.length - args.length);
  if (!args.every((a, i) => tail[i] === a)) return false;
  const head = cmdline.slice(0, cmdline.length - args.length);
  return head.some((part) => part === bin || basename(part) === basename(bin));
}

export function isAlive(pid: number): Promise<boolean> {
  return commandLine(pid).then((c) => c !== undefined);
}

/**
 * Pid files under `<state dir>/engines`: written when an engine starts, removed when it exits, and
 * reaped at agent start — so the engines of an agent that was SIGKILLed (they outlive it: their own
 * process group) do not keep GPUs and ports busy after the next start.
 */
export class PidFiles {
  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  async write(model: string, pid: number, argv: readonly string[]): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const safe = model.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 100);
    const path = join(this.dir, `${safe}.${pid}.json`);
    const record: PidRecord = { pid, argv, model, agentPid: process.pid, startedAt: Date.now() };
    await writeFile(path, JSON.stringify(record));
    return path;
  }

  async remove(path: string): Promise<void> {
    await rm(path, { force: true }).catch(() => undefined);
  }

  /** Kills every recorded engine that is still ours (SIGTERM, then SIGKILL); returns how many. */
  async reap(stopTimeoutMs: number): Promise<number> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith(".json"));
    } catch {
      return 0;
    }
    let killed = 0;
    await Promise.all(
      names.map(async (name) => {
        const path = join(this.dir, name);
        try {
          const record = JSON.parse(await readFile(path, "utf8")) as PidRecord;
          const cmdline = await commandLine(record.pid);
          if (cmdline && isOurEngine(cmdline, record.argv)) {
            this.logger.warn({ pid: record.pid, model: record.model }, "stopping an engine left behind by a previous agent");
            await killAndWait(record.pid, stopTimeoutMs);
            killed++;
          }
        } catch (err) {
          this.logger.warn({ err, path }, "unreadable engine pid file; removing it");
        }
        await this.remove(path);
      }),
    );
    return killed;
  }
}

async function killAndWait(pid: number, timeoutMs: number): Promise<void> {
  const send = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        // gone
      }
    }
  };
  send("SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isAlive(pid))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  send("SIGKILL");
  for (let i = 0; i < 100 && (await isAlive(pid)); i++) await new Promise((r) => setTimeout(r, 50));
}
