// Many streams starting at once through the agent, against the llama-server stand-in over real HTTP:
// none may wait for another (no connection cap to the engine, no queue in front of it), and each is
// relayed whole. Orderings and counts only, no timings.
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EngineModelServer } from "../src/supervisor/engine-model-server.js";
import { TestScope } from "@omnigate/testkit/scope";
import { waitFor } from "@omnigate/testkit/wait";
import { AGENT_AUTH, StateLog, cachedModel, modelRecord, standinModelServer, startApp } from "./helpers/engine-harness.js";

const STREAMS = 24;
const CHUNKS = 5;
const scope = new TestScope();
let server: EngineModelServer;
let app: { url: string; close: () => Promise<void> };

beforeAll(async () => {
  const dir = await scope.tempDir();
  // 300 ms between chunks: a stream lasts over a second, far longer than starting all of them.
  server = standinModelServer(dir, { STANDIN_CHUNKS: String(CHUNKS), STANDIN_CHUNK_INTERVAL_MS: "300", STANDIN_PING_EVERY: "0" });
  await server.init();
  const log = new StateLog();
  // As many engine slots as streams: anything that makes a stream wait is the agent's doing.
  server.start(modelRecord("many", "llama_cpp", ["model.gguf"], { engine_args: ["-np", String(STREAMS)] }), await cachedModel(dir, { "model.gguf": "GGUF" }), log.onState);
  await log.waitFor("ready");
  app = await startApp(server);
});

afterAll(async () => {
  await app?.close();
  await server?.close();
  await scope.cleanup();
});

describe("agent data plane: concurrent streams", () => {
  it(`${STREAMS} streams started at once to one engine all get their first chunk before any of them finishes`, async () => {
    expect(server.load("many")!.capacity).toBe(STREAMS);
    // One connection per stream, as the gateway's pool opens them.
    const client = new Pool(app.url, { connections: STREAMS, pipelining: 1 });
    const events: string[] = [];
    let inFlightPeak = 0;
    const one = async (i: number): Promise<string> => {
      const res = await client.request({
        method: "POST",
        path: "/v1/chat/completions",
        headers: { ...AGENT_AUTH, "content-type": "application/json" },
        body: JSON.stringify({ model: "many", stream: true, messages: [{ role: "user", content: `stream ${i}` }] }),
      });
      expect(res.statusCode).toBe(200);
      expect(String(res.headers["content-type"])).toMatch(/^text\/event-stream/);
      let text = "";
      for await (const chunk of res.body) {
        if (text === "") {
          events.push(`first ${i}`);
          inFlightPeak = Math.max(inFlightPeak, server.load("many")!.inFlight);
        }
        text += (chunk as Buffer).toString("utf8");
      }
      events.push(`done ${i}`);
      return text;
    };
    try {
      const texts = await Promise.all(Array.from({ length: STREAMS }, (_, i) => one(i)));
      const lastFirst = Math.max(...events.map((e, at) => (e.startsWith("first ") ? at : -1)));
      const firstDone = events.findIndex((e) => e.startsWith("done "));
      expect(events.filter((e) => e.startsWith("first "))).toHaveLength(STREAMS);
      expect(lastFirst, `every stream's first chunk before the first stream ended: ${events.join(", ")}`).toBeLessThan(firstDone);
      expect(inFlightPeak).toBe(STREAMS);
      // Each relayed whole: the role event, every content event, the finish event, [DONE].
      for (const text of texts) {
        const data = text.split("\n\n").filter((e) => e.startsWith("data: "));
        expect(data.at(-1)).toBe("data: [DONE]");
        expect(data.filter((e) => e.includes('"content":"'))).toHaveLength(CHUNKS);
      }
    } finally {
      await client.close();
    }
    await waitFor(() => server.load("many")!.inFlight === 0, { timeoutMs: 2000, what: "every lease to be released" });
  });
});
