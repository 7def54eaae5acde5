import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// Helpers for the control-plane tests: the gateway as a real process (built JS), and a stand-in
// node agent that speaks the node protocol with plain fetch.

export const GATEWAY_MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
export const CLI_MAIN = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const LISTENING = /omnigate gateway listening on (http:\/\/\S+)/;

export interface Json {
  status: number;
  // Tests read arbitrary answer shapes.
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Headers;
}

export async function http(url: string, method: string, credential?: string | null, body?: unknown): Promise<Json> {
  const headers: Record<string, string> = {};
  if (credential) headers.authorization = `Bearer ${credential}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

/** A temp dir removed by cleanup(). */
export function tempDir(prefix: string, cleanup: Cleanup): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Teardown steps run in reverse order, each even if another failed. */
export class Cleanup {
  readonly #steps: Array<() => unknown> = [];
  add(step: () => unknown): void {
    this.#steps.push(step);
  }
  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length) throw new AggregateError(errors, "cleanup failed");
  }
}

export class GatewayProcess {
  #output = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    output: string,
  ) {
    this.#output = output;
    child.stdout?.on("data", (c: Buffer) => (this.#output += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (this.#output += c.toString()));
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once("exit", (code, signal) => resolve({ code, signal }));
    });
  }

  /** Everything it wrote to stdout and stderr so far. */
  get output(): string {
    return this.#output;
  }

  /** Starts `node dist/main.js` on port 0 and waits for its listening line. */
  static async start(dataDir: string, cleanup: Cleanup, env: Record<string, string> = {}): Promise<GatewayProcess> {
    const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, OMNIGATE_PORT: "0", OMNIGATE_HOST: "127.0.0.1", OMNIGATE_DATA_DIR: dataDir, LOG_LEVEL: "debug", ...env };
    const child = spawn(process.execPath, [GATEWAY_MAIN], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    cleanup.add(() => stopProcess(child));
    let output = "";
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway did not start within 15 s:\n${output}`)), 15_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = LISTENING.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          child.stdout?.off("data", onData);
          child.stderr?.off("data", onData);
          resolve(match[1]);
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`gateway exited (${code}) before listening:\n${output}`));
      });
    });
    return new GatewayProcess(child, url, output);
  }

  /** SIGTERM, as an orchestrator would; resolves with how it exited. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    await stopProcess(this.child);
    return this.exited;
  }

  call(method: string, path: string, credential?: string | null, body?: unknown): Promise<Json> {
    return http(`${this.url}${path}`, method, credential, body);
  }
}

/** SIGTERM, then SIGKILL after 5 s; never throws. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A stand-in node agent: registers and heartbeats over plain HTTP like the real agent does. */
export class FakeNode {
  readonly runtimeId = randomUUID();
  secret = "";
  models: Array<Record<string, unknown>> = [];

  constructor(
    private readonly gatewayUrl: () => string,
    private readonly nodeToken: string,
    readonly runtimes: string[],
    readonly agentUrl = "http://127.0.0.1:9",
  ) {}

  get registration() {
    return {
      runtime_id: this.runtimeId,
      supported_runtimes: this.runtimes,
      loaded_models: {},
      agent_url: this.agentUrl,
      hostname: "fake-gpu-box",
      version: "test",
    };
  }

  async register(): Promise<Json> {
    const res = await http(`${this.gatewayUrl()}/api/nodes/register`, "POST", this.nodeToken, this.registration);
    if (res.status === 200) this.secret = res.body.node_secret;
    return res;
  }

  heartbeat(models = this.models): Promise<Json> {
    this.models = models;
    return http(`${this.gatewayUrl()}/api/nodes/${this.runtimeId}/heartbeat`, "POST", this.secret, { ...this.registration, models });
  }
}

/** Polls `check` until it returns a value (not undefined), at most `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
