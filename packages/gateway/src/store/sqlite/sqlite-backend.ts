import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { Database, Statement } from "better-sqlite3";
import {
  TABLES,
  type ClusterBus,
  type ClusterBusEvents,
  type RowChange,
  type Snapshot,
  type StoreBackend,
  type StoredRow,
  type TableName,
  type WriteOp,
} from "../store-contract.js";
import { DATABASE_FILE, openDatabase } from "./sqlite-database.js";

/** One gateway alone: nobody to hear from, always connected, always the leader. */
class LocalBus extends EventEmitter<ClusterBusEvents> implements ClusterBus {
  readonly gatewayId = `gw-${randomBytes(4).toString("hex")}`;
  readonly connected = true;
  readonly isLeader = true;
  publish(): void {}
}

interface TableStatements {
  readonly insert: Statement<[string, string, number]>;
  readonly update: Statement<[string, number, string]>;
  readonly put: Statement<[string, string, number]>;
  readonly delete: Statement<[string]>;
  readonly get: Statement<[string]>;
  readonly all: Statement<[]>;
}

interface Row {
  key: string;
  doc: string;
  version: number;
}

/**
 * The embedded backend: `<data dir>/omnigate.db`, one gateway process. Writes are synchronous
 * (better-sqlite3) behind the contract's promises; versions come from one counter that starts
 * above the highest stored one.
 */
export class SqliteBackend implements StoreBackend {
  readonly kind = "sqlite";
  readonly where: string;
  readonly bus = new LocalBus();
  readonly #db: Database;
  readonly #tables = new Map<TableName, TableStatements>();
  readonly #write: (ops: readonly WriteOp[]) => Array<RowChange | null>;
  #version = 0;

  constructor(dataDir: string) {
    this.where = join(dataDir, DATABASE_FILE);
    this.#db = openDatabase(dataDir);
    try {
      for (const table of TABLES) {
        this.#tables.set(table, {
          insert: this.#db.prepare(`INSERT INTO ${table} (key, doc, version) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING`),
          update: this.#db.prepare(`UPDATE ${table} SET doc = ?, version = ? WHERE key = ?`),
          put: this.#db.prepare(`INSERT INTO ${table} (key, doc, version) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, version = excluded.version`),
          delete: this.#db.prepare(`DELETE FROM ${table} WHERE key = ?`),
          get: this.#db.prepare(`SELECT key, doc, version FROM ${table} WHERE key = ?`),
          all: this.#db.prepare(`SELECT key, doc, version FROM ${table} ORDER BY key`),
        });
        const max = this.#db.prepare(`SELECT max(version) AS v FROM ${table}`).get() as { v: number | null };
        this.#version = Math.max(this.#version, max.v ?? 0);
      }
    } catch (err) {
      this.#db.close();
      throw err;
    }
    this.#write = this.#db.transaction((ops: readonly WriteOp[]) => ops.map((op) => this.#apply(op)));
  }

  async snapshot(): Promise<Snapshot> {
    const tables = new Map<TableName, StoredRow[]>();
    for (const table of TABLES) {
      const rows = (this.#statements(table).all.all() as Row[]).map(toStored);
      for (const row of rows) this.#version = Math.max(this.#version, row.version);
      tables.set(table, rows);
    }
    // Above every row read: what is absent now was deleted before this snapshot.
    return { tables, version: ++this.#version };
  }

  async get(table: TableName, key: string): Promise<StoredRow | undefined> {
    const row = this.#statements(table).get.get(key) as Row | undefined;
    return row ? toStored(row) : undefined;
  }

  async write(ops: readonly WriteOp[]): Promise<Array<RowChange | null>> {
    return this.#write(ops);
  }

  async peersAlive(): Promise<boolean> {
    return false;
  }

  async close(): Promise<void> {
    if (!this.#db.open) return;
    this.#db.pragma("wal_checkpoint(TRUNCATE)");
    this.#db.close();
  }

  #apply(op: WriteOp): RowChange | null {
    const s = this.#statements(op.table);
    const version = ++this.#version;
    if (op.op === "delete") {
      return s.delete.run(op.key).changes > 0 ? { table: op.table, key: op.key, version, doc: null } : null;
    }
    const json = JSON.stringify(op.doc);
    const changed = op.op === "update" ? s.update.run(json, version, op.key).changes : s[op.op].run(op.key, json, version).changes;
    return changed > 0 ? { table: op.table, key: op.key, version, doc: op.doc } : null;
  }

  #statements(table: TableName): TableStatements {
    const s = this.#tables.get(table);
    if (!s) throw new Error(`no table ${table}`);
    return s;
  }
}

function toStored(row: Row): StoredRow {
  return { key: row.key, doc: JSON.parse(row.doc) as unknown, version: row.version };
}
