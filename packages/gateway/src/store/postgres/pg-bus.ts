import { EventEmitter } from "node:events";
import pg from "pg";
import type { Logger } from "../../logger.js";
import { NotLeaderError, type ClusterBus, type ClusterBusEvents, type ClusterMessage, type RowChange, type StoredRow, type TableName } from "../store-contract.js";
import { reasonOf } from "./pg-errors.js";
import { ALIVE_LOCK, LEADER_LOCK, LOCK_NAMESPACE } from "./pg-locks.js";
import { CHANNEL, packMessage, unpack } from "./pg-notify.js";

export interface PgBusOptions {
  readonly connectionString: string;
  readonly gatewayId: string;
  /** How often a follower tries to take the lead, and the leader checks its connection. */
  readonly leaderCheckMs: number;
  /** Sends notifications (gossip) without waiting for the session. */
  readonly pool: pg.Pool;
  /** Reads a row a notification named without its document (too large to carry). */
  readonly fetch: (table: TableName, key: string) => Promise<StoredRow | undefined>;
  readonly logger: Logger;
}

const RECONNECT_BASE_MS = 250;
const RECONNECT_MAX_MS = 5_000;

/**
 * How long the session may sit idle before PostgreSQL closes it (`idle_session_timeout`). A live
 * gateway queries it every `leaderCheckMs`; a hung one (stopped, its event loop stuck) does not, and
 * its session — with the leader lock — goes, so a follower takes the lead. Dying processes are
 * found by TCP keepalives; hung ones would keep a healthy socket forever.
 */
export function sessionIdleTimeoutMs(leaderCheckMs: number): number {
  return Math.max(5_000, 3 * leaderCheckMs);
}

/**
 * The gateway's session with PostgreSQL: one dedicated connection that LISTENs for the other
 * gateways' notifications, holds the shared "alive" advisory lock (so a starting gateway can tell
 * whether peers run) and, on the leader, the exclusive leader lock. Leader-only writes run on this
 * connection, so they commit only while the lock is held: when the connection dies, PostgreSQL
 * drops the lock and those writes fail with it (no deposed leader overwrites the new one).
 *
 * A lost connection is retried with backoff forever; `reconnected` then tells the store to reload
 * what it may have missed. Leadership is tried every `leaderCheckMs`; a leader whose connection
 * stops answering within that time steps down at once, and a leader that stops asking (hung) loses
 * its session to PostgreSQL's idle timeout (`sessionIdleTimeoutMs`).
 */
export class PgBus extends EventEmitter<ClusterBusEvents> implements ClusterBus {
  readonly gatewayId: string;
  #connected = false;
  #isLeader = false;
  #client: pg.Client | null = null;
  #pid = 0;
  /** The session connection runs one thing at a time (a leader's transaction must not interleave). */
  #queue: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #attempts = 0;
  #closed = false;
  #everConnected = false;
  readonly #o: PgBusOptions;
  readonly #log: Logger;

  constructor(options: PgBusOptions) {
    super();
    this.#o = options;
    this.gatewayId = options.gatewayId;
    this.#log = options.logger.child({ component: "cluster" });
  }

  get connected(): boolean {
    return this.#connected;
  }

  get isLeader(): boolean {
    return this.#isLeader;
  }

  /** The first connection, and a first try for the lead; throws when PostgreSQL cannot be reached. */
  async start(): Promise<void> {
    await this.#connect();
    await this.#checkLeadership();
    this.#arm();
  }

  publish(message: ClusterMessage): void {
    if (!this.#connected || this.#closed) return;
    for (const payload of packMessage(this.gatewayId, message)) {
      this.#o.pool.query("SELECT pg_notify($1, $2)", [CHANNEL, payload]).catch((err: unknown) => {
        this.#log.debug({ err: reasonOf(err), kind: message.kind }, "cluster message not sent");
      });
    }
  }

  /** Runs `fn` on the session connection while this gateway leads; NotLeaderError otherwise. */
  asLeader<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    return this.#serial(async () => {
      const client = this.#client;
      if (!this.#isLeader || !client) throw new NotLeaderError();
      return fn(client);
    });
  }

  /** Whether another gateway's session holds the "alive" lock on this database now. */
  async peersAlive(): Promise<boolean> {
    return this.#serial(async () => {
      const client = this.#client;
      if (!client) return false;
      const { rows } = await client.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND granted AND pid <> $3 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        [LOCK_NAMESPACE, ALIVE_LOCK, this.#pid],
      );
      return Number(rows[0]?.n ?? 0) > 0;
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    const client = this.#client;
    this.#client = null;
    this.#connected = false;
    this.#isLeader = false;
    // Ending the session releases both advisory locks: a follower takes the lead at its next check.
    await client?.end().catch(() => {});
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#o.connectionString,
      application_name: `omnigate ${this.gatewayId}`,
      keepAlive: true,
      keepAliveInitialDelayMillis: 2_000,
      connectionTimeoutMillis: 5_000,
      query_timeout: Math.max(5_000, this.#o.leaderCheckMs * 2),
    });
    client.on("error", (err) => this.#lost(client, reasonOf(err)));
    client.on("end", () => this.#lost(client, "the connection ended"));
    client.on("notification", (msg) => {
      if (msg.channel === CHANNEL && msg.payload) this.#onPayload(msg.payload);
    });
    try {
      await client.connect();
      // The server notices a vanished gateway within ~11 s (and frees its locks), not the OS's 2 hours.
      await client.query("SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3");
      const idleMs = sessionIdleTimeoutMs(this.#o.leaderCheckMs);
      await client.query(`SET idle_session_timeout = ${idleMs}; SET idle_in_transaction_session_timeout = ${idleMs}`);
      await client.query(`LISTEN ${CHANNEL}`);
      const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid, pg_try_advisory_lock_shared($1, $2)", [LOCK_NAMESPACE, ALIVE_LOCK]);
      this.#pid = rows[0]?.pid ?? 0;
    } catch (err) {
      client.removeAllListeners("end");
      await client.end().catch(() => {});
      throw err;
    }
    this.#client = client;
    this.#connected = true;
    this.#attempts = 0;
    if (this.#everConnected) {
      this.#log.info("database reachable again; reloading the shared state");
      this.emit("reconnected");
    }
    this.#everConnected = true;
  }

  #lost(client: pg.Client, reason: string): void {
    if (this.#client !== client) return;
    this.#client = null;
    this.#connected = false;
    client.end().catch(() => {});
    if (this.#isLeader) {
      this.#isLeader = false;
      this.#log.warn({ reason }, "lost the database connection: no longer the leader");
      this.emit("leader", false);
    }
    if (this.#closed) return;
    this.#log.warn({ reason }, "database connection lost; reconnecting (routing carries on with what this gateway holds)");
    this.emit("disconnected", reason);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer) return;
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** Math.min(this.#attempts, 8));
    this.#attempts++;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connect().then(
        () => this.#checkLeadership(),
        (err: unknown) => {
          this.#log.debug({ err: reasonOf(err), attempt: this.#attempts }, "database still unreachable");
          this.#scheduleReconnect();
        },
      );
    }, delay);
    this.#reconnectTimer.unref();
  }

  /** A follower tries for the lock; the leader checks that its connection still answers in time. */
  async #checkLeadership(): Promise<void> {
    const client = this.#client;
    if (!client || this.#closed) return;
    const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), Math.max(1_000, this.#o.leaderCheckMs)).unref());
    const check = this.#serial(async () => {
      if (this.#isLeader) {
        await client.query("SELECT 1");
        return "ok" as const;
      }
      const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS ok", [LOCK_NAMESPACE, LEADER_LOCK]);
      return rows[0]?.ok ? ("won" as const) : ("ok" as const);
    });
    const outcome = await Promise.race([check.catch((err: unknown) => ({ error: reasonOf(err) })), timeout]);
    if (outcome === "timeout") return this.#lost(client, `no answer within ${Math.max(1_000, this.#o.leaderCheckMs)} ms`);
    if (typeof outcome === "object") return this.#lost(client, outcome.error);
    if (outcome === "won" && this.#client === client && !this.#closed) {
      this.#isLeader = true;
      this.#log.info({ gateway: this.gatewayId }, "this gateway is the leader: it runs placement, estimates and node expiry for the cluster");
      this.emit("leader", true);
    }
  }

  #arm(): void {
    this.#timer = setTimeout(() => {
      void this.#checkLeadership().finally(() => {
        if (!this.#closed) this.#arm();
      });
    }, this.#o.leaderCheckMs);
    this.#timer.unref();
  }

  #onPayload(payload: string): void {
    const n = unpack(payload);
    if (!n || n.from === this.gatewayId) return;
    if ("message" in n) {
      this.emit("message", n.message, n.from);
      return;
    }
    for (const c of n.changes) {
      if (!("fetch" in c)) {
        this.emit("change", c);
        continue;
      }
      this.#o.fetch(c.table, c.key).then(
        (row) => this.emit("change", row ? { table: c.table, key: c.key, version: row.version, doc: row.doc } : ({ table: c.table, key: c.key, version: c.version, doc: null } satisfies RowChange)),
        (err: unknown) => {
          this.#log.warn({ err: reasonOf(err), table: c.table, key: c.key }, "could not read a changed row; reloading the shared state");
          this.emit("missed", reasonOf(err));
        },
      );
    }
  }
}
