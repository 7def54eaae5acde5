import { randomUUID } from "node:crypto";
import { startGateway, type GatewayProcess } from "@omnigate/testkit/cluster";
import { httpJson } from "@omnigate/testkit/gateway-api";
import type { TestScope } from "@omnigate/testkit/scope";

// Helpers for the control-plane tests: the gateway as a real process (built JS) with the settings of
// a fresh install, and a stand-in node agent that speaks the node protocol with plain fetch.

export interface Json {
  status: number;
  // Tests read arbitrary answer shapes.
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Headers;
}

/** One JSON call; `credential` goes in `Authorization: Bearer`. */
export async function call(baseUrl: string, method: string, path: string, credential?: string | null, body?: unknown): Promise<Json> {
  const res = await httpJson(`${baseUrl}${path}`, { method, token: credential ?? null, ...(body === undefined ? {} : { json: body }) });
  return { status: res.status, body: res.body === "" ? null : res.body, headers: res.headers };
}

export interface ControlGateway extends GatewayProcess {
  call(method: string, path: string, credential?: string | null, body?: unknown): Promise<Json>;
}

/**
 * `node dist/main.js` on port 0 as a fresh install runs it: credentials generated into the data dir,
 * the default heartbeat and node timeouts (unless `env` says otherwise), debug logging, every output
 * line kept (tests search the whole log for secrets).
 */
export async function startControlGateway(scope: TestScope, options: { dataDir?: string; env?: Record<string, string> } = {}): Promise<ControlGateway> {
  const gw = await startGateway(scope, {
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    adminKey: null,
    nodeToken: null,
    heartbeatIntervalMs: 5_000,
    nodeTimeoutMs: 15_000,
    env: { LOG_LEVEL: "debug", ...options.env },
    keepLines: Number.POSITIVE_INFINITY,
  });
  return Object.assign(gw, { call: (method: string, path: string, credential?: string | null, body?: unknown) => call(gw.url, method, path, credential, body) });
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
    const res = await call(this.gatewayUrl(), "POST", "/api/nodes/register", this.nodeToken, this.registration);
    if (res.status === 200) this.secret = res.body.node_secret;
    return res;
  }

  heartbeat(models = this.models): Promise<Json> {
    this.models = models;
    return call(this.gatewayUrl(), "POST", `/api/nodes/${this.runtimeId}/heartbeat`, this.secret, { ...this.registration, models });
  }
}
