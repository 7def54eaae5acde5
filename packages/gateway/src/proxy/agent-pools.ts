import { Pool, type buildConnector } from "undici";

export interface AgentPoolOptions {
  /** Most sockets to one agent. */
  readonly connections: number;
  readonly connectTimeoutMs: number;
  /** How connections to https agents are opened: mutual TLS with the cluster CA (tls/agent-connector.ts). */
  readonly connectTls: buildConnector.connector;
}

/**
 * One keep-alive undici Pool per agent origin, made on first use. Pools of agents no longer
 * registered are closed when the fleet changes, so a gateway that sees many agents come and go
 * holds sockets only for the current ones.
 */
export class AgentPools {
  readonly #pools = new Map<string, Pool>();
  readonly #options: AgentPoolOptions;

  constructor(options: AgentPoolOptions) {
    this.#options = options;
  }

  get(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.#options.connections,
        connect: origin.startsWith("https:") ? this.#options.connectTls : { timeout: this.#options.connectTimeoutMs },
        // Timeouts are the proxy's own (first byte vs idle gap); undici's would cut a cold engine.
        headersTimeout: 0,
        bodyTimeout: 0,
        // One request per socket at a time: a slow stream must not hold up the next request.
        pipelining: 1,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  /** Closes (gracefully: in-flight requests finish) the pools of origins not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const [origin, pool] of this.#pools) {
      if (keep.has(origin)) continue;
      this.#pools.delete(origin);
      pool.close().catch(() => {});
    }
  }

  /** Cuts every connection to `origin` at once, in-flight requests included (its node was removed). */
  drop(origin: string): void {
    const pool = this.#pools.get(origin);
    if (!pool) return;
    this.#pools.delete(origin);
    pool.destroy().catch(() => {});
  }

  /** Lets in-flight requests finish for `graceMs`, then cuts them. */
  async close(graceMs: number): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(
      pools.map(async (pool) => {
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
        await Promise.race([pool.close().catch(() => {}), grace]);
        clearTimeout(timer);
        await pool.destroy().catch(() => {});
      }),
    );
  }
}
