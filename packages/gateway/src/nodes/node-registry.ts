import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { EventEmitter } from "node:events";
import type { NodeModelStatus } from "@omnigate/shared/models";
import type { EngineHealth, HeartbeatParsed, NodeRegistrationParsed, NodeView } from "@omnigate/shared/node-protocol";

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
}

export interface NodeRegistryEvents {
  /** A node registered, reported new model states, or went offline: waiters re-check readiness. */
  change: [entry: NodeEntry];
}

export function hashSecret(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}

/** Node agents known to this gateway, their reported model states, and liveness. */
export class NodeRegistry extends EventEmitter<NodeRegistryEvents> {
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #timeoutMs: number;
  readonly #now: () => number;

  constructor(options: { timeoutMs: number; now?: () => number }) {
    super();
    this.#timeoutMs = options.timeoutMs;
    this.#now = options.now ?? Date.now;
  }

  /** A (re-)registration replaces the node's secret and forgets what it reported before. */
  register(registration: NodeRegistrationParsed): { entry: NodeEntry; secret: string } {
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

  heartbeat(entry: NodeEntry, heartbeat: HeartbeatParsed): void {
    const { models, engines, ...registration } = heartbeat;
    entry.registration = registration;
    entry.models = new Map(models.map((m) => [m.name, m]));
    entry.engines = engines;
    entry.lastSeen = this.#now();
    this.emit("change", entry);
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

  view(entry: NodeEntry): NodeView {
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
    };
  }
}
