// Engines of an agent that was SIGKILLed outlive it (their own process group); the next agent start
// reaps them from the pid files — and only them. Runs the built supervisor (dist/) in a child agent.
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { TestScope } from "@omnigate/testkit/scope";
import type { TestProcess } from "@omnigate/testkit/test-process";
import { waitFor } from "@omnigate/testkit/wait";
import { isAlive, testLogger } from "./helpers/engine-harness.js";
import { PidFiles } from "../src/supervisor/pid-files.js";

const AGENT_LIKE = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "agent-like.mjs");

const scope = new TestScope();
afterEach(() => scope.cleanup());

/** Kills `pid` at cleanup: an engine this test made an orphan on purpose. */
function reapLater(pid: number): void {
  scope.defer(() => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  });
}

/** Starts the agent-like script; resolves with its process and a reader of its JSON event lines. */
function startAgent(args: string[]): { child: TestProcess; next: (event: string) => Promise<Record<string, unknown>> } {
  const child = scope.spawn(AGENT_LIKE, { name: "agent-like", args });
  const events = () => child.lines.filter((l) => l.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    child,
    async next(event) {
      await waitFor(() => events().some((e) => e.event === event || e.event === "failed"), { timeoutMs: 20_000, what: `agent event '${event}'` });
      const found = events().find((e) => e.event === event);
      if (!found) throw new Error(`agent reported ${JSON.stringify(events())}`);
      return found;
    },
  };
}

describe("engines left behind by a SIGKILLed agent", () => {
  it("are stopped when the agent starts again", async () => {
    const dir = await scope.tempDir();
    const stateDir = join(dir, "state");
    const modelDir = join(dir, "model");
    await mkdir(modelDir, { recursive: true });
    await writeFile(join(modelDir, "model.gguf"), "GGUF");

    const first = startAgent([stateDir, modelDir]);
    const { pid } = (await first.next("ready")) as { pid: number };
    reapLater(pid);
    expect(await isAlive(pid)).toBe(true);
    await first.child.kill();
    // The orphan really survives its agent: that is the problem being solved.
    await new Promise((r) => setTimeout(r, 300));
    expect(await isAlive(pid)).toBe(true);
    expect(await readdir(join(stateDir, "engines"))).toHaveLength(1);

    const second = startAgent([stateDir, modelDir, "--reap-only"]);
    await second.next("init");
    expect(await isAlive(pid)).toBe(false);
    expect(await readdir(join(stateDir, "engines"))).toEqual([]);
    await second.child.stop();
  });

  it("never kill a process that is not the recorded engine (a reused pid)", async () => {
    const dir = await scope.tempDir();
    const bystander = scope.spawn("-e", { name: "bystander", args: ["setTimeout(() => {}, 60000)"] }).child;
    const pids = new PidFiles(join(dir, "engines"), testLogger());
    // A stale record whose pid now belongs to some other program.
    await pids.write("tiny", bystander.pid!, ["/opt/engines/llama-server", "-m", "/x.gguf", "--port", "41234"]);
    expect(await pids.reap(500)).toBe(0);
    expect(await isAlive(bystander.pid!)).toBe(true);
    expect(await readdir(join(dir, "engines"))).toEqual([]);
  });
});
