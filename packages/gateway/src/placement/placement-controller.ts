import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { ModelRecord } from "@omnigate/shared/models";
import type { HeartbeatResponse } from "@omnigate/shared/node-protocol";
import type { Logger } from "../logger.js";
import type { NodeAdmin } from "../nodes/node-admin.js";
import type { NodeEntry, NodeRegistry } from "../nodes/node-registry.js";
import type { ModelStore } from "../store/model-store.js";
import { ModelPlacement } from "../store/placement-store.js";
import type { SharedState } from "../store/shared-state.js";
import { NotLeaderError, type WriteOp } from "../store/store-contract.js";
import { computePlacement } from "./compute-placement.js";
import type { ModelEstimator } from "./model-estimator.js";
import { capacityMib, holdsFiles, needMib, standingOf } from "./node-inputs.js";
import type { NodeStanding, PlacementModel, PlacementNode, Replica } from "./placement-types.js";
import { ReplicaHolds } from "./replica-holds.js";

export interface PlacementControllerDeps {
  readonly models: ModelStore;
  readonly nodes: NodeRegistry;
  readonly admin: NodeAdmin;
  readonly estimator: ModelEstimator;
  readonly state: SharedState;
  /** Requests the gateway has in flight for the model on the node. */
  readonly inFlight: (node: string, model: string) => number;
  readonly replaceAfterMs: number;
  /** With other gateways: how long a removed replica stays on its node at least, for their holds to arrive (0 alone). */
  readonly holdGraceMs?: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface PlacementControllerEvents {
  /** A model's replicas changed (placed, moved, removed), by this gateway or the leader; `replicas` is the new list. */
  placement: [model: string, replicas: readonly Replica[]];
}

/**
 * Recomputes triggered by heartbeats (a node's report changed) run at most this often: on a
 * fleet of thousands some node reports a change in almost every event-loop turn, and a recompute
 * scans every node. Operator actions (register, patch, cordon) recompute at once.
 */
const MIN_RECOMPUTE_GAP_MS = 250;

/**
 * The placement (compute-placement.ts), shared by every gateway in the `placements` table. The
 * leader alone computes it — on every change that matters: a model registered, patched or deleted,
 * its estimate arriving, a node joining, leaving, relabelled, cordoned, reporting a model ready —
 * and writes it; every gateway (the leader too) applies what is written, and answers from it: each
 * node's desired set (the heartbeat answer) and each model's routable nodes (the data plane).
 *
 * A replica that placement removes is not dropped from its node at once: it takes no new requests,
 * and stays in the node's desired set until every gateway's requests to it have finished (ReplicaHolds).
 */
export class PlacementController extends EventEmitter<PlacementControllerEvents> {
  readonly #d: PlacementControllerDeps;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #placement = new Map<string, Replica[]>();
  readonly #errors = new Map<string, string[]>();
  /** node → models placed there (serving or leaving). */
  readonly #byNode = new Map<string, Set<string>>();
  /** model → nodes that may take its requests (serving or leaving). */
  readonly #routable = new Map<string, string[]>();
  readonly #holds: ReplicaHolds;
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
  /** The recompute in progress: they never overlap (each writes the placement the next one reads). */
  #running: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  readonly #unsubscribe: Array<() => void> = [];

  constructor(deps: PlacementControllerDeps) {
    super();
    this.#d = deps;
    this.#log = deps.logger.child({ component: "placement" });
    this.#now = deps.now ?? Date.now;
    this.#startedAt = this.#now();
    this.#holds = new ReplicaHolds({
      bus: deps.state.bus,
      inFlight: deps.inFlight,
      graceMs: deps.holdGraceMs ?? 0,
      onChange: (node) => this.#bump(node),
      now: this.#now,
    });
    deps.state.bind("placements", { schema: ModelPlacement, apply: (model, doc) => this.#apply(model, doc) });
  }

  get #leading(): boolean {
    return this.#d.state.bus.isLeader;
  }

  /** Subscribes to every input and, on the leader, computes the first placement. Safe to call twice. */
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
    on(this.#d.state.bus, "message", (message: Parameters<ReplicaHolds["message"]>[0], from: string) => this.#holds.message(message, from));
    // A new leader takes over the work: estimates still missing, and a placement of its own.
    on(this.#d.state.bus, "leader", (leading: boolean) => {
      if (!leading) return;
      for (const m of this.#d.models.list()) this.#d.estimator.ensure(m);
      this.schedule();
    });
    for (const m of this.#d.models.list()) this.#d.estimator.ensure(m);
    this.schedule();
    this.#arm();
  }

  stop(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const resolve of this.#settling.splice(0)) resolve();
  }

  /** Recompute soon, once, however many changes arrive meanwhile (the leader alone recomputes). */
  schedule(): void {
    if (this.#scheduled || !this.#leading) return;
    this.#scheduled = true;
    const wait = Math.max(0, this.#lastRun + MIN_RECOMPUTE_GAP_MS - performance.now());
    setTimeout(() => {
      this.#scheduled = false;
      void this.recompute().finally(() => {
        for (const resolve of this.#settling.splice(0)) resolve();
      });
    }, wait).unref();
  }

  /**
   * Resolves once every change seen so far is in the placement: at once when no recompute is
   * scheduled (or another gateway leads). A node's registration waits for it, so its first
   * heartbeat already gets its models (thousands registering together after a gateway restart
   * share the same few recomputes).
   */
  settled(): Promise<void> {
    if (!this.#scheduled) return this.#running;
    return new Promise((resolve) => this.#settling.push(resolve));
  }

  /** On the leader: computes the placement now and writes what changed; elsewhere nothing (the leader will). */
  recompute(): Promise<void> {
    const run = this.#running.then(() => this.#recompute());
    this.#running = run.catch(() => {});
    return run.catch((err: unknown) => {
      if (err instanceof NotLeaderError) return;
      this.#log.warn({ err }, "placement not written; it is computed again at the next change");
    });
  }

  async #recompute(): Promise<void> {
    if (!this.#leading) return;
    const started = performance.now();
    this.#lastRun = started;
    const now = this.#now();
    const records = this.#d.models.list();
    const entries = new Map(this.#d.nodes.list().map((e) => [e.runtimeId, e]));
    const nodes: PlacementNode[] = [];
    const standings = new Map<string, NodeStanding>();
    for (const e of entries.values()) {
      const standing = this.#standingOf(e, now);
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
    // Nodes placed on but no longer known (forgotten, removed): offline since this gateway started.
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
    // What other gateways must see: replicas that moved, and reasons that changed.
    const ops: WriteOp[] = [];
    const names = new Set([...result.changed, ...result.errors.keys(), ...this.#errors.keys()]);
    for (const name of names) {
      const replicas = result.placement.get(name) ?? [];
      const errors = result.errors.get(name) ?? [];
      if (!result.changed.has(name) && sameList(errors, this.#errors.get(name) ?? [])) continue;
      if (replicas.length === 0 && errors.length === 0) ops.push({ op: "delete", table: "placements", key: name });
      else ops.push({ op: "put", table: "placements", key: name, doc: { replicas, errors } satisfies ModelPlacement });
    }
    if (ops.length === 0) return;
    await this.#d.state.write(ops, { leader: true });
    if (result.changed.size > 0) this.#log.info({ changed: [...result.changed], ms: Math.round(performance.now() - started) }, "placement changed");
  }

  /** The heartbeat answer's model part: the full set only when the agent's version is not current. */
  desiredFor(runtimeId: string, agentVersion: string | undefined): Pick<HeartbeatResponse, "models" | "desired_version"> {
    let version = this.#versions.get(runtimeId);
    if (!version) version = this.#bump(runtimeId);
    if (agentVersion === version) return { desired_version: version };
    const names = new Set(this.#byNode.get(runtimeId));
    for (const name of this.#holds.held(runtimeId)) names.add(name);
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

  /** A model's placement row changed (the leader's write, here or through a notification). */
  #apply(model: string, doc: ModelPlacement | undefined): void {
    const before = this.#placement.get(model) ?? [];
    const after = doc?.replicas ?? [];
    if (after.length > 0) this.#placement.set(model, after);
    else this.#placement.delete(model);
    if (doc && doc.errors.length > 0) this.#errors.set(model, doc.errors);
    else this.#errors.delete(model);
    if (sameReplicas(before, after)) return;
    const placed = (list: readonly Replica[]) => new Set(list.filter((r) => r.role !== "lost").map((r) => r.node));
    const was = placed(before);
    const is = placed(after);
    for (const node of was) {
      if (is.has(node)) continue;
      this.#byNode.get(node)?.delete(model);
      this.#bump(node);
      // Still registered: its last requests finish before the node drops it (a deleted model goes at once).
      if (this.#d.models.get(model)) this.#holds.removed(node, model);
    }
    for (const node of is) {
      if (was.has(node)) continue;
      let s = this.#byNode.get(node);
      if (!s) this.#byNode.set(node, (s = new Set()));
      s.add(model);
      this.#holds.placed(node, model);
      this.#bump(node);
    }
    if (is.size > 0) this.#routable.set(model, [...is]);
    else this.#routable.delete(model);
    // Listeners (waiting requests) read routable(): told once the index is current.
    this.emit("placement", model, after);
  }

  #bump(node: string): string {
    const version = `${this.#boot}-${++this.#generation}`;
    this.#versions.set(node, version);
    return version;
  }

  /** A node is judged lost only after this gateway watched it long enough (not at once after a restart). */
  #standingOf(e: NodeEntry, now: number): NodeStanding {
    return standingOf({ online: this.#d.nodes.isOnline(e), sinceSeenMs: now - Math.max(e.lastSeen, this.#startedAt), replaceAfterMs: this.#d.replaceAfterMs, admin: this.#d.admin.get(e.runtimeId) });
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

  /**
   * Going lost (offline past the grace) is the passing of time, not an event: the leader checks on
   * a timer. Every gateway releases its finished holds on it.
   */
  #arm(): void {
    const every = Math.max(50, Math.min(1_000, Math.floor(this.#d.replaceAfterMs / 4)));
    this.#timer = setTimeout(() => {
      try {
        this.#holds.tick();
        if (this.#leading) this.#checkStandings();
      } catch (err) {
        this.#log.error({ err }, "placement check failed");
      }
      if (this.#unsubscribe.length > 0) this.#arm();
    }, every);
    this.#timer.unref();
  }

  #checkStandings(): void {
    const now = this.#now();
    let moved = false;
    for (const e of this.#d.nodes.list()) if (this.#standings.get(e.runtimeId) !== this.#standingOf(e, now)) moved = true;
    // Nodes no longer known turn lost once the grace has passed since this gateway started.
    const ghostsLost = now - this.#startedAt >= this.#d.replaceAfterMs;
    for (const [id, standing] of this.#standings) {
      if (standing === "offline" && ghostsLost && !this.#d.nodes.get(id)) moved = true;
    }
    if (moved) this.schedule();
  }
}

function sameReplicas(a: readonly Replica[], b: readonly Replica[]): boolean {
  return a.length === b.length && a.every((r, i) => r.node === b[i]!.node && r.role === b[i]!.role && r.placedAt === b[i]!.placedAt);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
