import { NO_EVENTS, type EventSink } from "../events/event-bus.js";
import type { Logger } from "../logger.js";
import { NodeCertificateStore } from "./cert-store.js";
import { ApiKeyStore } from "./key-store.js";
import { ModelStore } from "./model-store.js";
import { PostgresBackend } from "./postgres/pg-backend.js";
import { SharedState } from "./shared-state.js";
import { SqliteBackend } from "./sqlite/sqlite-backend.js";
import type { StoreBackend } from "./store-contract.js";

export interface StoreConfig {
  readonly OMNIGATE_DATA_DIR: string;
  /** postgres://… shares the state with other gateways; unset = SQLite in the data dir. */
  readonly OMNIGATE_DATABASE_URL?: string | undefined;
  readonly OMNIGATE_NODE_TIMEOUT_MS: number;
}

/**
 * The gateway's durable, shared state: registered models, client keys, the certificates issued to
 * nodes with the deny list, nodes, placement (replicas, cordon/drain marks, estimates), in SQLite
 * for one box or PostgreSQL for several gateways. The other caches (nodes, placement) bind their
 * tables before `load()`.
 */
export interface Store {
  readonly backend: StoreBackend;
  readonly state: SharedState;
  readonly models: ModelStore;
  readonly keys: ApiKeyStore;
  readonly certificates: NodeCertificateStore;
  /** Fills every bound cache; call once everything is bound. */
  load(): Promise<void>;
  /** Closes the database (SQLite: checkpoints the WAL); safe to call twice. */
  close(): Promise<void>;
}

/**
 * How often a follower tries to take the lead: a few times per node timeout, so a dead leader's
 * work (offline nodes, re-placement) resumes well within the timeout.
 */
export function leaderCheckMs(nodeTimeoutMs: number): number {
  return Math.max(100, Math.min(2_000, Math.floor(nodeTimeoutMs / 5)));
}

export async function openBackend(config: StoreConfig, logger: Logger): Promise<StoreBackend> {
  if (config.OMNIGATE_DATABASE_URL) {
    return PostgresBackend.open({ url: config.OMNIGATE_DATABASE_URL, logger, leaderCheckMs: leaderCheckMs(config.OMNIGATE_NODE_TIMEOUT_MS) });
  }
  return new SqliteBackend(config.OMNIGATE_DATA_DIR);
}

/** `events` hears of every model and key change, this gateway's and the others'. */
export async function openStore(config: StoreConfig, logger: Logger, events: EventSink = NO_EVENTS): Promise<Store> {
  const backend = await openBackend(config, logger);
  return storeOver(backend, logger, events);
}

/** The store over an open backend (tests run one suite against each). */
export function storeOver(backend: StoreBackend, logger: Logger, events: EventSink = NO_EVENTS): Store {
  const state = new SharedState(backend, logger);
  let closed: Promise<void> | undefined;
  return {
    backend,
    state,
    models: new ModelStore(state, events),
    keys: new ApiKeyStore(state, { events }),
    certificates: new NodeCertificateStore(state),
    load: () => state.load(),
    close() {
      state.close();
      closed ??= backend.close();
      return closed;
    },
  };
}
