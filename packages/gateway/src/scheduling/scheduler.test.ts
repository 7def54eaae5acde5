import { describe, expect, it } from "vitest";
import type { NodeModelStatus } from "@omnigate/shared/models";
import type { NodeEntry } from "../nodes/node-registry.js";
import type { ReadyTarget } from "./readiness.js";
import { OutlierDetector } from "./scheduler-outlier.js";
import { Scheduler } from "./scheduler.js";

function target(id: string, capacity: number): ReadyTarget {
  const node = { runtimeId: id, ejectedUntil: null, ejections: 0 } as unknown as NodeEntry;
  const status: NodeModelStatus = { name: "m", state: "ready", in_flight: 0, capacity };
  return { node, status };
}

function scheduler(ejected: Set<string> = new Set(), freed: string[] = []) {
  return new Scheduler({ isEjected: (n) => ejected.has(n.runtimeId), onSlotFreed: (m) => freed.push(m) });
}

describe("Scheduler", () => {
  it("picks the fewest in flight relative to capacity", () => {
    const s = scheduler();
    const big = target("big", 4);
    const small = target("small", 1);
    const picks: string[] = [];
    for (let i = 0; i < 5; i++) {
      const t = s.pick("m", [big, small])!;
      s.acquire("m", t);
      picks.push(t.node.runtimeId);
    }
    expect(picks.filter((p) => p === "big")).toHaveLength(4);
    expect(picks.filter((p) => p === "small")).toHaveLength(1);
    expect(s.pick("m", [big, small])).toBeUndefined();
  });

  it("breaks ties round-robin", () => {
    const s = scheduler();
    const targets = [target("a", 2), target("b", 2), target("c", 2)];
    const picks = Array.from({ length: 6 }, () => s.pick("m", targets)!.node.runtimeId);
    expect(picks).toEqual(["a", "b", "c", "a", "b", "c"]);
  });

  it("counts exactly: release is idempotent and frees the slot once", () => {
    const freed: string[] = [];
    const s = scheduler(new Set(), freed);
    const t = target("a", 1);
    const lease = s.acquire("m", t);
    expect(s.inFlight("a", "m")).toBe(1);
    expect(s.pick("m", [t])).toBeUndefined();
    lease.release();
    lease.release();
    expect(s.inFlight("a", "m")).toBe(0);
    expect(freed).toEqual(["m"]);
    expect([...s.entries()]).toEqual([]);
  });

  it("skips excluded and ejected nodes, but uses ejected ones when nothing else is left", () => {
    const ejected = new Set(["a"]);
    const s = scheduler(ejected);
    const a = target("a", 1);
    const b = target("b", 1);
    expect(s.pick("m", [a, b])!.node.runtimeId).toBe("b");
    expect(s.pick("m", [a, b], new Set(["b"]))!.node.runtimeId).toBe("a");
    // A full healthy node means waiting, not spilling onto the ejected one.
    s.acquire("m", b);
    expect(s.pick("m", [a, b])).toBeUndefined();
  });
});

describe("OutlierDetector", () => {
  it("ejects after consecutive failures for a cool-down growing with each ejection, capped", () => {
    let now = 1_000;
    const d = new OutlierDetector({ failures: 2, baseEjectionMs: 100, maxEjectionMs: 250, now: () => now });
    const node = { runtimeId: "n", ejectedUntil: null, ejections: 0 } as unknown as NodeEntry;
    d.failure(node);
    d.success(node);
    d.failure(node);
    expect(d.isEjected(node)).toBe(false);
    d.failure(node);
    expect(node.ejectedUntil).toBe(1_100);
    expect(d.isEjected(node)).toBe(true);
    now = 1_101;
    d.failure(node);
    d.failure(node);
    expect(node.ejectedUntil).toBe(1_301);
    now = 1_302;
    d.failure(node);
    d.failure(node);
    expect(node.ejectedUntil).toBe(1_552);
    expect(node.ejections).toBe(3);
  });
});
