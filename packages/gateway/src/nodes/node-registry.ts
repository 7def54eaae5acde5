import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { EventEmitter } from "node:events";
import type { NodeModelStatus } from "@omnigate/shared/models";
import type { EngineHealth, HeartbeatParsed, NodeCertificateView, NodeRegistrationParsed, NodeView } from "@omnigate/shared/node-protocol";

/** One registered node agent. Lives in memory: after a gateway restart nodes register again. */
export interface NodeEntry {
  readonly runtimeId: string;
  registration: NodeRegistrationParsed;
  /** sha256 of the node secret: what heartbeats are checked against. */
  readonly secretHash: Buffer;
  /** The secret itself, kept in memory only (never persisted or logged) to call the agent. */
  readonly secret: string;
  /** Per assigned model, what the node last reported. */
  models: Map<string, NodeModelStatus>;
  engines: EngineHealth[];
  readonly registeredAt: number;
  lastSeen: number;
  /** Outlier detection: no traffic until this Unix-ms time (null = not ejected). */
  ejectedUntil: number | null;
  /** How many times it was ejected: each ejection lasts longer. */
  ejections: number;
  /** Its current TLS certificate (null: it serves plain HTTP on loopback). */
  certificate: NodeCertificateView | null;
}

export interface NodeRegistryEvents {
  /** A node registered, reported new model states, or went offline: waiters re-check readiness. */
  change: [entry: NodeEntry];
  /** An admin removed the node (its certificates are revoked): connections to it must end now. */
  deleted: [entry: NodeEntry];
}

/**
 * A node offline this long is dropped from memory (it re-registers if it ever returns: its
 * heartbeat then gets 404 node_not_found). Generous, so a box down for a weekend's repair still
 * shows in /api/nodes as offline; bounded, so nodes replaced for good do not pile up forever.
 */
export const NODE_FORGET_AFTER_MS = 24 * 60 * 60 * 1000;

export function hashSecret(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}

const UNPLACED = { cordoned: false, draining: false, capacity_mib: null, committed_mib: 0, placed_models: [] };

/** Node agents known to this gateway, their reported model states, and liveness. */
export class NodeRegistry extends EventEmitter<NodeRegistryEvents> {
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #timeoutMs: number;
  readonly #forgetAfterMs: number;
  readonly #now: () => number;

  constructor(options: { timeoutMs: number; forgetAfterMs?: number; now?: () => number }) {
    super();
    this.#timeoutMs = options.timeoutMs;
    this.#forgetAfterMs = options.forgetAfterMs ?? NODE_FORGET_AFTER_MS;
    this.#now = options.now ?? Date.now;
  }

  /** A (re-)registration replaces the node's secret and forgets what it reported before. */
  register(registration: NodeRegistrationParsed, certificate: NodeCertificateView | null = null): { entry: NodeEntry; secret: string } {
    const secret = `ogn_${randomBytes(32).toString("base64url")}`;
    const now = this.#now();
    const previous = this.#nodes.get(registration.runtime_id);
    const entry: NodeEntry = {
      runtimeId: registration.runtime_id,
      registration,
      secretHash: hashSecret(secret),
      secret,
      models: new Map(),
      engines: [],
      registeredAt: now,
      lastSeen: now,
      ejectedUntil: previous?.ejectedUntil ?? null,
      ejections: previous?.ejections ?? 0,
      certificate,
    };
    this.#nodes.set(entry.runtimeId, entry);
    this.emit("change", entry);
    return { entry, secret };
  }

  /** The node whose secret this is, compared in constant time; undefined for anything else. */
  authenticate(runtimeId: string, secret: string): NodeEntry | undefined {
    const entry = this.#nodes.get(runtimeId);
    if (!entry) return undefined;
    return timingSafeEqual(entry.secretHash, hashSecret(secret)) ? entry : undefined;
  }

  /** Whether `digest` (a sha256) is some registered node's secret: a 403, not a 401, on a wrong route. */
  holdsSecret(digest: Buffer): boolean {
    for (const node of this.#nodes.values()) if (timingSafeEqual(digest, node.secretHash)) return true;
    return false;
  }

  heartbeat(entry: NodeEntry, heartbeat: HeartbeatParsed): void {
    // A renewal's csr is answered, not kept.
    const { models, engines, csr: _csr, ...registration } = heartbeat;
    entry.registration = registration;
    entry.models = new Map(models.map((m) => [m.name, m]));
    entry.engines = engines;
    entry.lastSeen = this.#now();
    this.emit("change", entry);
  }

  /**
   * The node answered that it does not serve `model` although its last heartbeat said ready: the
   * gateway stops counting it as ready there (views show `pending`) until its next heartbeat.
   */
  markNotReady(entry: NodeEntry, model: string): void {
    if (entry.models.get(model)?.state !== "ready") return;
    entry.models.delete(model);
    this.emit("change", entry);
  }

  /**
   * A deleted model's reports are dropped from every node at once: a model registered again under
   * the same name is `pending` everywhere until each node reports on the new one, never `ready` on
   * the strength of a report about the engine that was deleted.
   */
  forgetModel(model: string): void {
    for (const entry of this.#nodes.values()) {
      if (entry.models.delete(model)) this.emit("change", entry);
    }
  }

  /** Whether the node has been offline longer than the forget bound (NODE_FORGET_AFTER_MS). */
  isForgettable(entry: NodeEntry): boolean {
    return this.#now() - entry.lastSeen > this.#timeoutMs + this.#forgetAfterMs;
  }

  /** Drops the node from memory; its secret no longer authenticates anything. */
  remove(runtimeId: string): boolean {
    return this.#nodes.delete(runtimeId);
  }

  /** How many nodes are known (online or not). */
  get size(): number {
    return this.#nodes.size;
  }

  /** An admin removed the node: it is forgotten, and whoever holds connections to it is told to cut them. */
  delete(runtimeId: string): NodeEntry | undefined {
    const entry = this.#nodes.get(runtimeId);
    if (!entry) return undefined;
    this.#nodes.delete(runtimeId);
    this.emit("deleted", entry);
    this.emit("change", entry);
    return entry;
  }

  get(runtimeId: string): NodeEntry | undefined {
    return this.#nodes.get(runtimeId);
  }

  list(): NodeEntry[] {
    return [...this.#nodes.values()];
  }

  isOnline(entry: NodeEntry): boolean {
    return this.#now() - entry.lastSeen <= this.#timeoutMs;
  }

  online(): NodeEntry[] {
    return this.list().filter((n) => this.isOnline(n));
  }

  isEjected(entry: NodeEntry): boolean {
    return entry.ejectedUntil !== null && entry.ejectedUntil > this.#now();
  }

  /** The node as `GET /api/nodes` shows it; `placement` adds the admin state and the ledger. */
  view(entry: NodeEntry, placement: Pick<NodeView, "cordoned" | "draining" | "capacity_mib" | "committed_mib" | "placed_models"> = UNPLACED): NodeView {
    const r = entry.registration;
    return {
      runtime_id: entry.runtimeId,
      hostname: r.hostname,
      agent_url: r.agent_url,
      version: r.version,
      online: this.isOnline(entry),
      ejected_until: this.isEjected(entry) ? entry.ejectedUntil : null,
      supported_runtimes: r.supported_runtimes,
      loaded_models: r.loaded_models,
      models: [...entry.models.values()],
      engines: entry.engines,
      gpus: r.gpus,
      labels: r.labels,
      registered_at: entry.registeredAt,
      last_seen: entry.lastSeen,
      capacity: r.capacity ?? null,
      cached: r.cached ?? [],
      ...placement,
      certificate: entry.certificate,
    };
  }
}
