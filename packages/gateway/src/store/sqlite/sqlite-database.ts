import { mkdirSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3, { type Database } from "better-sqlite3";
import { migrate } from "./sqlite-migrations.js";

export const DATABASE_FILE = "omnigate.db";

/**
 * Opens (creating) the registry database in `dataDir`: WAL so reads never wait on the writer,
 * NORMAL sync (WAL keeps it crash-safe), a busy timeout for a second process such as a backup.
 */
export function openDatabase(dataDir: string): Database {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new BetterSqlite3(join(dataDir, DATABASE_FILE));
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
