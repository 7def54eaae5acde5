import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestProcess, type SpawnOptions } from "./test-process.js";

/**
 * The one cleanup scope of the suites: collects what a test starts (processes, servers, temp dirs)
 * and tears it all down, even after a failure:
 * `const scope = new TestScope(); afterEach(() => scope.cleanup());`
 * Order: processes stop first (together: they may hold the servers and dirs below), then the
 * deferred steps, newest first, each even if another failed, then the temp dirs go.
 */
export class TestScope {
  readonly #processes: TestProcess[] = [];
  readonly #steps: (() => unknown)[] = [];
  readonly #dirs: string[] = [];

  track<P extends TestProcess>(p: P): P {
    this.#processes.push(p);
    return p;
  }

  /** Spawns `program` (`node program` unless `direct`) and tracks it. */
  spawn(program: string, options: SpawnOptions): TestProcess {
    return this.track(new TestProcess(program, options));
  }

  /** A teardown step: closing a server, a hub, a cache. */
  defer(step: () => unknown): void {
    this.#steps.push(step);
  }

  async tempDir(prefix = "og-test-"): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.#dirs.push(dir);
    return dir;
  }

  /** The output of every tracked process, for a failure message. */
  diagnostics(): string {
    return this.#processes.map((p) => p.tail(30)).join("\n");
  }

  async cleanup(): Promise<void> {
    const processes = this.#processes.splice(0);
    await Promise.allSettled(processes.map((p) => p.stop(3_000)));
    const errors: unknown[] = [];
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    const dirs = this.#dirs.splice(0);
    await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true, maxRetries: 3 })));
    if (errors.length) throw new AggregateError(errors, "test cleanup failed");
  }
}
