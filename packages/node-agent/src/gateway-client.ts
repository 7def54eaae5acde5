import { readFile } from "node:fs/promises";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import axios, { type AxiosInstance } from "axios";
import { ERROR_CODES } from "@omnigate/shared/errors";
import {
  HeartbeatResponse,
  RegisterResponse,
  type Heartbeat,
  type NodeRegistration,
} from "@omnigate/shared/node-protocol";

/** A control-plane call that may fail routinely (gateway down, restarted): the caller decides. */
export type GatewayResult<T> =
  | { readonly ok: true; readonly data: T }
  | { readonly ok: false; readonly error: string; readonly status?: number; readonly code?: string };

export class NodeTokenError extends Error {
  override name = "NodeTokenError";
}

/** Where the node token comes from: the variable, else a file (the gateway writes one on first start). */
export interface NodeTokenSource {
  readonly token?: string | undefined;
  readonly file?: string | undefined;
}

/**
 * Reads the node token. The file is read on every call so an agent started before the gateway
 * generated its token picks it up on a later registration attempt.
 */
export async function readNodeToken(source: NodeTokenSource): Promise<string> {
  if (source.token) return source.token;
  if (!source.file) {
    throw new NodeTokenError(
      "No node token: set OMNIGATE_NODE_TOKEN to the gateway's node token, or OMNIGATE_NODE_TOKEN_FILE to the file the gateway wrote it to.",
    );
  }
  let text: string;
  try {
    text = await readFile(source.file, "utf8");
  } catch (err) {
    throw new NodeTokenError(
      `Cannot read the node token file ${source.file} (${(err as NodeJS.ErrnoException).code ?? String(err)}). Start the gateway once so it writes the file, or set OMNIGATE_NODE_TOKEN.`,
    );
  }
  const token = text.trim();
  if (token.length < 16) throw new NodeTokenError(`The node token file ${source.file} holds no token of at least 16 characters.`);
  return token;
}

export interface GatewayClientOptions {
  readonly baseUrl: string;
  readonly tokenSource: NodeTokenSource;
  /** A hung gateway (SIGSTOP, network partition) must not stall the loop forever. */
  readonly timeoutMs?: number;
}

/** The agent's side of the node protocol (docs/architecture.md, "The node protocol"), over axios. */
export class GatewayClient {
  readonly #http: AxiosInstance;
  readonly #tokenSource: NodeTokenSource;

  constructor(options: GatewayClientOptions) {
    this.#tokenSource = options.tokenSource;
    this.#http = axios.create({
      baseURL: options.baseUrl.replace(/\/+$/, ""),
      timeout: options.timeoutMs ?? 10_000,
      // Every status is an answer to decide on, not an exception.
      validateStatus: () => true,
      // The gateway is reached directly; an HTTP(S)_PROXY meant for the hub must not divert it.
      proxy: false,
      maxRedirects: 0,
      // One call every few seconds: a fresh connection each time costs nothing and never races the
      // gateway's keep-alive timeout (a reused socket closed under us reads as "gateway down").
      httpAgent: new HttpAgent({ keepAlive: false }),
      httpsAgent: new HttpsAgent({ keepAlive: false }),
      headers: { "content-type": "application/json" },
    });
  }

  async register(body: NodeRegistration, signal?: AbortSignal): Promise<GatewayResult<RegisterResponse>> {
    let token: string;
    try {
      token = await readNodeToken(this.#tokenSource);
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
    return this.#post("/api/nodes/register", token, body, RegisterResponse, signal);
  }

  async heartbeat(runtimeId: string, secret: string, body: Heartbeat, signal?: AbortSignal): Promise<GatewayResult<HeartbeatResponse>> {
    return this.#post(`/api/nodes/${encodeURIComponent(runtimeId)}/heartbeat`, secret, body, HeartbeatResponse, signal);
  }

  async #post<T>(
    path: string,
    credential: string,
    body: unknown,
    schema: { safeParse(data: unknown): { success: true; data: T } | { success: false; error: { message: string } } },
    signal: AbortSignal | undefined,
  ): Promise<GatewayResult<T>> {
    try {
      const res = await this.#http.post(path, body, { headers: { authorization: `Bearer ${credential}` }, ...(signal ? { signal } : {}) });
      if (res.status >= 200 && res.status < 300) {
        const parsed = schema.safeParse(res.data);
        if (!parsed.success) return { ok: false, error: `unexpected answer from the gateway: ${parsed.error.message}`, status: res.status };
        return { ok: true, data: parsed.data };
      }
      const { message, code } = describeErrorBody(res.data);
      return { ok: false, status: res.status, error: message ?? `HTTP ${res.status}`, ...(code ? { code } : {}) };
    } catch (err) {
      // No answer at all: refused, reset, timed out.
      const e = err as { code?: string; message?: string };
      return { ok: false, error: e.code ? `${e.code}: ${e.message ?? ""}`.trim() : String(e.message ?? err) };
    }
  }
}

function describeErrorBody(data: unknown): { message?: string; code?: string } {
  const error = (data as { error?: { message?: unknown; code?: unknown } } | undefined)?.error;
  if (!error || typeof error !== "object") return {};
  const out: { message?: string; code?: string } = {};
  if (typeof error.message === "string") out.message = error.message.slice(0, 500);
  if (typeof error.code === "string" && error.code in ERROR_CODES) out.code = error.code;
  return out;
}

/** The gateway no longer knows this node (restarted, or forgot it): register again. */
export function isForgotten(result: { ok: false; status?: number; code?: string }): boolean {
  return result.status === 401 || (result.status === 404 && (result.code === undefined || result.code === "node_not_found"));
}
