import type { PlacementInput, PlacementModel, PlacementNode, PlacementResult, Replica } from "./placement-types.js";
import { describeUnplaced } from "./unplaced-reasons.js";

/**
 * Placement as a pure function: models, nodes and the current placement in → the new placement and,
 * per model, why replicas are unplaced. Deterministic (the same input gives the same output) and
 * stable (a valid replica is kept; only what must move moves). In four passes:
 *
 * 1. keep: every current replica whose node still exists, runs the runtime and has room stays;
 *    a node past the replace grace turns its replicas `lost`; a draining node, or one whose labels
 *    no longer match the selector, turns them `leaving` (they serve until replaced);
 * 2. trim: more serving replicas than wanted (scale down, a lost node back) → the surplus goes,
 *    not-ready first, then the least loaded, then the newest;
 * 3. place: missing replicas go to eligible nodes with room — those holding the files first, then
 *    by policy (spread: least committed; binpack: most committed that fits), then a stable hash;
 * 4. retire: a leaving replica goes once enough serving replicas are ready (make-before-break).
 */
export function computePlacement(input: PlacementInput): PlacementResult {
  const nodes = new Map(input.nodes.map((n) => [n.id, n]));
  const committed = new Map<string, number>();
  const placement = new Map<string, Replica[]>();
  const errors = new Map<string, string[]>();
  const changed = new Set<string>();
  const commit = (node: PlacementNode, mib: number): void => {
    committed.set(node.id, (committed.get(node.id) ?? 0) + mib);
  };
  const fits = (node: PlacementNode, mib: number): boolean =>
    node.capacityMib === null || (committed.get(node.id) ?? 0) + mib <= node.capacityMib;

  // 1. keep — oldest replicas first, so they win the room on a node that shrank.
  const kept: Array<{ model: PlacementModel; replica: Replica }> = [];
  const byName = new Map(input.models.map((m) => [m.name, m]));
  for (const [name, replicas] of input.current) {
    const model = byName.get(name);
    if (!model) {
      changed.add(name);
      continue;
    }
    for (const r of replicas) kept.push({ model, replica: r });
  }
  kept.sort((a, b) => a.replica.placedAt - b.replica.placedAt || cmp(a.model.name, b.model.name) || cmp(a.replica.node, b.replica.node));
  for (const { model, replica } of kept) {
    const node = nodes.get(replica.node);
    if (!node || !node.runtimes.has(model.runtime)) continue;
    const mib = input.needMib(model, node);
    const role = roleOn(model, node, replica);
    // Lost and offline replicas keep their room: the node may come back with the engine still up.
    if (!fits(node, mib)) continue;
    commit(node, mib);
    list(placement, model.name).push(role === replica.role ? replica : { ...replica, role });
  }

  for (const model of input.models) {
    const replicas = list(placement, model.name);
    const eligible = (node: PlacementNode): boolean =>
      node.standing === "schedulable" && node.runtimes.has(model.runtime) && matches(model.selector, node.labels);
    const wanted = model.replicas === "all" ? input.nodes.filter((n) => eligible(n) && fits(n, 0)).length : model.replicas;

    // 2. trim
    const serving = replicas.filter((r) => r.role === "serving");
    const target = model.replicas === "all" ? serving.length : wanted;
    if (serving.length > target) {
      const surplus = [...serving].sort((a, b) => removalOrder(input, model.name, a, b)).slice(0, serving.length - target);
      for (const r of surplus) {
        replicas.splice(replicas.indexOf(r), 1);
        const node = nodes.get(r.node);
        if (node) commit(node, -input.needMib(model, node));
      }
    }

    // 3. place
    let missing = wanted - replicas.filter((r) => r.role === "serving").length;
    if (model.replicas === "all") missing = Number.POSITIVE_INFINITY;
    if (missing > 0 && model.pending === undefined) {
      const taken = new Set(replicas.map((r) => r.node));
      const chosen = pickNodes(input, model, eligible, taken, fits, committed, missing);
      for (const node of chosen) {
        commit(node, input.needMib(model, node));
        replicas.push({ node: node.id, role: "serving", placedAt: input.now });
      }
    }
    const servingNow = replicas.filter((r) => r.role === "serving").length;
    if (model.pending !== undefined && servingNow < (model.replicas === "all" ? 1 : wanted)) {
      errors.set(model.name, [model.pending]);
    } else if (model.replicas !== "all" && servingNow < wanted) {
      errors.set(model.name, describeUnplaced(input, model, wanted - servingNow, replicas, committed));
    } else if (model.replicas === "all" && servingNow === 0) {
      errors.set(model.name, describeUnplaced(input, model, 1, replicas, committed));
    }

    // 4. retire: a leaving replica that serves nothing goes at once; one that serves goes once the
    //    serving replicas that could be placed are ready (none placeable → it stays and keeps serving).
    const readyServing = replicas.filter((r) => r.role === "serving" && input.isReady(model.name, r.node)).length;
    for (const r of replicas.filter((x) => x.role === "leaving")) {
      const replaced = readyServing >= 1 && readyServing >= Math.min(wanted, servingNow);
      if (!input.isReady(model.name, r.node) || replaced) replicas.splice(replicas.indexOf(r), 1);
    }
  }

  for (const model of input.models) {
    const next = placement.get(model.name) ?? [];
    if (next.length === 0) placement.delete(model.name);
    else next.sort((a, b) => cmp(a.node, b.node));
    if (!sameReplicas(input.current.get(model.name) ?? [], next)) changed.add(model.name);
  }
  return { placement, errors, changed };
}

function roleOn(model: PlacementModel, node: PlacementNode, replica: Replica): Replica["role"] {
  if (node.standing === "lost") return "lost";
  if (node.standing === "draining" || !matches(model.selector, node.labels)) return replica.role === "lost" ? "serving" : "leaving";
  // A lost replica whose node is back serves again; a leaving one stays leaving until retired.
  if (replica.role === "lost") return "serving";
  return replica.role;
}

/** Surplus serving replicas to remove first: not ready, then least loaded, then newest, then by id. */
function removalOrder(input: PlacementInput, model: string, a: Replica, b: Replica): number {
  const ra = input.isReady(model, a.node) ? 1 : 0;
  const rb = input.isReady(model, b.node) ? 1 : 0;
  return ra - rb || input.load(model, a.node) - input.load(model, b.node) || b.placedAt - a.placedAt || cmp(a.node, b.node);
}

interface Candidate {
  readonly node: PlacementNode;
  readonly local: boolean;
  /** Lower is better: spread = committed share, binpack = room left after placing. */
  readonly score: number;
  readonly tie: number;
}

/**
 * The best `count` eligible nodes with room for the model, in one scan (a replica per node, so the
 * ledger of the other candidates does not change while choosing).
 */
function pickNodes(
  input: PlacementInput,
  model: PlacementModel,
  eligible: (n: PlacementNode) => boolean,
  taken: ReadonlySet<string>,
  fits: (n: PlacementNode, mib: number) => boolean,
  committed: ReadonlyMap<string, number>,
  count: number,
): PlacementNode[] {
  const seed = hash(model.name);
  const best: Candidate[] = [];
  for (const node of input.nodes) {
    if (taken.has(node.id) || !eligible(node)) continue;
    const mib = input.needMib(model, node);
    if (!fits(node, mib)) continue;
    const used = committed.get(node.id) ?? 0;
    const score =
      node.capacityMib === null
        ? model.policy === "spread" ? 0 : Number.POSITIVE_INFINITY
        : model.policy === "spread"
          ? used / Math.max(1, node.capacityMib)
          : node.capacityMib - used - mib;
    const c: Candidate = { node, local: input.holdsFiles(model, node), score, tie: mix(seed, hash(node.id)) };
    if (best.length >= count && !better(c, best[best.length - 1]!)) continue;
    let i = best.length;
    while (i > 0 && better(c, best[i - 1]!)) i--;
    best.splice(i, 0, c);
    if (best.length > count) best.pop();
  }
  return best.map((c) => c.node);
}

function better(a: Candidate, b: Candidate): boolean {
  if (a.local !== b.local) return a.local;
  if (a.score !== b.score) return a.score < b.score;
  if (a.tie !== b.tie) return a.tie < b.tie;
  return a.node.id < b.node.id;
}

export function matches(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  for (const key in selector) if (labels[key] !== selector[key]) return false;
  return true;
}

function list(map: Map<string, Replica[]>, key: string): Replica[] {
  let l = map.get(key);
  if (!l) map.set(key, (l = []));
  return l;
}

function sameReplicas(a: readonly Replica[], b: readonly Replica[]): boolean {
  if (a.length !== b.length) return false;
  const key = (r: Replica) => `${r.node}\u0000${r.role}\u0000${r.placedAt}`;
  const set = new Set(a.map(key));
  return b.every((r) => set.has(key(r)));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** FNV-1a: ties between equally good nodes differ per model, so models spread instead of piling onto one node. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ b, 0x9e3779b1);
  h ^= h >>> 16;
  return Math.imul(h, 0x85ebca6b) >>> 0;
}
