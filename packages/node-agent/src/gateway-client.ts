import { readFile } from "node:fs/promises";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import axios, { type AxiosInstance } from "axios";
import { ERROR_CODES } from "@omnigate/shared/errors";
import { CLUSTER_SERVER_NAME, ClusterCaInfo } from "@omnigate/shared/tls";
import { caFingerprint } from "@omnigate/server-kit/x509";
import {
  HeartbeatResponse,
  RegisterResponse,
  type Heartbeat,
  type NodeRegistration,
} from "@omnigate/shared/node-protocol";

/**
 * A control-plane call that may fail routinely (gateway down, restarted): the caller decides.
 * `fatal`: retrying cannot help, the agent must not join this gateway (a pinned CA that differs).
 */
export type GatewayResult<T> =
  | { readonly ok: true; readonly data: T }
  | { readonly ok: false; readonly error: string; readonly status?: number; readonly code?: string; readonly fatal?: boolean };

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
  /**
   * The pinned cluster CA (OMNIGATE_CA_FINGERPRINT). Unset: an https gateway is trusted by the
   * system's CA store. Set: the first contact fetches the CA, checks its fingerprint, and every
   * call after it (the node token's first) verifies the gateway's certificate against that CA.
   */
  readonly pin?: string | undefined;
}

/** TLS verification failures where the likely fix is a pin (the gateway serves its cluster certificate). */
const UNTRUSTED = new Set(["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"]);

/** The agent's side of the node protocol (docs/architecture.md, "The node protocol"), over axios. */
export class GatewayClient {
  readonly #http: AxiosInstance;
  readonly #tokenSource: NodeTokenSource;
  readonly #pin: string | undefined;
  /** The agent that verifies the gateway by the pinned CA, once the first contact checked it. */
  #pinned: HttpsAgent | undefined;

  constructor(options: GatewayClientOptions) {
    this.#tokenSource = options.tokenSource;
    this.#pin = options.pin;
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

  /**
   * The first contact of a pinned agent: the CA, fetched without verifying the gateway (nothing
   * secret is sent) and compared with the pin. Only a match yields the agent every later call uses,
   * which verifies the gateway's certificate against that CA under the cluster name.
   */
  async #trust(signal: AbortSignal | undefined): Promise<GatewayResult<HttpsAgent | undefined>> {
    if (this.#pin === undefined || this.#pinned) return { ok: true, data: this.#pinned };
    let info: ClusterCaInfo;
    try {
      const res = await this.#http.get("/api/cluster/ca", {
        httpsAgent: new HttpsAgent({ keepAlive: false, rejectUnauthorized: false, servername: CLUSTER_SERVER_NAME }),
        ...(signal ? { signal } : {}),
      });
      const parsed = ClusterCaInfo.safeParse(res.data);
      if (res.status !== 200 || !parsed.success) return { ok: false, status: res.status, error: `GET /api/cluster/ca answered ${res.status} without the cluster CA` };
      info = parsed.data;
    } catch (err) {
      return { ok: false, error: describeFailure(err) };
    }
    let fingerprint: string;
    try {
      fingerprint = caFingerprint(info.certificate);
    } catch {
      return { ok: false, error: "GET /api/cluster/ca answered with a certificate that does not parse" };
    }
    if (fingerprint !== this.#pin) {
      return {
        ok: false,
        fatal: true,
        error: `the gateway at ${this.#http.defaults.baseURL} presents cluster CA ${fingerprint}, not the pinned OMNIGATE_CA_FINGERPRINT ${this.#pin}. Either the fingerprint is wrong (\`omnigate cluster ca\` on the gateway prints it), or something between this box and the gateway impersonates it: the agent does not join.`,
      };
    }
    this.#pinned = new HttpsAgent({ keepAlive: false, ca: info.certificate, servername: CLUSTER_SERVER_NAME });
    return { ok: true, data: this.#pinned };
  }

  async #post<T>(
    path: string,
    credential: string,
    body: unknown,
    schema: { safeParse(data: unknown): { success: true; data: T } | { success: false; error: { message: string } } },
    signal: AbortSignal | undefined,
  ): Promise<GatewayResult<T>> {
    const trust = await this.#trust(signal);
    if (!trust.ok) return trust;
    try {
      const res = await this.#http.post(path, body, {
        headers: { authorization: `Bearer ${credential}` },
        ...(trust.data ? { httpsAgent: trust.data } : {}),
        ...(signal ? { signal } : {}),
      });
      if (res.status >= 200 && res.status < 300) {
        const parsed = schema.safeParse(res.data);
        if (!parsed.success) return { ok: false, error: `unexpected answer from the gateway: ${parsed.error.message}`, status: res.status };
        return { ok: true, data: parsed.data };
      }
      const { message, code } = describeErrorBody(res.data);
      return { ok: false, status: res.status, error: message ?? `HTTP ${res.status}`, ...(code ? { code } : {}) };
    } catch (err) {
      return { ok: false, error: describeFailure(err, this.#pin === undefined) };
    }
  }
}

/** No answer at all: refused, reset, timed out, or a certificate this box does not trust (with what to do). */
function describeFailure(err: unknown, systemTrust = false): string {
  const e = err as { code?: string; message?: string };
  const text = e.code ? `${e.code}: ${e.message ?? ""}`.trim() : String(e.message ?? err);
  if (systemTrust && e.code && UNTRUSTED.has(e.code)) {
    return `${text}. This box's CA store does not trust the gateway's certificate; if the gateway serves its own (from its cluster CA), set OMNIGATE_CA_FINGERPRINT to what \`omnigate cluster ca\` prints.`;
  }
  return text;
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
