import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import type { ApiKeyView, CreatedApiKey } from "@omnigate/shared/admin";
import { NO_EVENTS, type EventSink } from "../events/event-bus.js";
import type { SharedState } from "./shared-state.js";

/** A client key as stored: its listing and the sha256 of the key, never the key. */
const KeyRow = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  hash: z.string(),
  created_at: z.number().int(),
  revoked_at: z.number().int().nullable(),
});
type KeyRow = z.infer<typeof KeyRow>;

/** How many characters of a key listings show: `og-` plus enough to tell keys apart. */
const PREFIX_LENGTH = 10;

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/**
 * Client API keys. Only each key's sha256 is stored. A presented key is hashed and looked up by
 * hash in an in-memory Map of the valid keys (every /v1 request does this), so a lookup reads no
 * database and compares no secret byte by byte. A key created or revoked through any gateway
 * reaches every gateway's Map through the shared state.
 */
export class ApiKeyStore {
  readonly #valid = new Map<string, ApiKeyView>();
  readonly #byId = new Map<string, KeyRow>();
  readonly #now: () => number;
  readonly #events: EventSink;

  constructor(
    private readonly state: SharedState,
    options: { now?: () => number; events?: EventSink } = {},
  ) {
    this.#events = options.events ?? NO_EVENTS;
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
    state.bind("api_keys", { schema: KeyRow, apply: (id, row) => this.#apply(id, row) });
  }

  /** The new key, in clear text this once. */
  async create(name: string): Promise<CreatedApiKey> {
    const key = `og-${randomBytes(32).toString("base64url")}`;
    const row: KeyRow = {
      id: `key_${randomBytes(8).toString("hex")}`,
      name,
      prefix: key.slice(0, PREFIX_LENGTH),
      hash: hashApiKey(key),
      created_at: this.#now(),
      revoked_at: null,
    };
    await this.state.write([{ op: "insert", table: "api_keys", key: row.id, doc: row }]);
    return { ...toView(row), key };
  }

  /** The key's listing if it is a valid (not revoked) key. */
  find(key: string): ApiKeyView | undefined {
    return this.findByHash(hashApiKey(key));
  }

  findByHash(hash: string): ApiKeyView | undefined {
    return this.#valid.get(hash);
  }

  /** Oldest first. */
  list(): ApiKeyView[] {
    return [...this.#byId.values()].sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1)).map(toView);
  }

  /** The key as it is now (revoking twice is not an error); undefined for an unknown id. */
  async revoke(id: string): Promise<ApiKeyView | undefined> {
    const row = this.#byId.get(id);
    if (!row) return undefined;
    if (row.revoked_at !== null) return toView(row);
    const revoked: KeyRow = { ...row, revoked_at: this.#now() };
    await this.state.write([{ op: "update", table: "api_keys", key: id, doc: revoked }]);
    return toView(this.#byId.get(id) ?? revoked);
  }

  #apply(id: string, row: KeyRow | undefined): void {
    const before = this.#byId.get(id);
    if (before) this.#valid.delete(before.hash);
    if (!row) {
      this.#byId.delete(id);
      return;
    }
    this.#byId.set(id, row);
    const view = toView(row);
    if (row.revoked_at === null) this.#valid.set(row.hash, view);
    // Created or revoked here or through another gateway: the event stream hears it either way.
    if (!before && row.revoked_at === null) this.#events.publish({ type: "key.created", key: view });
    else if (before?.revoked_at === null && row.revoked_at !== null) this.#events.publish({ type: "key.revoked", key: view });
  }
}

function toView(row: KeyRow): ApiKeyView {
  return { id: row.id, name: row.name, prefix: row.prefix, created_at: row.created_at, revoked_at: row.revoked_at };
}
