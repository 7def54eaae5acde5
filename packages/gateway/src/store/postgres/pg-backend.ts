import { randomBytes } from "node:crypto";
import pg from "pg";
import type { Logger } from "../../logger.js";
import {
  StoreUnavailableError,
  TABLES,
  type RowChange,
  type Snapshot,
  type StoreBackend,
  type StoredRow,
  type TableName,
  type WriteOp,
} from "../store-contract.js";
import { PgBus } from "./pg-bus.js";
import { isUnreachable, reasonOf } from "./pg-errors.js";
import { migratePg } from "./pg-migrations.js";
import { CHANNEL, packChanges } from "./pg-notify.js";
import { describePgUrl, withoutPassword, type PgLocation } from "./pg-url.js";

// bigint columns (versions, counts) as numbers: versions stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

export interface PgBackendOptions {
  readonly url: string;
  readonly logger: Logger;
  /** How often a follower tries to take the lead (well under the node timeout, so a dead leader is replaced in time). */
  readonly leaderCheckMs: number;
  readonly gatewayId?: string;
}

/** PostgreSQL cannot be reached at start: the message names host and database, never the password. */
export class DatabaseUnreachableError extends Error {
  override name = "DatabaseUnreachableError";
}

/**
 * The shared backend: every gateway of a cluster on one PostgreSQL database. Writes go through a
 * small pool, each in a transaction that also NOTIFYs the other gateways (delivered only if it
 * commits); leader-only writes go through the session connection that holds the leader lock.
 */
export class PostgresBackend implements StoreBackend {
  readonly kind = "postgres";
  readonly where: string;
  readonly bus: PgBus;
  readonly location: PgLocation;
  readonly #pool: pg.Pool;
  readonly #url: string;

  private constructor(options: PgBackendOptions, location: PgLocation, pool: pg.Pool) {
    this.#url = options.url;
    this.location = location;
    this.where = location.display;
    this.#pool = pool;
    this.bus = new PgBus({
      connectionString: options.url,
      gatewayId: options.gatewayId ?? `gw-${randomBytes(4).toString("hex")}`,
      leaderCheckMs: options.leaderCheckMs,
      pool,
      fetch: (table, key) => this.get(table, key),
      logger: options.logger,
    });
  }

  /**
   * Connects, migrates (under the migration lock) and starts the session. Throws
   * DatabaseUnreachableError naming host and database when PostgreSQL cannot be reached.
   */
  static async open(options: PgBackendOptions): Promise<PostgresBackend> {
    const location = describePgUrl(options.url);
    const unreachable = (err: unknown) =>
      new DatabaseUnreachableError(
        `Cannot use PostgreSQL at ${location.host}:${location.port}, database "${location.database}" (user "${location.user}", from OMNIGATE_DATABASE_URL): ${withoutPassword(reasonOf(err), options.url)}. Check that the server runs, that this host may connect, and the URL.`,
      );
    const first = new pg.Client({ connectionString: options.url, connectionTimeoutMillis: 5_000, application_name: "omnigate migrate" });
    first.on("error", () => {});
    try {
      await first.connect();
    } catch (err) {
      await first.end().catch(() => {});
      throw unreachable(err);
    }
    try {
      await migratePg(first);
    } catch (err) {
      throw isUnreachable(err) ? unreachable(err) : err;
    } finally {
      await first.end().catch(() => {});
    }
    const pool = new pg.Pool({
      connectionString: options.url,
      max: 8,
      connectionTimeoutMillis: 3_000,
      idleTimeoutMillis: 30_000,
      statement_timeout: 10_000,
      keepAlive: true,
      application_name: "omnigate",
    });
    // An idle pooled connection cut by a server restart must not crash the process: the next
    // query opens a new one (or fails as unavailable).
    pool.on("error", (err) => options.logger.debug({ err: reasonOf(err) }, "idle database connection closed"));
    const backend = new PostgresBackend(options, location, pool);
    try {
      await backend.bus.start();
    } catch (err) {
      await backend.close();
      throw isUnreachable(err) ? unreachable(err) : err;
    }
    return backend;
  }

  async snapshot(): Promise<Snapshot> {
    return this.#withClient(async (client) => {
      // One consistent view of every table; the version is taken first, so every row committed
      // before it is in the view (later ones arrive as notifications, which are already on).
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
      try {
        const { rows } = await client.query<{ v: number }>("SELECT nextval('omnigate_version') AS v");
        const tables = new Map<TableName, StoredRow[]>();
        for (const table of TABLES) {
          const result = await client.query<StoredRow>(`SELECT key, doc, version FROM ${table} ORDER BY key`);
          tables.set(table, result.rows);
        }
        await client.query("COMMIT");
        return { tables, version: rows[0]?.v ?? 0 };
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      }
    });
  }

  async get(table: TableName, key: string): Promise<StoredRow | undefined> {
    return this.#withClient(async (client) => (await client.query<StoredRow>(`SELECT key, doc, version FROM ${table} WHERE key = $1`, [key])).rows[0]);
  }

  async write(ops: readonly WriteOp[], options: { readonly leader?: boolean } = {}): Promise<Array<RowChange | null>> {
    const run = async (client: pg.ClientBase) => {
      await client.query("BEGIN");
      try {
        const changes: Array<RowChange | null> = [];
        for (const op of ops) changes.push(await applyOp(client, op));
        const made = changes.filter((c): c is RowChange => c !== null);
        for (const payload of packChanges(this.bus.gatewayId, made)) await client.query("SELECT pg_notify($1, $2)", [CHANNEL, payload]);
        await client.query("COMMIT");
        return changes;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      }
    };
    try {
      if (options.leader) return await this.bus.asLeader(run);
      return await this.#withClient(run);
    } catch (err) {
      throw this.#translate(err);
    }
  }

  async peersAlive(): Promise<boolean> {
    return this.bus.peersAlive();
  }

  async close(): Promise<void> {
    await this.bus.close();
    await this.#pool.end().catch(() => {});
  }

  async #withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw this.#translate(err);
    }
    let broken: Error | undefined;
    try {
      return await fn(client);
    } catch (err) {
      // A connection that failed mid-transaction is not given back to the pool.
      if (isUnreachable(err)) broken = err as Error;
      throw this.#translate(err);
    } finally {
      client.release(broken);
    }
  }

  #translate(err: unknown): unknown {
    if (err instanceof StoreUnavailableError || !isUnreachable(err)) return err;
    return new StoreUnavailableError(this.where, withoutPassword(reasonOf(err), this.#url));
  }
}

async function applyOp(client: pg.ClientBase, op: WriteOp): Promise<RowChange | null> {
  const t = op.table;
  let rows: Array<{ version: number }>;
  switch (op.op) {
    case "insert":
      rows = (await client.query(`INSERT INTO ${t} (key, doc, version) VALUES ($1, $2::jsonb, nextval('omnigate_version')) ON CONFLICT (key) DO NOTHING RETURNING version`, [op.key, JSON.stringify(op.doc)])).rows;
      break;
    case "update":
      rows = (await client.query(`UPDATE ${t} SET doc = $2::jsonb, version = nextval('omnigate_version') WHERE key = $1 RETURNING version`, [op.key, JSON.stringify(op.doc)])).rows;
      break;
    case "put":
      rows = (
        await client.query(
          `INSERT INTO ${t} (key, doc, version) VALUES ($1, $2::jsonb, nextval('omnigate_version')) ON CONFLICT (key) DO UPDATE SET doc = EXCLUDED.doc, version = EXCLUDED.version RETURNING version`,
          [op.key, JSON.stringify(op.doc)],
        )
      ).rows;
      break;
    case "delete":
      rows = (await client.query(`DELETE FROM ${t} WHERE key = $1 RETURNING nextval('omnigate_version') AS version`, [op.key])).rows;
      break;
  }
  const version = rows[0]?.version;
  if (version === undefined) return null;
  return { table: t, key: op.key, version, doc: op.op === "delete" ? null : op.doc };
}
