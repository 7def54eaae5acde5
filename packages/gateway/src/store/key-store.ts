import { createHash, randomBytes } from "node:crypto";
import type { Database, Statement } from "better-sqlite3";
import type { ApiKeyView, CreatedApiKey } from "@omnigate/shared/admin";
import { NO_EVENTS, type EventSink } from "../events/event-bus.js";

interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  created_at: number;
  revoked_at: number | null;
}

/** How many characters of a key listings show: `og-` plus enough to tell keys apart. */
const PREFIX_LENGTH = 10;

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/**
 * Client API keys. Only each key's sha256 is stored. A presented key is hashed and looked up by
 * hash in an in-memory Map of the valid keys (every /v1 request does this), so a lookup reads
 * no database and compares no secret byte by byte; revoking removes the hash from the Map.
 */
export class ApiKeyStore {
  readonly #valid = new Map<string, ApiKeyView>();
  readonly #insert: Statement<[string, string, string, string, number]>;
  readonly #revoke: Statement<[number, string]>;
  readonly #byId: Statement<[string]>;
  readonly #all: Statement<[]>;
  readonly #now: () => number;
  readonly #events: EventSink;

  constructor(db: Database, options: { now?: () => number; events?: EventSink } = {}) {
    this.#events = options.events ?? NO_EVENTS;
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.#insert = db.prepare("INSERT INTO api_keys (id, name, prefix, hash, created_at) VALUES (?, ?, ?, ?, ?)");
    this.#revoke = db.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
    this.#byId = db.prepare("SELECT * FROM api_keys WHERE id = ?");
    this.#all = db.prepare("SELECT * FROM api_keys ORDER BY created_at, id");
    for (const row of this.#all.all() as KeyRow[]) {
      if (row.revoked_at === null) this.#valid.set(row.hash, toView(row));
    }
  }

  /** The new key, in clear text this once. */
  create(name: string): CreatedApiKey {
    const key = `og-${randomBytes(32).toString("base64url")}`;
    const id = `key_${randomBytes(8).toString("hex")}`;
    const row: KeyRow = {
      id,
      name,
      prefix: key.slice(0, PREFIX_LENGTH),
      hash: hashApiKey(key),
      created_at: this.#now(),
      revoked_at: null,
    };
    this.#insert.run(row.id, row.name, row.prefix, row.hash, row.created_at);
    const view = toView(row);
    this.#valid.set(row.hash, view);
    this.#events.publish({ type: "key.created", key: view });
    return { ...view, key };
  }

  /** The key's listing if it is a valid (not revoked) key. */
  find(key: string): ApiKeyView | undefined {
    return this.findByHash(hashApiKey(key));
  }

  findByHash(hash: string): ApiKeyView | undefined {
    return this.#valid.get(hash);
  }

  list(): ApiKeyView[] {
    return (this.#all.all() as KeyRow[]).map(toView);
  }

  /** The key as it is now (revoking twice is not an error); undefined for an unknown id. */
  revoke(id: string): ApiKeyView | undefined {
    const revoked = this.#revoke.run(this.#now(), id).changes > 0;
    const row = this.#byId.get(id) as KeyRow | undefined;
    if (!row) return undefined;
    this.#valid.delete(row.hash);
    const view = toView(row);
    if (revoked) this.#events.publish({ type: "key.revoked", key: view });
    return view;
  }
}

function toView(row: KeyRow): ApiKeyView {
  return { id: row.id, name: row.name, prefix: row.prefix, created_at: row.created_at, revoked_at: row.revoked_at };
}
