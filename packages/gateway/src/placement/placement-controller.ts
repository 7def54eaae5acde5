import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { ModelRecord } from "@omnigate/shared/models";
import type { HeartbeatResponse } from "@omnigate/shared/node-protocol";
import type { Logger } from "../logger.js";
import type { NodeAdmin } from "../nodes/node-admin.js";
import type { NodeEntry, NodeRegistry } from "../nodes/node-registry.js";
import type { ModelStore } from "../store/model-store.js";
import type { PlacementStore } from "../store/placement-store.js";
import { computePlacement } from "./compute-placement.js";
import type { ModelEstimator } from "./model-estimator.js";
import { capacityMib, holdsFiles, needMib, standingOf } from "./node-inputs.js";
import type { NodeStanding, PlacementModel, PlacementNode, Replica } from "./placement-types.js";

export interface PlacementControllerDeps {
  readonly models: ModelStore;
  readonly nodes: NodeRegistry;
  readonly admin: NodeAdmin;
  readonly estimator: ModelEstimator;
  readonly store: PlacementStore;
  /** Requests the gateway has in flight for the model on the node. */
  readonly inFlight: (node: string, model: string) => number;
  readonly replaceAfterMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface PlacementControllerEvents {
  /** A model's replicas changed (placed, moved, removed); `replicas` is the new list. */
  placement: [model: string, replicas: readonly Replica[]];
}

/**
 * Recomputes triggered by heartbeats (a node's report changed) run at most this often: on a
 * fleet of thousands some node reports a change in almost every event-loop turn, and a recompute
 * scans every node. Operator actions (register, patch, cordon) recompute at once.
 */
const MIN_RECOMPUTE_GAP_MS = 250;

/** A removed replica keeps its node's copy this long at most while its last requests finish. */
const RETIRE_MAX_MS = 10 * 60_000;

/**
 * Owns the placement: recomputes it (compute-placement.ts) on every change that matters — a model
 * registered, patched or deleted, its estimate arriving, a node joining, leaving, relabelled,
 * cordoned, reporting a model ready — persists it, and answers from it: each node's desired set
 * (the heartbeat answer) and each model's routable nodes (the data plane).
 *
 * A replica that placement removes is not dropped from its node at once: it takes no new requests,
 * and stays in the node's desired set until the gateway's requests to it have finished.
 */
export class PlacementController extends EventEmitter<PlacementControllerEvents> {
  readonly #d: PlacementControllerDeps;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #startedAt: number;
  #placement: Map<string, Replica[]>;
  #errors = new Map<string, string[]>();
  /** node → models placed there (serving or leaving). */
  #byNode = new Map<string, Set<string>>();
  /** model → nodes that may take its requests (serving or leaving). */
  #routable = new Map<string, string[]>();
  /** node → model → since when it is being retired (removed, finishing its requests). */
  readonly #retiring = new Map<string, Map<string, number>>();
  /** node → version of its desired set; a new one whenever the set changes. */
  readonly #versions = new Map<string, string>();
  readonly #boot = randomBytes(4).toString("hex");
  #generation = 0;
  readonly #fingerprints = new WeakMap<NodeEntry, string>();
  #standings = new Map<string, NodeStanding>();
  #scheduled = false;
  /** Callers of settled() waiting for the scheduled recompute. */
  #settling: Array<() => void> = [];
  #lastRun = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #unsubscribe: Array<() => void> = [];

  constructor(deps: PlacementControllerDeps) {
    super();
    this.#d = deps;
    this.#log = deps.logger.child({ component: "placement" });
    this.#now = deps.now ?? Date.now;
    this.#startedAt = this.#now();
    this.#placement = deps.store.loadPlacement();
    this.#reindex();
  }

  /** Subscribes to every input and computes the first placement. Safe to call twice. */
  start(): void {
    if (this.#unsubscribe.length > 0) return;
    const on = <A extends unknown[]>(emitter: unknown, event: string, fn: (...args: A) => void) => {
      const e = emitter as EventEmitter;
      e.on(event, fn as (...args: unknown[]) => void);
      this.#unsubscribe.push(() => e.off(event, fn as (...args: unknown[]) => void));
    };
    on(this.#d.models, "change", (name: string, record: ModelRecord | undefined, previous: ModelRecord | undefined) => {
      if (!record) this.#d.estimator.forget(name);
      else if (!previous || previous.repo !== record.repo) this.#d.estimator.ensure(record);
      // The record the nodes hold changed: every node with it gets its desired set again.
      for (const [node, models] of this.#byNode) if (models.has(name)) this.#bump(node);
      this.schedule();
    });
    on(this.#d.estimator, "change", () => this.schedule());
    on(this.#d.admin, "change", () => this.schedule());
    on(this.#d.nodes, "change", (entry: NodeEntry) => {
      const print = this.#fingerprint(entry);
      if (this.#fingerprints.get(entry) === print) return;
      this.#fingerprints.set(entry, print);
      this.schedule();
    });
    for (const m of this.#d.models.list()) this.#d.estimator.ensure(m);
    this.recompute();
    this.#arm();
  }

  stop(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const resolve of this.#settling.splice(0)) resolve();
  }

  /** Recompute soon, once, however many changes arrive meanwhile. */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const wait = Math.max(0, this.#lastRun + MIN_RECOMPUTE_GAP_MS - performance.now());
    setTimeout(() => {
      this.#scheduled = false;
      try {
        this.recompute();
      } catch (err) {
        this.#log.error({ err }, "placement failed");
      } finally {
        for (const resolve of this.#settling.splice(0)) resolve();
      }
    }, wait).unref();
  }

  /**
   * Resolves once every change seen so far is in the placement: at once when no recompute is
   * scheduled. A node's registration waits for it, so its first heartbeat already gets its models
   * (thousands registering together after a gateway restart share the same few recomputes).
   */
  settled(): Promise<void> {
    if (!this.#scheduled) return Promise.resolve();
    return new Promise((resolve) => this.#settling.push(resolve));
  }

  recompute(): void {
    const started = performance.now();
    this.#lastRun = started;
    const now = this.#now();
    const records = this.#d.models.list();
    const entries = new Map(this.#d.nodes.list().map((e) => [e.runtimeId, e]));
    const nodes: PlacementNode[] = [];
    const standings = new Map<string, NodeStanding>();
    for (const e of entries.values()) {
      const standing = standingOf({ online: this.#d.nodes.isOnline(e), sinceSeenMs: now - e.lastSeen, replaceAfterMs: this.#d.replaceAfterMs, admin: this.#d.admin.get(e.runtimeId) });
      standings.set(e.runtimeId, standing);
      nodes.push({
        id: e.runtimeId,
        label: e.registration.hostname,
        runtimes: new Set(e.registration.supported_runtimes),
        labels: e.registration.labels,
        capacityMib: capacityMib(e.registration),
        standing,
      });
    }
    // Nodes placed on but not registered since this gateway started: offline since then.
    for (const replicas of this.#placement.values()) {
      for (const r of replicas) {
        if (entries.has(r.node) || standings.has(r.node)) continue;
        const standing = now - this.#startedAt >= this.#d.replaceAfterMs ? "lost" : "offline";
        standings.set(r.node, standing);
        nodes.push({ id: r.node, label: r.node.slice(0, 8), runtimes: new Set(records.map((m) => m.runtime)), labels: {}, capacityMib: null, standing });
      }
    }
    this.#standings = standings;
    const byName = new Map(records.map((m) => [m.name, m]));
    const need = new Map<string, Map<unknown, number>>();
    const models: PlacementModel[] = records.map((m) => {
      const pending = m.resources || this.#d.estimator.get(m.name) ? undefined : (this.#d.estimator.pendingReason(m.name) ?? "memory estimate pending");
      return { name: m.name, runtime: m.runtime, replicas: m.replicas, selector: m.node_selector, policy: m.placement_policy, ...(pending ? { pending } : {}) };
    });
    const result = computePlacement({
      models,
      nodes,
      current: this.#placement,
      now,
      needMib: (model, node) => {
        const record = byName.get(model.name)!;
        const settings = entries.get(node.id)?.registration.llama;
        let perModel = need.get(model.name);
        if (!perModel) need.set(model.name, (perModel = new Map()));
        let mib = perModel.get(settings);
        if (mib === undefined) {
          mib = needMib(record, this.#d.estimator.get(model.name), settings) ?? 0;
          perModel.set(settings, mib);
        }
        return mib;
      },
      holdsFiles: (model, node) => holdsFiles(entries.get(node.id)?.registration.cached, byName.get(model.name)!.repo, this.#d.estimator.get(model.name)),
      isReady: (model, node) => {
        const e = entries.get(node);
        return e !== undefined && this.#d.nodes.isOnline(e) && e.models.get(model)?.state === "ready";
      },
      load: (model, node) => this.#d.inFlight(node, model),
    });
    this.#errors = result.errors;
    if (result.changed.size === 0) return;
    const previous = this.#placement;
    this.#placement = result.placement;
    for (const name of result.changed) {
      const before = previous.get(name) ?? [];
      const after = result.placement.get(name) ?? [];
      this.#d.store.savePlacement(name, after);
      // Replicas that were serving and are gone: retire them (no new requests; their last ones finish).
      for (const r of before) {
        if (r.role === "lost" || after.some((a) => a.node === r.node && a.role !== "lost")) continue;
        if (byName.has(name) && this.#d.inFlight(r.node, name) > 0) this.#retire(r.node, name, now);
      }
    }
    this.#reindex();
    // Listeners (waiting requests) read routable(): told once the index is current.
    for (const name of result.changed) this.emit("placement", name, result.placement.get(name) ?? []);
    this.#log.info({ changed: [...result.changed], ms: Math.round(performance.now() - started) }, "placement changed");
  }

  /** The heartbeat answer's model part: the full set only when the agent's version is not current. */
  desiredFor(runtimeId: string, agentVersion: string | undefined): Pick<HeartbeatResponse, "models" | "desired_version"> {
    this.#pruneRetiring(runtimeId);
    let version = this.#versions.get(runtimeId);
    if (!version) version = this.#bump(runtimeId);
    if (agentVersion === version) return { desired_version: version };
    const names = new Set(this.#byNode.get(runtimeId));
    for (const name of this.#retiring.get(runtimeId)?.keys() ?? []) names.add(name);
    const models: ModelRecord[] = [];
    for (const name of names) {
      const record = this.#d.models.get(name);
      if (record) models.push(record);
    }
    return { models, desired_version: version };
  }

  /** Nodes that may take the model's requests now (placed, not retiring), in id order. */
  routable(model: string): readonly string[] {
    return this.#routable.get(model) ?? [];
  }

  replicas(model: string): readonly Replica[] {
    return this.#placement.get(model) ?? [];
  }

  errors(model: string): readonly string[] {
    return this.#errors.get(model) ?? [];
  }

  /** The estimate shown for the model: the override, else at the default engine settings; undefined while pending. */
  memoryMib(model: ModelRecord): number | undefined {
    return needMib(model, this.#d.estimator.get(model.name), undefined);
  }

  /** The ledger of one node: its capacity, what is committed and to which models. */
  ledger(entry: NodeEntry): { capacityMib: number | null; committedMib: number; models: string[] } {
    const models = [...(this.#byNode.get(entry.runtimeId) ?? [])].sort();
    let committed = 0;
    for (const name of models) {
      const record = this.#d.models.get(name);
      if (record) committed += needMib(record, this.#d.estimator.get(name), entry.registration.llama) ?? 0;
    }
    return { capacityMib: capacityMib(entry.registration), committedMib: committed, models };
  }

  #retire(node: string, model: string, now: number): void {
    let m = this.#retiring.get(node);
    if (!m) this.#retiring.set(node, (m = new Map()));
    if (!m.has(model)) m.set(model, now);
  }

  /** Retiring replicas whose requests have all ended (or that waited too long) leave the node's set. */
  #pruneRetiring(node: string): void {
    const m = this.#retiring.get(node);
    if (!m) return;
    const now = this.#now();
    let pruned = false;
    for (const [model, since] of m) {
      if (this.#d.inFlight(node, model) === 0 || now - since > RETIRE_MAX_MS || this.#byNode.get(node)?.has(model)) {
        m.delete(model);
        pruned = true;
      }
    }
    if (m.size === 0) this.#retiring.delete(node);
    if (pruned) this.#bump(node);
  }

  #reindex(): void {
    const byNode = new Map<string, Set<string>>();
    const routable = new Map<string, string[]>();
    for (const [model, replicas] of this.#placement) {
      const nodes: string[] = [];
      for (const r of replicas) {
        if (r.role === "lost") continue;
        nodes.push(r.node);
        let s = byNode.get(r.node);
        if (!s) byNode.set(r.node, (s = new Set()));
        s.add(model);
      }
      if (nodes.length > 0) routable.set(model, nodes);
    }
    for (const node of new Set([...byNode.keys(), ...this.#byNode.keys()])) {
      if (!sameSet(byNode.get(node), this.#byNode.get(node))) this.#bump(node);
    }
    this.#byNode = byNode;
    this.#routable = routable;
  }

  #bump(node: string): string {
    const version = `${this.#boot}-${++this.#generation}`;
    this.#versions.set(node, version);
    return version;
  }

  /** What about a node placement depends on; a heartbeat that changes none of it recomputes nothing. */
  #fingerprint(e: NodeEntry): string {
    const r = e.registration;
    let ready = "";
    for (const [name, s] of e.models) if (s.state === "ready") ready += `${name}\u0000`;
    let cached = "";
    for (const c of r.cached ?? []) cached += `${c.repo}@${c.commit}:${c.files.length}\u0000`;
    return `${this.#d.nodes.isOnline(e)}|${r.supported_runtimes.join(",")}|${JSON.stringify(r.labels)}|${capacityMib(r)}|${JSON.stringify(r.llama ?? null)}|${cached}|${ready}`;
  }

  /** Going lost (offline past the grace) is the passing of time, not an event: checked on a timer. */
  #arm(): void {
    const every = Math.max(50, Math.min(1_000, Math.floor(this.#d.replaceAfterMs / 4)));
    this.#timer = setTimeout(() => {
      try {
        const now = this.#now();
        let moved = false;
        for (const e of this.#d.nodes.list()) {
          const standing = standingOf({ online: this.#d.nodes.isOnline(e), sinceSeenMs: now - e.lastSeen, replaceAfterMs: this.#d.replaceAfterMs, admin: this.#d.admin.get(e.runtimeId) });
          if (this.#standings.get(e.runtimeId) !== standing) moved = true;
        }
        // Nodes not registered since the gateway started turn lost once the grace has passed since then.
        const ghostsLost = now - this.#startedAt >= this.#d.replaceAfterMs;
        for (const [id, standing] of this.#standings) {
          if (standing === "offline" && ghostsLost && !this.#d.nodes.get(id)) moved = true;
        }
        if (moved) this.schedule();
      } catch (err) {
        this.#log.error({ err }, "placement check failed");
      }
      if (this.#unsubscribe.length > 0) this.#arm();
    }, every);
    this.#timer.unref();
  }
}

function sameSet(a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean {
  if ((a?.size ?? 0) !== (b?.size ?? 0)) return false;
  for (const x of a ?? []) if (!b?.has(x)) return false;
  return true;
}
