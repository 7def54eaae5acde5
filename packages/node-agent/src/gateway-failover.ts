import type { Heartbeat, HeartbeatResponse, NodeRegistration, RegisterResponse } from "@omnigate/shared/node-protocol";
import type { GatewayClient, GatewayResult } from "./gateway-client.js";
import type { Logger } from "./logger.js";

/** `OMNIGATE_GATEWAY_URL`'s gateways: one URL, or several separated by commas. */
export function gatewayUrls(value: string): string[] {
  return value
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u.length > 0);
}

/** Worth another gateway: no answer at all (refused, reset, timed out), or one that is down or overloaded. */
function tryElsewhere(result: Extract<GatewayResult<unknown>, { ok: false }>): boolean {
  if (result.fatal) return false;
  return result.status === undefined || result.status === 502 || result.status === 503 || result.status === 504;
}

/**
 * Registration and heartbeats against several gateways of one cluster (they share the state: a
 * node registered through one heartbeats to any). Calls stay with the gateway that answered last;
 * when it gives no answer, or 502/503/504, the same call goes to the next one at once, each
 * gateway once per call. Answers that would be the same everywhere (4xx: a bad token, a forgotten
 * node) come back as they are.
 */
export class GatewayFailover implements Pick<GatewayClient, "register" | "heartbeat"> {
  #current = 0;

  constructor(
    private readonly clients: ReadonlyArray<{ readonly url: string; readonly client: Pick<GatewayClient, "register" | "heartbeat"> }>,
    private readonly logger: Logger,
  ) {
    if (clients.length === 0) throw new Error("no gateway to talk to");
  }

  /** The gateway calls go to now. */
  get url(): string {
    return this.clients[this.#current]!.url;
  }

  register(body: NodeRegistration, signal?: AbortSignal): Promise<GatewayResult<RegisterResponse>> {
    return this.#call((c) => c.register(body, signal));
  }

  heartbeat(runtimeId: string, secret: string, body: Heartbeat, signal?: AbortSignal): Promise<GatewayResult<HeartbeatResponse>> {
    return this.#call((c) => c.heartbeat(runtimeId, secret, body, signal));
  }

  async #call<T>(fn: (client: Pick<GatewayClient, "register" | "heartbeat">) => Promise<GatewayResult<T>>): Promise<GatewayResult<T>> {
    let result: GatewayResult<T> | undefined;
    const failures: string[] = [];
    for (let tried = 0; tried < this.clients.length; tried++) {
      const index = (this.#current + tried) % this.clients.length;
      const { url, client } = this.clients[index]!;
      result = await fn(client);
      if (result.ok || !tryElsewhere(result)) {
        if (index !== this.#current) {
          this.logger.warn({ gateway: url, after: failures }, "moved to another gateway");
          this.#current = index;
        }
        return result;
      }
      failures.push(`${url}: ${result.error}`);
    }
    // Every gateway failed: the caller backs off; the next call starts with the next gateway.
    this.#current = (this.#current + 1) % this.clients.length;
    if (this.clients.length > 1 && result && !result.ok) return { ...result, error: failures.join("; ") };
    return result!;
  }
}
