import type { ClientBase } from "pg";
import { TABLES } from "../store-contract.js";
import { LOCK_NAMESPACE, MIGRATION_LOCK } from "./pg-locks.js";

/**
 * The PostgreSQL schema, as an append-only list: entry i brings the database from version i to
 * i + 1 (kept in `omnigate_schema`). Never edit a shipped entry; add a new one. The tables are the
 * store contract's (SQLite has the same ones, in its own dialect).
 */
export const PG_MIGRATIONS: readonly string[] = [
  // 1: the store contract's tables, one cluster-wide version counter for all of them.
  `
  CREATE SEQUENCE omnigate_version;
  ${TABLES.map((t) => `CREATE TABLE ${t} (key text PRIMARY KEY, doc jsonb NOT NULL, version bigint NOT NULL);`).join("\n  ")}
  `,
];

/**
 * Applies the migrations this database has not seen, each in its own transaction, while holding an
 * advisory lock: gateways starting together take turns, and the second finds nothing left to do.
 */
export async function migratePg(client: ClientBase): Promise<number> {
  await client.query("SELECT pg_advisory_lock($1, $2)", [LOCK_NAMESPACE, MIGRATION_LOCK]);
  try {
    await client.query("CREATE TABLE IF NOT EXISTS omnigate_schema (version integer NOT NULL)");
    const { rows } = await client.query<{ version: number }>("SELECT version FROM omnigate_schema");
    const current = rows[0]?.version ?? 0;
    if (current > PG_MIGRATIONS.length) {
      throw new Error(
        `The gateway database is at schema version ${current}, newer than this gateway knows (${PG_MIGRATIONS.length}). Run a newer omnigate, or point OMNIGATE_DATABASE_URL elsewhere.`,
      );
    }
    for (let version = current; version < PG_MIGRATIONS.length; version++) {
      await client.query("BEGIN");
      try {
        await client.query(PG_MIGRATIONS[version] as string);
        if (version === 0) await client.query("INSERT INTO omnigate_schema (version) VALUES (1)");
        else await client.query("UPDATE omnigate_schema SET version = $1", [version + 1]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      }
    }
    return PG_MIGRATIONS.length;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1, $2)", [LOCK_NAMESPACE, MIGRATION_LOCK]).catch(() => {});
  }
}
