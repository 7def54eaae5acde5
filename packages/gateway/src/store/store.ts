import type { Database } from "better-sqlite3";
import { openDatabase } from "./database.js";
import { NodeCertificateStore } from "./cert-store.js";
import { ApiKeyStore } from "./key-store.js";
import { ModelStore } from "./model-store.js";
import { SqlitePlacementStore, type PlacementStore } from "./placement-store.js";
import { NO_EVENTS, type EventSink } from "../events/event-bus.js";

/**
 * The gateway's durable state: registered models, client API keys, placement (replicas, node
 * admin state, estimates) and the certificates issued to nodes with the deny list. Node
 * registrations themselves are not stored: agents register again.
 */
export interface Store {
  readonly models: ModelStore;
  readonly keys: ApiKeyStore;
  readonly placement: PlacementStore;
  readonly certificates: NodeCertificateStore;
  /** Checkpoints the WAL and closes the file; safe to call twice. */
  close(): void;
}

/** `events` hears of every model and key change the store makes. */
export function openStore(dataDir: string, events: EventSink = NO_EVENTS): Store {
  const db: Database = openDatabase(dataDir);
  try {
    const store: Store = {
      models: new ModelStore(db, events),
      keys: new ApiKeyStore(db, { events }),
      placement: new SqlitePlacementStore(db),
      certificates: new NodeCertificateStore(db),
      close() {
        if (!db.open) return;
        db.pragma("wal_checkpoint(TRUNCATE)");
        db.close();
      },
    };
    return store;
  } catch (err) {
    db.close();
    throw err;
  }
}
