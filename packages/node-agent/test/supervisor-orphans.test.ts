// Engines of an agent that was SIGKILLed outlive it (their own process group); the next agent start
// reaps them from the pid files — and only them. Runs the built supervisor (dist/) in a child agent.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { FIXTURES, TempDirs, isAlive, testLogger, waitUntil } from "./fixtures/engines/harness.js";
import { PidFiles } from "../src/supervisor/pid-files.js";

const temps = new TempDirs();
const children: ChildProcess[] = [];
const strayPids: number[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const pid of strayPids.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await temps.cleanup();
});

/** Starts the agent-like script; resolves with its process and a reader of its JSON event lines. */
function startAgent(args: string[]): { child: ChildProcess; next: (event: string) => Promise<Record<string, unknown>> } {
  const child = spawn(process.execPath, [join(FIXTURES, "agent-like.mjs"), ...args], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const events: Record<string, unknown>[] = [];
  lines.on("line", (line) => events.push(JSON.parse(line) as Record<string, unknown>));
  return {
    child,
    async next(event) {
      await waitUntil(() => events.some((e) => e.event === event || e.event === "failed"), 20_000, `agent event '${event}'`);
      const found = events.find((e) => e.event === event);
      if (!found) throw new Error(`agent reported ${JSON.stringify(events)}`);
      return found;
    },
  };
}

describe("engines left behind by a SIGKILLed agent", () => {
  it("are stopped when the agent starts again", async () => {
    const dir = await temps.make();
    const stateDir = join(dir, "state");
    const modelDir = join(dir, "model");
    await mkdir(modelDir, { recursive: true });
    await writeFile(join(modelDir, "model.gguf"), "GGUF");

    const first = startAgent([stateDir, modelDir]);
    const { pid } = (await first.next("ready")) as { pid: number };
    strayPids.push(pid);
    expect(await isAlive(pid)).toBe(true);
    first.child.kill("SIGKILL");
    await once(first.child, "exit");
    // The orphan really survives its agent: that is the problem being solved.
    await new Promise((r) => setTimeout(r, 300));
    expect(await isAlive(pid)).toBe(true);
    expect(await readdir(join(stateDir, "engines"))).toHaveLength(1);

    const second = startAgent([stateDir, modelDir, "--reap-only"]);
    await second.next("init");
    expect(await isAlive(pid)).toBe(false);
    expect(await readdir(join(stateDir, "engines"))).toEqual([]);
    second.child.kill("SIGTERM");
    await once(second.child, "exit");
  });

  it("never kill a process that is not the recorded engine (a reused pid)", async () => {
    const dir = await temps.make();
    const bystander = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    children.push(bystander);
    await once(bystander, "spawn");
    const pids = new PidFiles(join(dir, "engines"), testLogger());
    // A stale record whose pid now belongs to some other program.
    await pids.write("tiny", bystander.pid!, ["/opt/engines/llama-server", "-m", "/x.gguf", "--port", "41234"]);
    expect(await pids.reap(500)).toBe(0);
    expect(await isAlive(bystander.pid!)).toBe(true);
    expect(await readdir(join(dir, "engines"))).toEqual([]);
  });
});
