import type { Database } from "better-sqlite3";

/**
 * The schema, as an append-only list: entry i brings a database from `user_version` i to i + 1.
 * Never edit a shipped entry; add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: models (the whole record as JSON: it is read once at start, never queried by field) and
  // client API keys (only the sha256 of a key is stored; `prefix` tells keys apart in listings).
  `
  CREATE TABLE models (
    name       TEXT PRIMARY KEY,
    record     TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  ) STRICT;
  `,
  // 2: placement (issue 9). Where each model's replicas are and in what role, each node's admin
  // state (it outlives the node's registration: a cordoned box stays cordoned across restarts),
  // and each model's memory estimate with the files it was read from (computed once per registration).
  `
  CREATE TABLE placements (
    model      TEXT NOT NULL,
    runtime_id TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('serving', 'leaving', 'lost')),
    placed_at  INTEGER NOT NULL,
    PRIMARY KEY (model, runtime_id)
  ) STRICT;
  CREATE TABLE node_admin (
    runtime_id TEXT PRIMARY KEY,
    cordoned   INTEGER NOT NULL,
    draining   INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE model_estimates (
    model      TEXT PRIMARY KEY,
    estimate   TEXT NOT NULL
  ) STRICT;
  `,
  // 3: node certificates (issue 14): every certificate issued to an agent (times in Unix ms), so a
  // node's removal can revoke them; the revoked ones that have not expired are the deny list every
  // gateway checks at each handshake. A removed node's runtime_id may not register again.
  `
  CREATE TABLE node_certificates (
    serial     TEXT PRIMARY KEY,
    runtime_id TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    not_after  INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL,
    revoked_at INTEGER
  ) STRICT;
  CREATE INDEX node_certificates_by_node ON node_certificates (runtime_id);
  CREATE INDEX node_certificates_by_expiry ON node_certificates (not_after);
  CREATE TABLE revoked_nodes (
    runtime_id TEXT PRIMARY KEY,
    revoked_at INTEGER NOT NULL
  ) STRICT;
  `,
];

/** Applies every migration the database has not seen, each in its own transaction. */
export function migrate(db: Database): number {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(
      `The gateway database is at schema version ${current}, newer than this gateway knows (${MIGRATIONS.length}). Run a newer omnigate, or point OMNIGATE_DATA_DIR elsewhere.`,
    );
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    const sql = MIGRATIONS[version] as string;
    db.transaction(() => {
      db.exec(sql);
      // PRAGMA takes no bound parameters; `version` is a loop integer, not input.
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
  return MIGRATIONS.length;
}
