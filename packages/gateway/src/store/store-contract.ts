import type { EventEmitter } from "node:events";
import { ApiError } from "@omnigate/shared/errors";

/**
 * The one store contract both backends implement (SQLite for one box, PostgreSQL shared by several
 * gateways). Every gateway holds the whole shared state in memory and never reads the database on a
 * request's path: the database is the durable, shared copy, and changes reach every gateway as
 * `RowChange`s (the writer's own at once, other gateways' through notifications).
 *
 * The state is a set of tables of JSON documents by key, each row stamped with a cluster-wide
 * version (one counter for all tables) on every write, deletes included: a gateway applies a change
 * only when it is newer than what it holds, so the order notifications arrive in does not matter.
 */
export const TABLES = [
  /** name → ModelRecord */
  "models",
  /** id → the client key's listing and sha256 (never the key) */
  "api_keys",
  /** runtime_id → the node's registration, reported state and secret epoch */
  "nodes",
  /** model → its replicas and why some are unplaced (the leader writes these) */
  "placements",
  /** runtime_id → cordoned / draining */
  "node_admin",
  /** model → its memory estimate (the leader writes these) */
  "estimates",
  /** serial → a certificate the cluster CA issued to a node, and when it was revoked */
  "certificates",
  /** runtime_id → when an admin removed the node (it may not register again) */
  "revoked_nodes",
  /** name → the check value of a credential every gateway must share (checked at start) */
  "cluster",
] as const;
export type TableName = (typeof TABLES)[number];

export interface StoredRow {
  readonly key: string;
  readonly doc: unknown;
  readonly version: number;
}

/** A row written or deleted (`doc` null), as every gateway applies it. */
export interface RowChange {
  readonly table: TableName;
  readonly key: string;
  readonly version: number;
  readonly doc: unknown;
}

/**
 * One write. `insert` does nothing when the key exists (the caller answers 409), `update` nothing
 * when it does not; `put` writes either way; `delete` does nothing when there is no row.
 */
export type WriteOp =
  | { readonly op: "insert" | "update" | "put"; readonly table: TableName; readonly key: string; readonly doc: unknown }
  | { readonly op: "delete"; readonly table: TableName; readonly key: string };

/** Everything in the database at one moment, and the highest version it had then. */
export interface Snapshot {
  readonly tables: ReadonlyMap<TableName, readonly StoredRow[]>;
  readonly version: number;
}

/** What gateways tell each other without storing it (liveness, holds, ejections); never durable. */
export type ClusterMessage =
  /** Node agents that heartbeated to the sender since its last such message (short ids); also its own beat. */
  | { readonly kind: "seen"; readonly nodes: readonly string[] }
  /** A gateway (re)joined: every other one answers with all the nodes it hears from. */
  | { readonly kind: "hello" }
  /** The sender still has requests in flight on a replica placement removed: keep it on its node. */
  | { readonly kind: "hold"; readonly node: string; readonly model: string }
  | { readonly kind: "release"; readonly node: string; readonly model: string }
  /** The sender's outlier detection ejected a node until this Unix-ms time. */
  | { readonly kind: "eject"; readonly node: string; readonly until: number };

export interface ClusterBusEvents {
  /** Another gateway's write. */
  change: [change: RowChange];
  /** Another gateway's message, with its id. */
  message: [message: ClusterMessage, from: string];
  /** The bus is back after an outage: notifications may have been missed, reload (`snapshot()`). */
  reconnected: [];
  /** A notified change could not be read (the database was slow or away a moment): reload. */
  missed: [reason: string];
  /** Notifications stopped (the database is unreachable): what this gateway holds may go stale. */
  disconnected: [reason: string];
  /** This gateway became the leader (true) or stopped being it (false). */
  leader: [isLeader: boolean];
}

/**
 * How gateways hear of each other: other gateways' writes, messages, and which one leads. One
 * gateway alone (SQLite) is always connected and always the leader, and hears nothing.
 */
export interface ClusterBus extends EventEmitter<ClusterBusEvents> {
  /** This gateway's id on the bus (random per process start). */
  readonly gatewayId: string;
  /** Whether notifications are flowing now. */
  readonly connected: boolean;
  /** Whether this gateway runs the cluster's background work (placement, estimates, forgetting nodes). */
  readonly isLeader: boolean;
  /** Sends a message to every other gateway; dropped while disconnected (messages are never durable). */
  publish(message: ClusterMessage): void;
}

export interface StoreBackend {
  readonly kind: "sqlite" | "postgres";
  /** Where the data is, for logs and errors: a path, or `postgres://user@host:port/db` (never a password). */
  readonly where: string;
  readonly bus: ClusterBus;
  snapshot(): Promise<Snapshot>;
  /** One row as stored now (a notification too large to carry its document names only the key). */
  get(table: TableName, key: string): Promise<StoredRow | undefined>;
  /**
   * Applies `ops` in one transaction and tells the other gateways. Returns, per op, the change it
   * made, or null when it did nothing (an insert on a taken key, an update or delete of no row).
   * `leader: true` writes only while this gateway holds the leadership (a deposed leader's late
   * writes fail with NotLeaderError instead of overwriting the new leader's).
   */
  write(ops: readonly WriteOp[], options?: { readonly leader?: boolean }): Promise<Array<RowChange | null>>;
  /** Whether other gateways are running on the same database now (credential checks at start). */
  peersAlive(): Promise<boolean>;
  close(): Promise<void>;
}

/** Seconds a client should wait before retrying a write the database could not take. */
export const STORE_RETRY_AFTER_S = 5;

/**
 * The database cannot be reached: writes (registering, deleting, keys) answer 503 until it is
 * back, while requests keep being routed on what the gateway holds.
 */
export class StoreUnavailableError extends ApiError {
  override name = "StoreUnavailableError";
  constructor(
    readonly where: string,
    readonly reason: string,
  ) {
    super(
      "database_unavailable",
      `The gateway cannot reach its database (${where}: ${reason}). Changes — registering or deleting models, keys, nodes — wait until it is back; requests are still routed. Retry in a few seconds.`,
      null,
      { "Retry-After": String(STORE_RETRY_AFTER_S) },
    );
  }
}

/** A leader-only write from a gateway that is no longer (or not yet) the leader. */
export class NotLeaderError extends Error {
  override name = "NotLeaderError";
  constructor() {
    super("this gateway is not the leader");
  }
}
