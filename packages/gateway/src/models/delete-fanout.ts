import { request, type Dispatcher } from "undici";
import { AgentDeleteResponse } from "@omnigate/shared/node-protocol";
import type { NodeDeleteOutcome } from "@omnigate/shared/models";
import type { Logger } from "../logger.js";
import type { NodeEntry } from "../nodes/node-registry.js";

type TellResult = { ok: true; data: AgentDeleteResponse } | { ok: false; error: string; status?: number };

export interface AgentCallOptions {
  readonly timeoutMs: number;
  /** Opens the connection: mutual TLS with the cluster CA for an https agent. */
  readonly dispatcher: Dispatcher;
}

/**
 * Tells every node at once to delete `model`. A node that cannot be told (down, slow, erroring)
 * is `deferred`: its next heartbeat's desired set no longer holds the model, so it cleans up then.
 */
export async function tellNodesToDelete(
  nodes: readonly NodeEntry[],
  model: string,
  call: AgentCallOptions,
  logger: Logger,
): Promise<NodeDeleteOutcome[]> {
  return Promise.all(
    nodes.map(async (node): Promise<NodeDeleteOutcome> => {
      const result = await tellNode(node, model, call);
      if (result.ok) return { runtime_id: node.runtimeId, outcome: "deleted" };
      logger.warn({ runtime_id: node.runtimeId, model, error: result.error, status: result.status }, "node not told to delete; it will at its next heartbeat");
      return { runtime_id: node.runtimeId, outcome: "deferred", error: result.error };
    }),
  );
}

async function tellNode(node: NodeEntry, model: string, { timeoutMs, dispatcher }: AgentCallOptions): Promise<TellResult> {
  const url = new URL(`api/models/${encodeURIComponent(model)}`, withSlash(node.registration.agent_url));
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await request(url, {
      method: "DELETE",
      headers: { authorization: `Bearer ${node.secret}` },
      dispatcher,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode >= 300) {
      return { ok: false, error: `agent answered ${res.statusCode}: ${text.slice(0, 200)}`, status: res.statusCode };
    }
    const parsed = AgentDeleteResponse.safeParse(safeJson(text));
    if (!parsed.success) return { ok: false, error: "agent answered with an unexpected body", status: res.statusCode };
    return { ok: true, data: parsed.data };
  } catch (err) {
    const reason = signal.aborted ? `no answer within ${timeoutMs} ms` : describe(err);
    return { ok: false, error: `could not reach the agent at ${node.registration.agent_url}: ${reason}` };
  }
}

/** `new URL("api/x", "http://h:1/prefix")` would drop `prefix`; a trailing slash keeps it. */
function withSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  return e.code ?? e.cause?.code ?? e.message ?? String(err);
}
