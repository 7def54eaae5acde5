import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the scripted gateway saw. */
export interface SeenRequest {
  readonly path: string;
  readonly authorization: string | undefined;
  readonly body: Record<string, unknown>;
  readonly at: number;
}

/** `when`: the answer waits in the script for a request whose body it accepts (others get the default). */
export type ScriptedAnswer = { status: number; body: unknown; when?: (body: Record<string, unknown>) => boolean } | "hang";

/**
 * A real HTTP server on 127.0.0.1:0 that speaks the gateway's node protocol with answers the test
 * scripts (for the heartbeat loop's unit test; the cross-process tests use the real gateway).
 */
export class ScriptedGateway {
  readonly requests: SeenRequest[] = [];
  /** Requests being answered right now, and the most seen at once. */
  inFlight = 0;
  maxInFlight = 0;
  /** Overrides for the next register / heartbeat answers, used first-in first-out. */
  readonly registerScript: ScriptedAnswer[] = [];
  readonly heartbeatScript: ScriptedAnswer[] = [];
  /** Heartbeat answers wait for this while set. */
  hold: Promise<void> | undefined;
  desired: unknown[] = [];
  intervalMs = 60_000;
  #server: Server;
  #secrets = 0;
  #hanging: ServerResponse[] = [];

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(port = 0): Promise<ScriptedGateway> {
    const server = createServer();
    const gateway = new ScriptedGateway(server);
    server.on("request", (req, res) => void gateway.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    return gateway;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** The secret handed out by the n-th registration (1-based). */
  secret(n: number): string {
    return `secret-${n}-0123456789abcdef`;
  }

  seen(kind: "register" | "heartbeat"): SeenRequest[] {
    return this.requests.filter((r) => r.path.endsWith(kind === "register" ? "/register" : "/heartbeat"));
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
      const path = req.url ?? "";
      this.requests.push({ path, authorization: req.headers.authorization, body, at: Date.now() });
      let answer: ScriptedAnswer;
      if (path === "/api/nodes/register") {
        answer = takeFor(this.registerScript, body) ?? {
          status: 200,
          body: { runtime_id: body.runtime_id, node_secret: this.secret(++this.#secrets), heartbeat_interval_ms: this.intervalMs },
        };
      } else if (/^\/api\/nodes\/[^/]+\/heartbeat$/.test(path)) {
        if (this.hold) await this.hold;
        answer = takeFor(this.heartbeatScript, body) ?? { status: 200, body: { models: this.desired, heartbeat_interval_ms: this.intervalMs } };
      } else {
        answer = { status: 404, body: { error: { message: "no such route", type: "not_found_error", code: "not_found" } } };
      }
      if (answer === "hang") {
        this.#hanging.push(res);
        return;
      }
      res.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(answer.body));
    } finally {
      this.inFlight--;
    }
  }
}

/** The script's next answer, unless it waits for another request (`when`). */
function takeFor(script: ScriptedAnswer[], body: Record<string, unknown>): ScriptedAnswer | undefined {
  const next = script[0];
  if (next === undefined || (next !== "hang" && next.when && !next.when(body))) return undefined;
  return script.shift();
}

export function errorAnswer(status: number, code: string, message = code): ScriptedAnswer {
  return { status, body: { error: { message, type: "x", code } } };
}

/** A minimal node registration for the unit tests that speak to a scripted gateway. */
export const registration = {
  runtime_id: "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f",
  supported_runtimes: [],
  loaded_models: { llm: [], asr: [], tts: [], image: [] },
  agent_url: "http://127.0.0.1:9",
  hostname: "box",
  version: "0",
};
