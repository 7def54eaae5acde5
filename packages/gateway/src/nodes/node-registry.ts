import { createHash, timingSafeEqual } from "node:crypto";
import { EventEmitter } from "node:events";
import type { NodeModelStatus } from "@omnigate/shared/models";
import type { HeartbeatParsed, NodeCertificateView, NodeRegistrationParsed, NodeView } from "@omnigate/shared/node-protocol";
import { NO_EVENTS, type EventSink } from "../events/event-bus.js";
import type { SharedState } from "../store/shared-state.js";
import { announceModelChanges, materialKey, nodeModelKey } from "./node-changes.js";
import { NodeDoc } from "./node-doc.js";
import type { NodeEntry } from "./node-entry.js";
import { hashSecret, newEpoch, type NodeSecrets } from "./node-secrets.js";

export { hashSecret } from "./node-secrets.js";
export type { NodeEntry } from "./node-entry.js";

export interface NodeRegistryEvents {
  /** A node registered, reported new model states, or went offline (here or through another gateway): waiters re-check readiness. */
  change: [entry: NodeEntry];
  /** The node is gone (an admin removed it and revoked its certificates, or it was forgotten): connections to it must end now. */
  deleted: [entry: NodeEntry];
  /**
   * The node's stored row changed (this gateway's write, another's, or a reload); `current`: the
   * entry now holds what the row says, false when the row is older than the report held here;
   * `reportedAt`: the row's report time (which write it is).
   */
  stored: [entry: NodeEntry, current: boolean, reportedAt: number];
}

/**
 * A node offline this long is forgotten (it re-registers if it ever returns: its heartbeat then
 * gets 404 node_not_found). Generous, so a box down for a weekend's repair still shows in
 * /api/nodes as offline; bounded, so nodes replaced for good do not pile up forever.
 */
export const NODE_FORGET_AFTER_MS = 24 * 60 * 60 * 1000;

/** What placement adds to a node's view: its admin state and its ledger. */
export type NodePlacementView = Pick<NodeView, "cordoned" | "draining" | "capacity_mib" | "committed_mib" | "placed_models">;

const UNPLACED: NodePlacementView = { cordoned: false, draining: false, capacity_mib: null, committed_mib: 0, placed_models: [] };

/** A node's id in liveness messages: 72 bits of its runtime_id's hash, 12 characters. */
export function shortIdOf(runtimeId: string): string {
  return createHash("sha256").update(runtimeId).digest().subarray(0, 9).toString("base64url");
}

export interface NodeRegistryOptions {
  readonly state: SharedState;
  readonly secrets: NodeSecrets;
  readonly timeoutMs: number;
  readonly forgetAfterMs?: number;
  readonly now?: () => number;
  readonly events?: EventSink;
}

/**
 * Node agents of the cluster, their reported model states, and liveness. Registrations and reports
 * are shared (the `nodes` table: a node registered through one gateway heartbeats to any other);
 * each gateway keeps them all in memory and reads no database on a heartbeat or a request.
 */
export class NodeRegistry extends EventEmitter<NodeRegistryEvents> {
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #byShortId = new Map<string, NodeEntry>();
  readonly #state: SharedState;
  readonly #secrets: NodeSecrets;
  readonly #timeoutMs: number;
  readonly #forgetAfterMs: number;
  readonly #now: () => number;
  readonly #events: EventSink;
  #placementView: (entry: NodeEntry) => NodePlacementView = () => UNPLACED;

  constructor(options: NodeRegistryOptions) {
    super();
    this.#state = options.state;
    this.#secrets = options.secrets;
    this.#timeoutMs = options.timeoutMs;
    this.#forgetAfterMs = options.forgetAfterMs ?? NODE_FORGET_AFTER_MS;
    this.#now = options.now ?? Date.now;
    this.#events = options.events ?? NO_EVENTS;
    options.state.bind("nodes", { schema: NodeDoc, apply: (id, doc, reloaded) => this.#apply(id, doc, reloaded) });
  }

  /** A (re-)registration makes a new epoch, so a new secret, and forgets what the node reported before. */
  async register(registration: NodeRegistrationParsed, certificate: NodeCertificateView | null = null): Promise<{ entry: NodeEntry; secret: string }> {
    const now = this.#now();
    const doc: NodeDoc = { registration, epoch: newEpoch(), registered_at: now, last_seen: now, reported_at: now, models: [], engines: [], certificate };
    await this.#state.write([{ op: "put", table: "nodes", key: registration.runtime_id, doc }]);
    const entry = this.#nodes.get(registration.runtime_id);
    if (!entry) throw new Error(`node ${registration.runtime_id} was written but is not in the registry`);
    entry.heardAt = now;
    return { entry, secret: entry.secret };
  }

  /** The node whose secret this is, compared in constant time; undefined for anything else. */
  authenticate(runtimeId: string, secret: string): NodeEntry | undefined {
    const entry = this.#nodes.get(runtimeId);
    if (!entry) return undefined;
    return timingSafeEqual(entry.secretHash, hashSecret(secret)) ? entry : undefined;
  }

  /**
   * As `authenticate`, but a node unknown here or with another secret is read from the store once
   * more first: it may have registered through another gateway a moment ago, before the
   * notification arrived. A store that cannot be reached leaves the answer as it is.
   */
  async authenticateFresh(runtimeId: string, secret: string): Promise<NodeEntry | undefined> {
    const entry = this.authenticate(runtimeId, secret);
    if (entry) return entry;
    try {
      await this.#state.refresh("nodes", runtimeId);
    } catch {
      return undefined;
    }
    return this.authenticate(runtimeId, secret);
  }

  /** Whether `digest` (a sha256) is some registered node's secret: a 403, not a 401, on a wrong route. */
  holdsSecret(digest: Buffer): boolean {
    for (const node of this.#nodes.values()) if (timingSafeEqual(digest, node.secretHash)) return true;
    return false;
  }

  /** A heartbeat to this gateway: what the node reports now. The store is written by NodeSync, when it matters. */
  heartbeat(entry: NodeEntry, heartbeat: HeartbeatParsed): void {
    // A renewal's csr is answered, not kept.
    const { models, engines, desired_version: _version, csr: _csr, ...registration } = heartbeat;
    const now = this.#now();
    const before = entry.models;
    entry.registration = registration;
    entry.models = new Map(models.map((m) => [m.name, m]));
    entry.engines = engines;
    entry.lastSeen = now;
    entry.heardAt = now;
    entry.reportedAt = now;
    this.emit("change", entry);
    this.#announceReport(entry, before);
  }

  /**
   * Tells the event stream what a report changed: per model first (a state change must overtake
   * progress held back for the same model), then the node itself when it came back or changed.
   */
  #announceReport(entry: NodeEntry, before: ReadonlyMap<string, NodeModelStatus>): void {
    const cameBack = entry.offline && this.isOnline(entry);
    if (cameBack) entry.offline = false;
    if (!this.#events.active) return;
    announceModelChanges(this.#events, entry.runtimeId, before, entry.models);
    const key = materialKey(entry.registration, entry.engines);
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

  /** Other gateways heard these nodes (liveness messages): they are online as of `at`. */
  seen(shortIds: readonly string[], at: number = this.#now()): void {
    for (const id of shortIds) {
      const entry = this.#byShortId.get(id);
      if (!entry || entry.lastSeen >= at) continue;
      const wasOnline = this.isOnline(entry);
      entry.lastSeen = at;
      if (!wasOnline) this.emit("change", entry);
      if (entry.offline) this.#announceReport(entry, entry.models);
    }
  }

  /** The row this gateway writes for a node it hears from. */
  docOf(entry: NodeEntry): NodeDoc {
    return {
      registration: entry.registration,
      epoch: entry.epoch,
      registered_at: entry.registeredAt,
      last_seen: entry.lastSeen,
      reported_at: entry.reportedAt,
      models: [...entry.models.values()],
      engines: entry.engines,
      certificate: entry.certificate,
    };
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

  /** Deletes the node from the shared state: every gateway forgets it, and its secret authenticates nothing. */
  async forget(runtimeId: string): Promise<boolean> {
    const [deleted] = await this.#state.write([{ op: "delete", table: "nodes", key: runtimeId }]);
    return deleted === true;
  }

  /** How many nodes are known (online or not). */
  get size(): number {
    return this.#nodes.size;
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

  /** An operator cordoned, uncordoned or drained the node (here or through another gateway). */
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

  /** A node's row changed (this gateway's write, another's, or a reload). */
  #apply(runtimeId: string, doc: NodeDoc | undefined, reloaded: boolean): void {
    const entry = this.#nodes.get(runtimeId);
    if (!doc) {
      if (!entry) return;
      this.#nodes.delete(runtimeId);
      this.#byShortId.delete(entry.shortId);
      this.emit("deleted", entry);
      this.emit("change", entry);
      this.#events.publish({ type: "node.removed", runtime_id: runtimeId });
      return;
    }
    if (!entry) {
      const secret = this.#secrets.derive(runtimeId, doc.epoch);
      const created: NodeEntry = {
        runtimeId,
        shortId: shortIdOf(runtimeId),
        registration: doc.registration,
        epoch: doc.epoch,
        secretHash: hashSecret(secret),
        secret,
        models: new Map(doc.models.map((m) => [m.name, m])),
        engines: doc.engines,
        registeredAt: doc.registered_at,
        lastSeen: doc.last_seen,
        heardAt: 0,
        reportedAt: doc.reported_at,
        ejectedUntil: null,
        ejections: 0,
        certificate: doc.certificate,
        ejectionReason: null,
        offline: false,
        announcedKey: materialKey(doc.registration, doc.engines),
      };
      this.#nodes.set(runtimeId, created);
      this.#byShortId.set(created.shortId, created);
      this.emit("change", created);
      // Only built for a stream that listens (a fleet's rows load at start, before any client).
      if (this.#events.active) this.#events.publish({ type: "node.registered", node: this.view(created) });
      return;
    }
    const before = entry.models;
    const registered = doc.epoch !== entry.epoch;
    if (registered) {
      // Registered again (here or elsewhere): a new secret, and nothing of what it reported before.
      entry.epoch = doc.epoch;
      entry.secret = this.#secrets.derive(runtimeId, doc.epoch);
      entry.secretHash = hashSecret(entry.secret);
      entry.registeredAt = doc.registered_at;
      entry.reportedAt = 0;
    }
    // A report older than the one held (this gateway heard a newer heartbeat meanwhile) changes
    // nothing, unless the row comes from a reload after an outage: what this gateway heard while
    // cut off may be a heartbeat the node gave up on, answered after a hang and stamped as new. The
    // node's next heartbeat here, if it still talks to this gateway, is written over the row.
    const current = reloaded || doc.reported_at >= entry.reportedAt;
    if (current) {
      entry.registration = doc.registration;
      entry.models = new Map(doc.models.map((m) => [m.name, m]));
      entry.engines = doc.engines;
      entry.reportedAt = doc.reported_at;
      entry.certificate = doc.certificate;
    }
    entry.lastSeen = Math.max(entry.lastSeen, doc.last_seen);
    this.emit("stored", entry, current, doc.reported_at);
    this.emit("change", entry);
    if (registered) {
      entry.offline = false;
      entry.announcedKey = materialKey(entry.registration, entry.engines);
      if (this.#events.active) this.#events.publish({ type: "node.registered", node: this.view(entry) });
      // A re-registering agent starts from nothing reported: what it said before is gone.
      announceModelChanges(this.#events, entry.runtimeId, before, entry.models);
    } else {
      this.#announceReport(entry, before);
    }
  }
}
