import { describe, expect, it } from "vitest";
import { QueueFullError, QueueTimeoutError, WaitQueues } from "./queue.js";

describe("WaitQueues", () => {
  it("answers at once without queueing when a slot is free", () => {
    const q = new WaitQueues<string>({ max: 1, timeoutMs: 1_000 });
    expect(q.acquire("m", () => "slot")).toBe("slot");
    expect(q.depth("m")).toBe(0);
  });

  it("throws the first try's error as is", () => {
    const q = new WaitQueues<string>({ max: 1, timeoutMs: 1_000 });
    const err = new Error("not found");
    expect(() => q.acquire("m", () => err)).toThrow(err);
  });

  it("serves waiters in arrival order as slots free, and refuses past the bound", async () => {
    const q = new WaitQueues<string>({ max: 3, timeoutMs: 10_000 });
    let free = 0;
    const take = () => (free > 0 ? `slot${free--}` : undefined);
    const first = q.acquire("m", take) as Promise<string>;
    const second = q.acquire("m", take) as Promise<string>;
    // An arrival while others wait goes behind them even if a slot is free now.
    free = 1;
    const third = q.acquire("m", take);
    expect(third).toBeInstanceOf(Promise);
    expect(() => q.acquire("m", take)).toThrow(QueueFullError);
    q.drain("m");
    expect(await first).toBe("slot1");
    expect(q.depth("m")).toBe(2);
    free = 2;
    q.drain("m");
    expect(await second).toBe("slot2");
    expect(await third).toBe("slot1");
    expect(q.depth("m")).toBe(0);
  });

  it("tries past a narrowed waiter that finds nothing", async () => {
    const q = new WaitQueues<string>({ max: 5, timeoutMs: 10_000 });
    const narrowed = q.acquire("m", (fromQueue) => (fromQueue ? undefined : undefined), { narrowed: true }) as Promise<string>;
    let free = 0;
    const plain = q.acquire("m", () => (free-- > 0 ? "ok" : undefined)) as Promise<string>;
    free = 1;
    q.drainAll();
    expect(await plain).toBe("ok");
    expect(q.depth("m")).toBe(1);
    q.close(new Error("closing"));
    await expect(narrowed).rejects.toThrow("closing");
  });

  it("times out, and ends a wait on cancel or on an error from a retry", async () => {
    const q = new WaitQueues<string>({ max: 5, timeoutMs: 20 });
    await expect(q.acquire("m", () => undefined)).rejects.toBeInstanceOf(QueueTimeoutError);
    const q2 = new WaitQueues<string>({ max: 5, timeoutMs: 10_000 });
    let cancel: ((r: unknown) => void) | undefined;
    const cancelled = q2.acquire("m", () => undefined, { onWait: (c) => (cancel = c) });
    cancel!(new Error("client gone"));
    await expect(cancelled).rejects.toThrow("client gone");
    const gone = new Error("model deleted");
    const failing = q2.acquire("m", (fromQueue) => (fromQueue ? gone : undefined));
    q2.drain("m");
    await expect(failing).rejects.toBe(gone);
    expect(q2.depth("m")).toBe(0);
  });
});
