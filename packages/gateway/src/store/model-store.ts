import { EventEmitter } from "node:events";
import type { Database, Statement } from "better-sqlite3";
import { ModelRecord } from "@omnigate/shared/models";
import { NO_EVENTS, type EventSink } from "../events/event-bus.js";

/** What routing needs of the registered models: one by name (a Map serves in tests). */
export interface ModelLookup {
  get(name: string): ModelRecord | undefined;
}

/**
 * Registered models. Every request looks its model up, so the records live in a Map loaded once
 * at start and updated on each write: SQLite is the durable copy, never read on the hot path.
 */
export interface ModelStoreEvents {
  /** A model was registered (`previous` undefined), patched, or deleted (`record` undefined). */
  change: [name: string, record: ModelRecord | undefined, previous: ModelRecord | undefined];
}

export class ModelStore extends EventEmitter<ModelStoreEvents> implements ModelLookup {
  readonly #byName = new Map<string, ModelRecord>();
  readonly #insert: Statement<[string, string, number]>;
  readonly #update: Statement<[string, string]>;
  readonly #delete: Statement<[string]>;
  readonly #events: EventSink;

  constructor(db: Database, events: EventSink = NO_EVENTS) {
    super();
    this.#events = events;
    this.#update = db.prepare("UPDATE models SET record = ? WHERE name = ?");
    this.#insert = db.prepare("INSERT INTO models (name, record, created_at) VALUES (?, ?, ?)");
    this.#delete = db.prepare("DELETE FROM models WHERE name = ?");
    const rows = db.prepare("SELECT name, record FROM models ORDER BY created_at, name").all() as Array<{
      name: string;
      record: string;
    }>;
    for (const row of rows) {
      const parsed = ModelRecord.safeParse(JSON.parse(row.record));
      // A row this gateway cannot read means a damaged or foreign database: stop rather than
      // silently drop a model that nodes would then delete.
      if (!parsed.success) throw new Error(`The stored model '${row.name}' is not a valid model record: ${parsed.error.message}`);
      this.#byName.set(row.name, parsed.data);
    }
  }

  get(name: string): ModelRecord | undefined {
    return this.#byName.get(name);
  }

  /** Oldest first, the order they were registered in. */
  list(): ModelRecord[] {
    return [...this.#byName.values()];
  }

  /** False when the name is taken. */
  insert(record: ModelRecord): boolean {
    if (this.#byName.has(record.name)) return false;
    try {
      this.#insert.run(record.name, JSON.stringify(record), record.created_at);
    } catch (err) {
      if ((err as { code?: string }).code === "SQLITE_CONSTRAINT_PRIMARYKEY") return false;
      throw err;
    }
    this.#byName.set(record.name, record);
    this.emit("change", record.name, record, undefined);
    this.#events.publish({ type: "model.registered", model: record });
    return true;
  }

  /** Replaces a model's record (PATCH); false when there is no such model. */
  update(record: ModelRecord): boolean {
    const previous = this.#byName.get(record.name);
    if (!previous) return false;
    this.#update.run(JSON.stringify(record), record.name);
    this.#byName.set(record.name, record);
    this.emit("change", record.name, record, previous);
    this.#events.publish({ type: "model.patched", model: record });
    return true;
  }

  /** The removed record, or undefined when there was none. */
  delete(name: string): ModelRecord | undefined {
    const record = this.#byName.get(name);
    if (!record) return undefined;
    this.#delete.run(name);
    this.#byName.delete(name);
    this.emit("change", name, undefined, record);
    this.#events.publish({ type: "model.deleted", name });
    return record;
  }
}
