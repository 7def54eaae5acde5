import type { PlacementPolicy, Replicas } from "@omnigate/shared/models";
import type { RuntimeType } from "@omnigate/shared/runtimes";
import type { Replica } from "../store/placement-store.js";

export type { Replica, ReplicaRole } from "../store/placement-store.js";

/** model name → its replicas. */
export type Placement = ReadonlyMap<string, readonly Replica[]>;

/** Where a node stands for placement. */
export type NodeStanding = "schedulable" | "cordoned" | "draining" | "offline" | "lost";

export interface PlacementNode {
  readonly id: string;
  /** For messages: the hostname, else a short id. */
  readonly label: string;
  readonly runtimes: ReadonlySet<RuntimeType>;
  readonly labels: Readonly<Record<string, string>>;
  /** What may be committed on the node in MiB; null = not reported (an older agent): never full. */
  readonly capacityMib: number | null;
  readonly standing: NodeStanding;
}

export interface PlacementModel {
  readonly name: string;
  readonly runtime: RuntimeType;
  readonly replicas: Replicas;
  readonly selector: Readonly<Record<string, string>>;
  readonly policy: PlacementPolicy;
  /** Why the model cannot be placed yet (its memory estimate is pending), if so. */
  readonly pending?: string;
}

export interface PlacementInput {
  /** In a stable order (registration order): ties between models go to the earlier one. */
  readonly models: readonly PlacementModel[];
  readonly nodes: readonly PlacementNode[];
  readonly current: Placement;
  /** MiB the model needs on the node (the node's engine settings may change it). */
  needMib(model: PlacementModel, node: PlacementNode): number;
  /** The node already holds the model's files (no download). */
  holdsFiles(model: PlacementModel, node: PlacementNode): boolean;
  /** The node reports the model ready. */
  isReady(model: string, node: string): boolean;
  /** Requests in flight for the model on the node (scale-down removes the least loaded). */
  load(model: string, node: string): number;
  readonly now: number;
}

export interface PlacementResult {
  readonly placement: Map<string, Replica[]>;
  /** Per model, why replicas are unplaced (empty when fully placed). */
  readonly errors: Map<string, string[]>;
  /** Models whose replicas changed. */
  readonly changed: Set<string>;
}
