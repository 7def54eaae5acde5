import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { GatewayEvent } from "@omnigate/shared/events";
import { EventBus, type PublishedEvent } from "./event-bus.js";

const progress = (percent: number): GatewayEvent => ({
  type: "node.model",
  runtime_id: "n1",
  model: { name: "m", state: "downloading", progress: { bytes: percent, total: 100, rate: 0, percent }, in_flight: 0, capacity: 1 },
});
const state = (s: "ready" | "failed"): GatewayEvent => ({ type: "node.model", runtime_id: "n1", model: { name: "m", state: s, in_flight: 0, capacity: 1 } });
const describeEvent = (p: PublishedEvent) => (p.event.type === "node.model" ? `${p.id}:${p.event.model.state}:${p.event.model.progress?.percent ?? ""}` : `${p.id}:${p.event.type}`);

function collect(bus: EventBus): { seen: string[]; frames: string[]; closed: () => boolean; unsubscribe: () => void } {
  const seen: string[] = [];
  const frames: string[] = [];
  let closed = false;
  const unsubscribe = bus.subscribe(
    (p) => {
      seen.push(describeEvent(p));
      frames.push(p.frame);
    },
    () => (closed = true),
  );
  return { seen, frames, closed: () => closed, unsubscribe };
}

describe("EventBus", () => {
  it("numbers events and frames each once as Server-Sent Events", () => {
    const bus = new EventBus();
    const a = collect(bus);
    const b = collect(bus);
    bus.publish({ type: "model.deleted", name: "x" });
    bus.publish({ type: "node.removed", runtime_id: "n1" });
    expect(a.seen).toEqual(["1:model.deleted", "2:node.removed"]);
    expect(b.frames).toEqual(a.frames);
    expect(a.frames[0]).toBe('id: 1\nevent: model.deleted\ndata: {"type":"model.deleted","name":"x"}\n\n');
    expect(bus.lastId).toBe(2);
  });

  it("drops events while nobody listens, and builds lazy ones only when sent", () => {
    const bus = new EventBus();
    let built = 0;
    bus.publish(() => {
      built++;
      return { type: "model.deleted", name: "x" };
    });
    expect(bus.active).toBe(false);
    expect(built).toBe(0);
    const sub = collect(bus);
    bus.publish(() => undefined);
    bus.publish(() => ({ type: "model.deleted", name: "y" }));
    expect(sub.seen).toEqual(["1:model.deleted"]);
  });

  it("coalesces under a key: the first at once, the newest at the window's end, nothing in between", async () => {
    const bus = new EventBus({ coalesceMs: 40 });
    const sub = collect(bus);
    for (let p = 1; p <= 5; p++) bus.publish(progress(p), { coalesce: "n1/m" });
    expect(sub.seen).toEqual(["1:downloading:1"]);
    await sleep(60);
    expect(sub.seen).toEqual(["1:downloading:1", "2:downloading:5"]);
    // The window reopened when 5 went out; it closes empty, and the next event goes at once.
    await sleep(60);
    bus.publish(progress(6), { coalesce: "n1/m" });
    expect(sub.seen.at(-1)).toBe("3:downloading:6");
  });

  it("an urgent event goes at once and drops what was held back under its key", async () => {
    const bus = new EventBus({ coalesceMs: 30 });
    const sub = collect(bus);
    bus.publish(progress(10), { coalesce: "n1/m" });
    bus.publish(progress(20), { coalesce: "n1/m" });
    bus.publish(state("ready"), { coalesce: "n1/m", urgent: true });
    bus.publish(progress(30), { coalesce: "other" });
    await sleep(80);
    expect(sub.seen).toEqual(["1:downloading:10", "2:ready:", "3:downloading:30"]);
  });

  it("an event published while one is handed out waits its turn, so every subscriber sees id order", () => {
    const bus = new EventBus();
    bus.tap((event) => {
      if (event.type === "node.removed") bus.publish({ type: "model.deleted", name: "derived" });
    });
    const orders: string[][] = [[], []];
    bus.subscribe((p) => {
      orders[0]!.push(describeEvent(p));
      if (p.event.type === "node.removed") bus.publish({ type: "model.deleted", name: "nested" });
    });
    bus.subscribe((p) => orders[1]!.push(describeEvent(p)));
    bus.publish({ type: "node.removed", runtime_id: "n1" });
    expect(orders[0]).toEqual(["1:node.removed", "2:model.deleted", "3:model.deleted"]);
    expect(orders[1]).toEqual(orders[0]);
  });

  it("close ends every subscription", () => {
    const bus = new EventBus();
    const sub = collect(bus);
    bus.close();
    expect(sub.closed()).toBe(true);
    expect(bus.active).toBe(false);
  });
});
