import { describe, expect, it } from "vitest";
import pg from "pg";
import { TABLES } from "../store-contract.js";
import { LOCK_NAMESPACE, MIGRATION_LOCK } from "./pg-locks.js";
import { migratePg, PG_MIGRATIONS } from "./pg-migrations.js";
import { suitePostgres } from "../../../test/helpers/postgres-suite.js";

// Gateways starting together all migrate one database: the advisory lock makes them take turns.

const server = suitePostgres();

async function withClients<T>(url: string, count: number, fn: (clients: pg.Client[]) => Promise<T>): Promise<T> {
  const clients = Array.from({ length: count }, () => new pg.Client({ connectionString: url }));
  await Promise.all(clients.map((c) => c.connect()));
  try {
    return await fn(clients);
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

describe("PostgreSQL migrations", () => {
  it("applied by five gateways at once: each finishes at the latest version, the schema made once", async () => {
    const url = await server().createDatabase();
    await withClients(url, 5, async (clients) => {
      // Without the lock, CREATE SEQUENCE/TABLE would fail on all but one ("already exists").
      expect(await Promise.all(clients.map((c) => migratePg(c)))).toEqual(clients.map(() => PG_MIGRATIONS.length));
      const versions = await clients[0]!.query<{ version: number }>("SELECT version FROM omnigate_schema");
      expect(versions.rows).toEqual([{ version: PG_MIGRATIONS.length }]);
      const tables = await clients[0]!.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'");
      expect(tables.rows.map((r) => r.name).sort()).toEqual([...TABLES, "omnigate_schema"].sort());
      // The lock is released: another session can take it at once.
      const free = await clients[1]!.query<{ got: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS got", [LOCK_NAMESPACE, MIGRATION_LOCK]);
      expect(free.rows[0]!.got).toBe(true);
    });
  });

  it("refuses a database a newer gateway migrated, naming both versions", async () => {
    const url = await server().createDatabase();
    await withClients(url, 1, async ([client]) => {
      await migratePg(client!);
      await client!.query("UPDATE omnigate_schema SET version = $1", [PG_MIGRATIONS.length + 1]);
      await expect(migratePg(client!)).rejects.toThrow(`schema version ${PG_MIGRATIONS.length + 1}, newer than this gateway knows (${PG_MIGRATIONS.length})`);
    });
  });
});
