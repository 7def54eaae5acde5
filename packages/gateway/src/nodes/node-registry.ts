import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { EventEmitter } from "node:events";
import type { NodeModelStatus } from "@omnigate/shared/models";
import type { EngineHealth, HeartbeatParsed, NodeCertificateView, NodeRegistrationParsed, NodeView } from "@omnigate/shared/node-protocol";
import { NO_EVENTS, type EventSink } from "../events/event-bus.js";
import { announceModelChanges, materialKey, nodeModelKey } from "./node-changes.js";

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
  /** Why it was last ejected, for views while the ejection lasts. */
  ejectionReason: string | null;
  /** Set once it was announced offline (missed heartbeats), cleared when it reports again. */
  offline: boolean;
  /** What the last `node.updated` (or registration) told about the node, to send only real changes. */
  announcedKey: string;
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

/** What placement adds to a node's view: its admin state and its ledger. */
export type NodePlacementView = Pick<NodeView, "cordoned" | "draining" | "capacity_mib" | "committed_mib" | "placed_models">;

const UNPLACED: NodePlacementView = { cordoned: false, draining: false, capacity_mib: null, committed_mib: 0, placed_models: [] };

/** Node agents known to this gateway, their reported model states, and liveness. */
export class NodeRegistry extends EventEmitter<NodeRegistryEvents> {
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #timeoutMs: number;
  readonly #forgetAfterMs: number;
  readonly #now: () => number;
  readonly #events: EventSink;
  #placementView: (entry: NodeEntry) => NodePlacementView = () => UNPLACED;

  constructor(options: { timeoutMs: number; forgetAfterMs?: number; now?: () => number; events?: EventSink }) {
    super();
    this.#timeoutMs = options.timeoutMs;
    this.#forgetAfterMs = options.forgetAfterMs ?? NODE_FORGET_AFTER_MS;
    this.#now = options.now ?? Date.now;
    this.#events = options.events ?? NO_EVENTS;
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
      ejectionReason: previous?.ejectionReason ?? null,
      offline: false,
      announcedKey: materialKey(registration, []),
    };
    this.#nodes.set(entry.runtimeId, entry);
    this.emit("change", entry);
    if (this.#events.active) {
      this.#events.publish({ type: "node.registered", node: this.view(entry) });
      // A re-registering agent starts from nothing reported: what it said before is gone.
      if (previous) announceModelChanges(this.#events, entry.runtimeId, previous.models, entry.models);
    }
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
    const before = entry.models;
    entry.registration = registration;
    entry.models = new Map(models.map((m) => [m.name, m]));
    entry.engines = engines;
    entry.lastSeen = this.#now();
    const cameBack = entry.offline;
    entry.offline = false;
    this.emit("change", entry);
    if (!this.#events.active) return;
    // Per model first: a state change must overtake progress held back for the same model.
    announceModelChanges(this.#events, entry.runtimeId, before, entry.models);
    const key = materialKey(registration, engines);
    if (cameBack) {
      entry.announcedKey = key;
      this.#events.publish({ type: "node.online", node: this.view(entry) });
    } else if (key !== entry.announcedKey) {
      entry.announcedKey = key;
      this.#events.publish({ type: "node.updated", node: this.view(entry) });
    }
  }

  /** The node missed its heartbeats (the offline sweeper noticed): told once per absence. */
  markOffline(entry: NodeEntry): void {
    if (entry.offline) return;
    entry.offline = true;
    this.emit("change", entry);
    this.#events.publish({ type: "node.offline", node: this.view(entry) });
  }

  /** Outlier detection took the node out of rotation until `entry.ejectedUntil`. */
  markEjected(entry: NodeEntry, reason: string): void {
    entry.ejectionReason = reason;
    if (entry.ejectedUntil === null) return;
    this.#events.publish({ type: "node.ejected", node: this.view(entry), reason, until: entry.ejectedUntil });
  }

  /** The ejection's cool-down ended: the node gets traffic again. */
  ejectionEnded(entry: NodeEntry): void {
    if (this.isEjected(entry)) return;
    this.#events.publish({ type: "node.updated", node: this.view(entry) });
  }

  /**
   * The node answered that it does not serve `model` although its last heartbeat said ready: the
   * gateway stops counting it as ready there (views show `pending`) until its next heartbeat.
   */
  markNotReady(entry: NodeEntry, model: string): void {
    if (entry.models.get(model)?.state !== "ready") return;
    entry.models.delete(model);
    this.emit("change", entry);
    this.#announceModelGone(entry, model);
  }

  /**
   * A deleted model's reports are dropped from every node at once: a model registered again under
   * the same name is `pending` everywhere until each node reports on the new one, never `ready` on
   * the strength of a report about the engine that was deleted.
   */
  forgetModel(model: string): void {
    for (const entry of this.#nodes.values()) {
      if (!entry.models.delete(model)) continue;
      this.emit("change", entry);
      this.#announceModelGone(entry, model);
    }
  }

  #announceModelGone(entry: NodeEntry, model: string): void {
    this.#events.publish({ type: "node.model_removed", runtime_id: entry.runtimeId, name: model }, { coalesce: nodeModelKey(entry.runtimeId, model), urgent: true });
  }

  /** Whether the node has been offline longer than the forget bound (NODE_FORGET_AFTER_MS). */
  isForgettable(entry: NodeEntry): boolean {
    return this.#now() - entry.lastSeen > this.#timeoutMs + this.#forgetAfterMs;
  }

  /** Drops the node from memory; its secret no longer authenticates anything. */
  remove(runtimeId: string): boolean {
    if (!this.#nodes.delete(runtimeId)) return false;
    this.#events.publish({ type: "node.removed", runtime_id: runtimeId });
    return true;
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

  /**
   * Where views get the admin state and the ledger from. Placement sits above the registry (it
   * reads the nodes), so it hands this in once it exists.
   */
  describePlacementWith(view: (entry: NodeEntry) => NodePlacementView): void {
    this.#placementView = view;
  }

  /** An operator cordoned, uncordoned or drained the node (the node admin state changed). */
  adminChanged(runtimeId: string, state: { cordoned: boolean; draining: boolean }): void {
    const entry = this.#nodes.get(runtimeId);
    if (!entry) return;
    const type = state.draining ? "node.draining" : state.cordoned ? "node.cordoned" : "node.uncordoned";
    this.#events.publish({ type, node: this.view(entry) });
  }

  /** What placement committed on the node changed: its view again, coalesced per node. */
  ledgerChanged(runtimeId: string): void {
    this.#events.publish(
      () => {
        const entry = this.#nodes.get(runtimeId);
        return entry ? { type: "node.updated", node: this.view(entry) } : undefined;
      },
      { coalesce: `ledger\0${runtimeId}` },
    );
  }

  /** The node as `GET /api/nodes` shows it, with placement's admin state and ledger. */
  view(entry: NodeEntry, placement: NodePlacementView = this.#placementView(entry)): NodeView {
    const r = entry.registration;
    return {
      runtime_id: entry.runtimeId,
      hostname: r.hostname,
      agent_url: r.agent_url,
      version: r.version,
      online: this.isOnline(entry),
      ejected_until: this.isEjected(entry) ? entry.ejectedUntil : null,
      ejection_reason: this.isEjected(entry) ? entry.ejectionReason : null,
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
