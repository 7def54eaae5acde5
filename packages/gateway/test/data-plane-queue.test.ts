// Scheduling, exact in-flight counts, backpressure (the per-model queue) and client aborts,
// against stand-in agent processes (test fixture).
import { describe, expect, it } from "vitest";
import { request } from "undici";
import { clusterPerTest } from "./data-plane-harness.js";

const cluster = clusterPerTest();

function chat(opts: { stream?: boolean; signal?: AbortSignal } = {}) {
  return request(`${cluster.gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...cluster.gw.auth, "content-type": "application/json" },
    body: JSON.stringify({ model: "llm", stream: opts.stream ?? false, messages: [{ role: "user", content: "hi" }] }),
    signal: opts.signal,
  });
}

async function metric(name: string): Promise<string[]> {
  const text = await (await request(`${cluster.gw.url}/metrics`, { headers: cluster.gw.auth })).body.text();
  return text.split("\n").filter((l) => l.startsWith(name));
}

describe("scheduler", () => {
  it("round-robins equally loaded nodes", async () => {
    const [a, b] = await cluster.agents({}, ["a", "b"]);
    await cluster.gw.addNode(a!, [{ name: "llm" }]);
    await cluster.gw.addNode(b!, [{ name: "llm" }]);
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(((await (await chat()).body.json()) as { node: string }).node);
    expect(seen.filter((n) => n === "a")).toHaveLength(3);
    expect(seen.filter((n) => n === "b")).toHaveLength(3);
  });

  it("sends to the node with the fewest requests in flight relative to its capacity", async () => {
    const [a, b] = await cluster.agents({}, ["a", "b"]);
    await a!.config({ mode: "hold", holdAfter: 1, chunks: 2 });
    await b!.config({ mode: "hold", holdAfter: 1, chunks: 2 });
    await cluster.gw.addNode(a!, [{ name: "llm", capacity: 4 }]);
    await cluster.gw.addNode(b!, [{ name: "llm", capacity: 1 }]);
    // 5 held streams fill both nodes exactly: b (capacity 1) gets one, a gets four.
    const held = await Promise.all(Array.from({ length: 5 }, () => chat({ stream: true })));
    await expect.poll(async () => (await a!.stats()).in_flight + (await b!.stats()).in_flight).toBe(5);
    expect((await a!.stats()).in_flight).toBe(4);
    expect((await b!.stats()).in_flight).toBe(1);
    await Promise.all([a!.release(), b!.release()]);
    await Promise.all(held.map((r) => r.body.text()));
  });
});

describe("backpressure", () => {
  it("queues when every node is at capacity, refuses with 429 when the queue is full, and serves the queue as slots free", async () => {
    const [a] = await cluster.agents({ OMNIGATE_QUEUE_MAX: "1" }, ["a"]);
    await a!.config({ mode: "hold", holdAfter: 1, chunks: 2 });
    await cluster.gw.addNode(a!, [{ name: "llm", capacity: 1 }]);
    const first = await chat({ stream: true });
    const second = chat({ stream: true });
    await expect.poll(async () => await metric("omnigate_queue_depth{")).toEqual(['omnigate_queue_depth{model="llm"} 1']);
    const third = await chat({ stream: true });
    expect(third.statusCode).toBe(429);
    expect(third.headers["retry-after"]).toBe("1");
    expect(((await third.body.json()) as { error: { code: string } }).error.code).toBe("queue_full");
    // The agent has only ever seen one request at a time.
    await a!.release();
    await first.body.text();
    await expect.poll(async () => (await a!.stats()).requests).toBe(2);
    await a!.release();
    const secondRes = await second;
    expect(secondRes.statusCode).toBe(200);
    await secondRes.body.text();
    expect((await a!.stats()).max_in_flight).toBe(1);
  });

  it("answers 503 queue_timeout with Retry-After when no slot frees in time", async () => {
    const [a] = await cluster.agents({ OMNIGATE_QUEUE_TIMEOUT_MS: "300" }, ["a"]);
    await a!.config({ mode: "hold", holdAfter: 1, chunks: 2 });
    await cluster.gw.addNode(a!, [{ name: "llm", capacity: 1 }]);
    const first = await chat({ stream: true });
    const second = await chat();
    expect(second.statusCode).toBe(503);
    expect(second.headers["retry-after"]).toBe("5");
    expect(((await second.body.json()) as { error: { code: string } }).error.code).toBe("queue_timeout");
    await a!.release();
    await first.body.text();
  });

  it("wakes a waiting request when a new node reports the model ready", async () => {
    const [a, b] = await cluster.agents({}, ["a", "b"]);
    await a!.config({ mode: "hold", holdAfter: 1, chunks: 2 });
    await cluster.gw.addNode(a!, [{ name: "llm", capacity: 1 }]);
    const first = await chat({ stream: true });
    const second = chat();
    await expect.poll(async () => await metric("omnigate_queue_depth{")).toHaveLength(1);
    await cluster.gw.addNode(b!, [{ name: "llm", capacity: 1 }]);
    const res = await second;
    expect(((await res.body.json()) as { node: string }).node).toBe("b");
    await a!.release();
    await first.body.text();
  });
});

describe("body memory budget", () => {
  it("refuses a body the gateway-wide budget cannot hold with 429, and frees a body's bytes when its request ends", async () => {
    const [a] = await cluster.agents({ OMNIGATE_MAX_BUFFERED_BYTES: "100000" }, ["a"]);
    await a!.config({ mode: "hold", holdAfter: 1, chunks: 2 });
    await cluster.gw.addNode(a!, [{ name: "llm", capacity: 8 }]);
    const big = (stream: boolean) =>
      request(`${cluster.gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { ...cluster.gw.auth, "content-type": "application/json" },
        body: JSON.stringify({ model: "llm", stream, messages: [{ role: "user", content: "x".repeat(60_000) }] }),
      });
    const held = await big(true);
    const refused = await big(false);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers["retry-after"]).toBe("1");
    expect(((await refused.body.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: "queue_full",
      message: expect.stringContaining("OMNIGATE_MAX_BUFFERED_BYTES"),
    });
    await a!.release();
    await held.body.text();
    await a!.config({ mode: "ok" });
    const after = await big(false);
    expect(after.statusCode).toBe(200);
    await after.body.text();
  });
});

describe("exact in-flight counts", () => {
  it("drops a request's count when the client goes away mid-stream, and aborts the agent request", async () => {
    const [a] = await cluster.agents({}, ["a"]);
    await a!.config({ mode: "hold", holdAfter: 1, chunks: 3 });
    await cluster.gw.addNode(a!, [{ name: "llm", capacity: 1 }]);
    const controller = new AbortController();
    const res = await chat({ stream: true, signal: controller.signal });
    const reader = res.body[Symbol.asyncIterator]();
    await reader.next();
    expect(await metric("omnigate_in_flight_requests{")).toEqual([expect.stringMatching(/model="llm"\} 1$/)]);
    controller.abort();
    await expect.poll(async () => (await a!.stats()).aborted).toBe(1);
    await expect.poll(async () => await metric("omnigate_in_flight_requests{")).toEqual([]);
    // The slot is free again: capacity 1 and a new request is served at once.
    await a!.config({ mode: "ok" });
    expect((await chat()).statusCode).toBe(200);
  });

  it("drops a waiting request from the queue when its client goes away", async () => {
    const [a] = await cluster.agents({}, ["a"]);
    await a!.config({ mode: "hold", holdAfter: 1, chunks: 2 });
    await cluster.gw.addNode(a!, [{ name: "llm", capacity: 1 }]);
    const first = await chat({ stream: true });
    const controller = new AbortController();
    const waiting = chat({ signal: controller.signal }).catch((err: Error) => err);
    await expect.poll(async () => await metric("omnigate_queue_depth{")).toHaveLength(1);
    controller.abort();
    expect(await waiting).toBeInstanceOf(Error);
    await expect.poll(async () => await metric("omnigate_queue_depth{")).toEqual([]);
    await a!.release();
    await first.body.text();
    expect((await a!.stats()).requests).toBe(1);
  });

  it("counts back to zero after a burst of successes, failures and aborts", async () => {
    const [a, b] = await cluster.agents({}, ["a", "b"]);
    await b!.config({ mode: "status", status: 500 });
    await cluster.gw.addNode(a!, [{ name: "llm", capacity: 64 }]);
    await cluster.gw.addNode(b!, [{ name: "llm", capacity: 64 }]);
    const all = Array.from({ length: 60 }, (_, i) => {
      const controller = new AbortController();
      const p = chat({ stream: i % 2 === 0, signal: controller.signal }).then((r) => r.body.text());
      if (i % 5 === 0) setImmediate(() => controller.abort());
      return p.catch(() => "aborted");
    });
    await Promise.all(all);
    await expect.poll(async () => await metric("omnigate_in_flight_requests{")).toEqual([]);
  });
});
