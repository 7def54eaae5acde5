import type { Database, Statement } from "better-sqlite3";
import { z } from "zod";
import { MemoryProfile } from "@omnigate/shared/memory-estimate";

// The shapes placement keeps durable are declared here, with the contract that keeps them, so a
// second backend needs nothing from placement/ (which reads and writes through this contract).

/**
 * A replica's role on its node:
 * - `serving`: counts toward the model's replicas; gets traffic once ready;
 * - `leaving`: being moved off (drain, selector no longer matching): still serves until enough
 *   serving replicas are ready elsewhere (make-before-break), then removed;
 * - `lost`: its node has been offline longer than OMNIGATE_REPLACE_AFTER_MS; replaced elsewhere,
 *   and serving again if the node returns (then the surplus goes, not-ready first).
 */
export type ReplicaRole = "serving" | "leaving" | "lost";

export interface Replica {
  readonly node: string;
  readonly role: ReplicaRole;
  /** Unix ms when the model was placed on the node: older replicas are kept over newer ones. */
  readonly placedAt: number;
}

/** What the gateway read of a model's files at registration, stored so it is read once. */
export const ModelEstimate = z.object({
  /** The commit the model's revision resolved to. */
  commit: z.string(),
  /** The files the engine will load (the model's patterns, or the runtime's default pick), with sizes. */
  files: z.array(z.object({ path: z.string(), size: z.number().nonnegative() })),
  profile: MemoryProfile,
});
export type ModelEstimate = z.infer<typeof ModelEstimate>;

/** An operator's say on a node, kept across gateway restarts and the node's re-registrations. */
export interface NodeAdminState {
  readonly cordoned: boolean;
  readonly draining: boolean;
}

/**
 * What placement keeps durable: the replicas, each node's admin state, each model's estimate. A
 * narrow contract on purpose: a second backend (PostgreSQL, shared by several gateways) implements
 * the same six calls.
 */
export interface PlacementStore {
  loadPlacement(): Map<string, Replica[]>;
  /** Replaces the model's replicas; none = the model is placed nowhere. */
  savePlacement(model: string, replicas: readonly Replica[]): void;
  loadNodeAdmin(): Map<string, NodeAdminState>;
  saveNodeAdmin(runtimeId: string, state: NodeAdminState): void;
  loadEstimates(): Map<string, ModelEstimate>;
  /** undefined forgets the model's estimate (deleted). */
  saveEstimate(model: string, estimate: ModelEstimate | undefined): void;
}

export class SqlitePlacementStore implements PlacementStore {
  readonly #db: Database;
  readonly #deleteReplicas: Statement<[string]>;
  readonly #insertReplica: Statement<[string, string, string, number]>;
  readonly #upsertAdmin: Statement<[string, number, number]>;
  readonly #deleteAdmin: Statement<[string]>;
  readonly #upsertEstimate: Statement<[string, string]>;
  readonly #deleteEstimate: Statement<[string]>;

  constructor(db: Database) {
    this.#db = db;
    this.#deleteReplicas = db.prepare("DELETE FROM placements WHERE model = ?");
    this.#insertReplica = db.prepare("INSERT INTO placements (model, runtime_id, role, placed_at) VALUES (?, ?, ?, ?)");
    this.#upsertAdmin = db.prepare(
      "INSERT INTO node_admin (runtime_id, cordoned, draining) VALUES (?, ?, ?) ON CONFLICT (runtime_id) DO UPDATE SET cordoned = excluded.cordoned, draining = excluded.draining",
    );
    this.#deleteAdmin = db.prepare("DELETE FROM node_admin WHERE runtime_id = ?");
    this.#upsertEstimate = db.prepare("INSERT INTO model_estimates (model, estimate) VALUES (?, ?) ON CONFLICT (model) DO UPDATE SET estimate = excluded.estimate");
    this.#deleteEstimate = db.prepare("DELETE FROM model_estimates WHERE model = ?");
  }

  loadPlacement(): Map<string, Replica[]> {
    const rows = this.#db.prepare("SELECT model, runtime_id, role, placed_at FROM placements ORDER BY model, runtime_id").all() as Array<{
      model: string;
      runtime_id: string;
      role: ReplicaRole;
      placed_at: number;
    }>;
    const out = new Map<string, Replica[]>();
    for (const r of rows) {
      let list = out.get(r.model);
      if (!list) out.set(r.model, (list = []));
      list.push({ node: r.runtime_id, role: r.role, placedAt: r.placed_at });
    }
    return out;
  }

  savePlacement(model: string, replicas: readonly Replica[]): void {
    this.#db.transaction(() => {
      this.#deleteReplicas.run(model);
      for (const r of replicas) this.#insertReplica.run(model, r.node, r.role, r.placedAt);
    })();
  }

  loadNodeAdmin(): Map<string, NodeAdminState> {
    const rows = this.#db.prepare("SELECT runtime_id, cordoned, draining FROM node_admin").all() as Array<{ runtime_id: string; cordoned: number; draining: number }>;
    return new Map(rows.map((r) => [r.runtime_id, { cordoned: r.cordoned === 1, draining: r.draining === 1 }]));
  }

  saveNodeAdmin(runtimeId: string, state: NodeAdminState): void {
    if (!state.cordoned && !state.draining) this.#deleteAdmin.run(runtimeId);
    else this.#upsertAdmin.run(runtimeId, state.cordoned ? 1 : 0, state.draining ? 1 : 0);
  }

  loadEstimates(): Map<string, ModelEstimate> {
    const rows = this.#db.prepare("SELECT model, estimate FROM model_estimates").all() as Array<{ model: string; estimate: string }>;
    const out = new Map<string, ModelEstimate>();
    for (const r of rows) {
      // An estimate this gateway cannot read is read again from the hub, not fatal.
      const parsed = ModelEstimate.safeParse(JSON.parse(r.estimate));
      if (parsed.success) out.set(r.model, parsed.data);
    }
    return out;
  }

  saveEstimate(model: string, estimate: ModelEstimate | undefined): void {
    if (estimate) this.#upsertEstimate.run(model, JSON.stringify(estimate));
    else this.#deleteEstimate.run(model);
  }
}
