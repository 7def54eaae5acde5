/** Small typed HTTP calls against a running gateway or agent (real fetch, no retries; HTTPS verified by a given CA). */
import { Agent, fetch as undiciFetch } from "undici";
import type { CreatedApiKey } from "@omnigate/shared/admin";
import type { OpenAIErrorBody } from "@omnigate/shared/errors";
import type { DeleteModelResponse, ModelList, ModelListEntry, ModelRecord, RegisterModelRequest } from "@omnigate/shared/models";
import type { NodeView } from "@omnigate/shared/node-protocol";

export interface HttpResult<T> {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON when the body is JSON, else the text. */
  readonly body: T;
}

/** One keep-alive dispatcher per trusted CA, so a suite's calls reuse connections. */
const dispatchers = new Map<string, Agent>();

/** A dispatcher that trusts `ca` (PEM) for HTTPS; for the `openai` client's `fetchOptions` too. */
export function trusting(ca: string): Agent {
  let agent = dispatchers.get(ca);
  if (!agent) dispatchers.set(ca, (agent = new Agent({ connect: { ca } })));
  return agent;
}

export async function httpJson<T = unknown>(
  url: string,
  init: { method?: string; token?: string | null; json?: unknown; headers?: Record<string, string>; timeoutMs?: number; ca?: string | undefined } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.json !== undefined) headers["content-type"] = "application/json";
  const res = await undiciFetch(url, {
    method: init.method ?? (init.json !== undefined ? "POST" : "GET"),
    headers,
    ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
    ...(init.ca ? { dispatcher: trusting(init.ca) } : {}),
    signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  let body: unknown = text;
  if ((res.headers.get("content-type") ?? "").includes("json")) body = text ? JSON.parse(text) : undefined;
  // undici's Headers is the one global fetch uses, typed apart.
  return { status: res.status, headers: res.headers as unknown as Headers, body: body as T };
}

/** The gateway's admin and model API, with the admin key unless another token is given. */
export class GatewayApi {
  /** `ca`: what an https gateway's certificate is checked against (its cluster CA, or a test front door's CA). */
  constructor(readonly gateway: { readonly url: string; readonly adminKey: string; readonly ca?: string }) {}

  #call<T>(path: string, init: Parameters<typeof httpJson>[1] = {}): Promise<HttpResult<T>> {
    return httpJson<T>(`${this.gateway.url}${path}`, { token: this.gateway.adminKey, ca: this.gateway.ca, ...init });
  }

  registerModel(body: RegisterModelRequest): Promise<HttpResult<ModelRecord & OpenAIErrorBody>> {
    return this.#call("/api/models", { json: body });
  }

  listModels(token?: string): Promise<HttpResult<ModelList>> {
    return this.#call("/v1/models", token ? { token } : {});
  }

  async model(name: string, token?: string): Promise<ModelListEntry | undefined> {
    const res = await this.#call<ModelListEntry>(`/v1/models/${name}`, token ? { token } : {});
    return res.status === 200 ? res.body : undefined;
  }

  deleteModel(name: string): Promise<HttpResult<DeleteModelResponse & OpenAIErrorBody>> {
    return this.#call(`/v1/models/${name}`, { method: "DELETE" });
  }

  async nodes(): Promise<NodeView[]> {
    const res = await this.#call<NodeView[]>("/api/nodes");
    if (res.status !== 200) throw new Error(`GET /api/nodes answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  }

  async node(runtimeId: string): Promise<NodeView | undefined> {
    return (await this.nodes()).find((n) => n.runtime_id === runtimeId);
  }

  async createKey(name: string): Promise<CreatedApiKey> {
    const res = await this.#call<CreatedApiKey>("/api/keys", { json: { name } });
    if (res.status !== 201) throw new Error(`POST /api/keys answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Any call, admin key by default. */
  call<T = unknown>(path: string, init: Parameters<typeof httpJson>[1] = {}): Promise<HttpResult<T>> {
    return this.#call<T>(path, init);
  }
}
