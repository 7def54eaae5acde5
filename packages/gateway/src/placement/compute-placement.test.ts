import { describe, expect, it } from "vitest";
import type { RuntimeType } from "@omnigate/shared/runtimes";
import { computePlacement } from "./compute-placement.js";
import type { NodeStanding, Placement, PlacementInput, PlacementModel, PlacementNode, Replica } from "./placement-types.js";

const node = (id: string, capacityMib: number | null = 10_000, extra: Partial<PlacementNode> = {}): PlacementNode => ({
  id,
  label: id,
  runtimes: new Set<RuntimeType>(["llama_cpp"]),
  labels: {},
  capacityMib,
  standing: "schedulable",
  ...extra,
});

const model = (name: string, extra: Partial<PlacementModel> = {}): PlacementModel => ({
  name,
  runtime: "llama_cpp",
  replicas: 1,
  selector: {},
  policy: "spread",
  ...extra,
});

interface Setup {
  models: PlacementModel[];
  nodes: PlacementNode[];
  current?: Placement;
  need?: Record<string, number>;
  local?: Record<string, string[]>;
  ready?: string[];
  load?: Record<string, number>;
  now?: number;
}

function run(s: Setup) {
  const input: PlacementInput = {
    models: s.models,
    nodes: s.nodes,
    current: s.current ?? new Map(),
    needMib: (m) => s.need?.[m.name] ?? 1000,
    holdsFiles: (m, n) => s.local?.[m.name]?.includes(n.id) ?? false,
    isReady: (m, n) => s.ready?.includes(`${m}@${n}`) ?? false,
    load: (m, n) => s.load?.[`${m}@${n}`] ?? 0,
    now: s.now ?? 1000,
  };
  return computePlacement(input);
}

const nodesOf = (replicas: readonly Replica[] | undefined, role?: Replica["role"]) =>
  (replicas ?? []).filter((r) => !role || r.role === role).map((r) => r.node).sort();

/** Every node's committed memory stays within its capacity. */
function ledger(placement: Placement, need: Record<string, number>, nodes: PlacementNode[]): Map<string, number> {
  const used = new Map<string, number>();
  for (const [m, replicas] of placement) for (const r of replicas) used.set(r.node, (used.get(r.node) ?? 0) + (need[m] ?? 1000));
  for (const n of nodes) if (n.capacityMib !== null) expect(used.get(n.id) ?? 0).toBeLessThanOrEqual(n.capacityMib);
  return used;
}

describe("computePlacement", () => {
  it("places exactly the replicas asked for, on distinct nodes, least committed first (spread)", () => {
    const nodes = [node("a"), node("b"), node("c"), node("d")];
    const { placement, errors } = run({ models: [model("m1", { replicas: 2 }), model("m2", { replicas: 2 })], nodes });
    expect(nodesOf(placement.get("m1"))).toHaveLength(2);
    expect(new Set(nodesOf(placement.get("m1"))).size).toBe(2);
    // The second model goes to the two nodes the first left empty.
    expect([...nodesOf(placement.get("m1")), ...nodesOf(placement.get("m2"))].sort()).toEqual(["a", "b", "c", "d"]);
    expect(errors.size).toBe(0);
  });

  it("binpack fills the most committed node that still fits", () => {
    const nodes = [node("a", 4000), node("b", 4000)];
    const models = ["m1", "m2", "m3"].map((n) => model(n, { policy: "binpack" }));
    const { placement } = run({ models, nodes, need: { m1: 1500, m2: 1500, m3: 1500 } });
    const perNode = ledger(placement, { m1: 1500, m2: 1500, m3: 1500 }, nodes);
    expect([...perNode.values()].sort()).toEqual([1500, 3000]);
  });

  it("never commits beyond a node's capacity and says why a model is unplaced", () => {
    const nodes = [node("gpu-07", 12_390), node("gpu-03", 80_000, { standing: "cordoned" }), node("gpu-09", 20_000, { labels: { zone: "us" } })];
    const need = { big: 18_842, small: 10_000 };
    const { placement, errors } = run({ models: [model("small"), model("big", { selector: {} })], nodes, need });
    ledger(placement, need, nodes);
    expect(nodesOf(placement.get("small"))).toEqual(["gpu-09"]);
    expect(placement.get("big")).toBeUndefined();
    const [reason] = errors.get("big")!;
    expect(reason).toContain("needs 18.4 GiB");
    expect(reason).toContain("gpu-07 has 12.1 GiB free");
    expect(reason).toContain("gpu-03 is cordoned");
    expect(reason).toContain("gpu-09 has 9.8 GiB free");
  });

  it("honours the node selector and counts the nodes that lack the label", () => {
    const nodes = [node("a", 10_000, { labels: { zone: "eu" } }), node("b"), node("c", 10_000, { labels: { zone: "us" } })];
    const { placement, errors } = run({ models: [model("m", { replicas: 2, selector: { zone: "eu" } })], nodes });
    expect(nodesOf(placement.get("m"))).toEqual(["a"]);
    expect(errors.get("m")?.[0]).toContain("2 nodes lack label zone=eu");
  });

  it("is deterministic and stable: an unrelated node joining moves nothing", () => {
    const nodes = Array.from({ length: 20 }, (_, i) => node(`n${String(i).padStart(2, "0")}`));
    const models = Array.from({ length: 15 }, (_, i) => model(`m${i}`, { replicas: 2 }));
    const first = run({ models, nodes });
    expect(run({ models, nodes }).placement).toEqual(first.placement);
    const again = run({ models, nodes: [...nodes, node("new", 1_000_000)], current: first.placement, now: 2000 });
    expect(again.placement).toEqual(first.placement);
    expect(again.changed.size).toBe(0);
  });

  it("prefers a node that already holds the model's files", () => {
    const nodes = [node("a"), node("b"), node("c")];
    const { placement } = run({ models: [model("m")], nodes, local: { m: ["c"] } });
    expect(nodesOf(placement.get("m"))).toEqual(["c"]);
  });

  it("replaces the replica of a node offline past the grace; when it returns the not-ready surplus goes", () => {
    const nodes = [node("a"), node("b")];
    const current = new Map([["m", [{ node: "a", role: "serving" as const, placedAt: 1 }]]]);
    const offline = run({ models: [model("m")], nodes: [node("a", 10_000, { standing: "offline" }), node("b")], current });
    expect(offline.placement.get("m")).toEqual(current.get("m")); // within the grace: kept, nothing moves
    const lost = run({ models: [model("m")], nodes: [node("a", 10_000, { standing: "lost" }), node("b")], current, now: 50 });
    expect(nodesOf(lost.placement.get("m"), "lost")).toEqual(["a"]);
    expect(nodesOf(lost.placement.get("m"), "serving")).toEqual(["b"]);
    // a is back and ready, b still downloading: b goes, a serves.
    const back = run({ models: [model("m")], nodes, current: lost.placement, ready: ["m@a"], now: 60 });
    expect(nodesOf(back.placement.get("m"))).toEqual(["a"]);
    // …and then nothing changes any more (no flapping), whichever becomes ready.
    const later = run({ models: [model("m")], nodes, current: back.placement, ready: ["m@a", "m@b"], now: 70 });
    expect(later.changed.size).toBe(0);
    // Both ready when a returns: the replacement, newer, goes; the long-standing replica stays.
    const bothReady = run({ models: [model("m")], nodes, current: lost.placement, ready: ["m@a", "m@b"], now: 60 });
    expect(nodesOf(bothReady.placement.get("m"))).toEqual(["a"]);
  });

  it("drains make-before-break: the old replica serves until its replacement is ready", () => {
    const current = new Map([["m", [{ node: "a", role: "serving" as const, placedAt: 1 }]]]);
    const draining = (ready: string[]) =>
      run({ models: [model("m")], nodes: [node("a", 10_000, { standing: "draining" }), node("b")], current, ready });
    const moving = draining(["m@a"]);
    expect(moving.placement.get("m")).toEqual([
      { node: "a", role: "leaving", placedAt: 1 },
      { node: "b", role: "serving", placedAt: 1000 },
    ]);
    const next = run({ models: [model("m")], nodes: [node("a", 10_000, { standing: "draining" }), node("b")], current: moving.placement, ready: ["m@a"] });
    expect(nodesOf(next.placement.get("m"), "leaving")).toEqual(["a"]);
    const done = run({ models: [model("m")], nodes: [node("a", 10_000, { standing: "draining" }), node("b")], current: moving.placement, ready: ["m@a", "m@b"] });
    expect(done.placement.get("m")).toEqual([{ node: "b", role: "serving", placedAt: 1000 }]);
    // Nowhere to go: the draining copy keeps serving, and the reason says so.
    const stuck = run({ models: [model("m")], nodes: [node("a", 10_000, { standing: "draining" })], current, ready: ["m@a"] });
    expect(nodesOf(stuck.placement.get("m"), "leaving")).toEqual(["a"]);
    expect(stuck.errors.get("m")?.[0]).toContain("a is draining");
  });

  it("scales up and down; scale-down removes the least loaded replica", () => {
    const nodes = [node("a"), node("b"), node("c")];
    const three = run({ models: [model("m", { replicas: 3 })], nodes });
    expect(nodesOf(three.placement.get("m"))).toEqual(["a", "b", "c"]);
    const ready = ["m@a", "m@b", "m@c"];
    const one = run({ models: [model("m", { replicas: 1 })], nodes, current: three.placement, ready, load: { "m@a": 5, "m@b": 1, "m@c": 3 } });
    expect(nodesOf(one.placement.get("m"))).toEqual(["a"]);
    const zero = run({ models: [model("m", { replicas: 0 })], nodes, current: one.placement });
    expect(zero.placement.get("m")).toBeUndefined();
    expect(zero.errors.get("m")).toBeUndefined();
  });

  it('"all" places on every eligible node, as before placement existed', () => {
    const nodes: PlacementNode[] = [node("a"), node("b"), node("c", 10_000, { runtimes: new Set(["whisper"]) }), node("d", 10_000, { standing: "cordoned" })];
    const { placement } = run({ models: [model("m", { replicas: "all" })], nodes });
    expect(nodesOf(placement.get("m"))).toEqual(["a", "b"]);
  });

  it("a cordoned node keeps what it has and gets nothing new", () => {
    const current = new Map([["m", [{ node: "a", role: "serving" as const, placedAt: 1 }]]]);
    const nodes = [node("a", 10_000, { standing: "cordoned" }), node("b")];
    const { placement } = run({ models: [model("m"), model("n")], nodes, current });
    expect(nodesOf(placement.get("m"))).toEqual(["a"]);
    expect(nodesOf(placement.get("n"))).toEqual(["b"]);
  });

  it("a model whose estimate is pending is not placed, with the reason", () => {
    const { placement, errors } = run({ models: [model("m", { pending: "memory estimate pending: the hub did not answer" })], nodes: [node("a")] });
    expect(placement.get("m")).toBeUndefined();
    expect(errors.get("m")).toEqual(["memory estimate pending: the hub did not answer"]);
  });

  it("a replica whose node no longer fits it (capacity shrank) is moved", () => {
    const current = new Map([["m", [{ node: "a", role: "serving" as const, placedAt: 1 }]]]);
    const { placement } = run({ models: [model("m")], nodes: [node("a", 500), node("b")], current });
    expect(nodesOf(placement.get("m"))).toEqual(["b"]);
  });

  it("a deleted model's replicas are dropped and reported as changed", () => {
    const current = new Map([["gone", [{ node: "a", role: "serving" as const, placedAt: 1 }]]]);
    const result = run({ models: [], nodes: [node("a")], current });
    expect(result.placement.size).toBe(0);
    expect([...result.changed]).toEqual(["gone"]);
  });

  it.each<NodeStanding>(["offline", "lost", "draining", "cordoned"])("places nothing new on a %s node", (standing) => {
    const { placement } = run({ models: [model("m")], nodes: [node("a", 10_000, { standing })] });
    expect(placement.get("m")).toBeUndefined();
  });
});
