/**
 * The fake node agent (`packages/testkit/agent/fake-agent.mjs`) as a process a test drives: it
 * speaks the agent's data-plane contract and answers with what it received, and misbehaves on
 * request (see the top of the .mjs for the modes).
 */
import { join } from "node:path";
import { REPO_ROOT } from "./cluster.js";
import type { TestScope } from "./scope.js";
import type { TestProcess } from "./test-process.js";

export const FAKE_AGENT = join(REPO_ROOT, "packages/testkit/agent/fake-agent.mjs");

export interface FakeAgentConfig {
  secret?: string;
  name?: string;
  mode?: "ok" | "status" | "reset" | "hang" | "die_mid_stream" | "hold";
  status?: number;
  code?: string;
  chunks?: number;
  chunkBytes?: number;
  holdAfter?: number;
  pingFirst?: boolean;
}

export interface FakeAgentStats {
  requests: number;
  in_flight: number;
  max_in_flight: number;
  aborted: number;
  last: { path: string; request_id: string | null; content_type: string | null; bytes: number; sha256: string } | null;
}

export class FakeAgent {
  private constructor(
    readonly process: TestProcess,
    readonly url: string,
  ) {}

  /** Starts one (port 0) whose answers carry `name`; the scope stops it. */
  static async start(scope: TestScope, name: string): Promise<FakeAgent> {
    const process = scope.spawn(FAKE_AGENT, { name: `fake-agent ${name}`, env: { FAKE_NAME: name, PORT: "0" } });
    const [, port] = await process.waitForLine(/"port":(\d+)/);
    return new FakeAgent(process, `http://127.0.0.1:${port}`);
  }

  async #call<T>(path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    return (await res.json()) as T;
  }

  config(config: FakeAgentConfig): Promise<unknown> {
    return this.#call("/_fake/config", config);
  }

  stats(): Promise<FakeAgentStats> {
    return this.#call("/_fake/stats");
  }

  /** Lets held streams ("hold" mode) continue. */
  release(): Promise<unknown> {
    return this.#call("/_fake/release", {});
  }

  /** SIGKILL: the agent's box is gone. */
  async stop(): Promise<void> {
    await this.process.kill();
  }
}
