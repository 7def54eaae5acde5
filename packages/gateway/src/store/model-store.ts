import { EventEmitter } from "node:events";
import { ModelRecord } from "@omnigate/shared/models";
import { NO_EVENTS, type EventSink } from "../events/event-bus.js";
import type { SharedState } from "./shared-state.js";

/** What routing needs of the registered models: one by name (a Map serves in tests). */
export interface ModelLookup {
  get(name: string): ModelRecord | undefined;
}

export interface ModelStoreEvents {
  /** A model was registered (`previous` undefined), patched, or deleted (`record` undefined), here or on another gateway. */
  change: [name: string, record: ModelRecord | undefined, previous: ModelRecord | undefined];
}

/**
 * Registered models. Every request looks its model up, so the records live in a Map, filled at
 * start and kept current by every write, this gateway's or another's: the database is the durable,
 * shared copy, never read on the hot path.
 */
export class ModelStore extends EventEmitter<ModelStoreEvents> implements ModelLookup {
  readonly #byName = new Map<string, ModelRecord>();
  readonly #events: EventSink;

  constructor(
    private readonly state: SharedState,
    events: EventSink = NO_EVENTS,
  ) {
    super();
    this.#events = events;
    state.bind("models", {
      schema: ModelRecord,
      // A row this gateway cannot read means a damaged or foreign database: stop rather than
      // silently drop a model that nodes would then delete.
      strict: true,
      order: (a, b) => a.created_at - b.created_at,
      apply: (name, record) => this.#apply(name, record),
    });
  }

  get(name: string): ModelRecord | undefined {
    return this.#byName.get(name);
  }

  /** Oldest first, the order they were registered in. */
  list(): ModelRecord[] {
    return [...this.#byName.values()];
  }

  /** False when the name is taken (here, or by another gateway a moment ago: the database decides). */
  async insert(record: ModelRecord): Promise<boolean> {
    if (this.#byName.has(record.name)) return false;
    const [inserted] = await this.state.write([{ op: "insert", table: "models", key: record.name, doc: record }]);
    return inserted === true;
  }

  /** Replaces a model's record (PATCH); false when there is no such model. */
  async update(record: ModelRecord): Promise<boolean> {
    if (!this.#byName.has(record.name)) return false;
    const [updated] = await this.state.write([{ op: "update", table: "models", key: record.name, doc: record }]);
    return updated === true;
  }

  /** The removed record, or undefined when there was none. */
  async delete(name: string): Promise<ModelRecord | undefined> {
    const record = this.#byName.get(name);
    if (!record) return undefined;
    const [deleted] = await this.state.write([{ op: "delete", table: "models", key: name }]);
    return deleted ? record : undefined;
  }

  #apply(name: string, record: ModelRecord | undefined): void {
    const previous = this.#byName.get(name);
    if (record) {
      // A patch keeps the model's place in the list; a new one goes last.
      this.#byName.set(name, record);
    } else if (!this.#byName.delete(name)) {
      return;
    }
    // Registered, patched or deleted here or through another gateway: the event stream hears it
    // either way. A deletion is told before its listeners drop the nodes' reports of the model.
    if (!record) this.#events.publish({ type: "model.deleted", name });
    this.emit("change", name, record, previous);
    if (record) this.#events.publish({ type: previous ? "model.patched" : "model.registered", model: record });
  }
}
