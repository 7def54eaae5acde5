// The idle timeout (OMNIGATE_PROXY_IDLE_TIMEOUT_MS) measures the upstream's silence. While the
// client reads slowly the gateway pauses the agent itself, so that silence must not cut the stream.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { clusterPerTest, sseData } from "./data-plane-harness.js";

const cluster = clusterPerTest();

const IDLE_MS = 300;
// 24 MiB: far more than the loopback socket buffers hold, so the gateway's writes back up.
const CHUNKS = 96;
const CHUNK_BYTES = 256 * 1024;

function openStream(gw: { url: string; auth: { authorization: string } }): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { ...gw.auth, "content-type": "application/json" } }, resolve);
    req.on("error", reject);
    req.end(JSON.stringify({ model: "llm", stream: true, messages: [{ role: "user", content: "hi" }] }));
  });
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
    res.on("aborted", () => reject(new Error("response aborted")));
  });
}

describe("idle timeout and a slow client", () => {
  it("does not cut a stream while the client is not reading, however long the upstream is held back", async () => {
    const [a] = await cluster.agents({ OMNIGATE_PROXY_IDLE_TIMEOUT_MS: String(IDLE_MS) }, ["a"]);
    const gw = cluster.gw;
    await a!.config({ chunks: CHUNKS, chunkBytes: CHUNK_BYTES });
    await gw.addNode(a!, [{ name: "llm" }]);

    const res = await openStream(gw);
    expect(res.statusCode).toBe(200);
    // The client stops reading for several idle timeouts; the agent has sent everything by then.
    res.pause();
    await new Promise((r) => setTimeout(r, IDLE_MS * 4));
    res.resume();
    const text = await readAll(res);
    const events = sseData(text);
    expect(events.some((e) => e.includes('"upstream_timeout"'))).toBe(false);
    expect(events).toHaveLength(CHUNKS + 1);
    expect(events.at(-1)).toBe("[DONE]");
  });
});
