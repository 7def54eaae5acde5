import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { NodeSecretAuth } from "./auth.js";
import type { AgentDataPlane } from "./data-plane.js";
import { createAgentServer } from "./listener.js";
import { AgentMetrics } from "./metrics.js";

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

const SECRET = "ogn_metrics-test-secret";

/**
 * The agent's listener with its metrics, in front of a data plane that stands in for the engines:
 * it labels the requests for "llm" (the model it holds) and answers them 200 (streamed when asked),
 * anything else 404.
 */
async function serve(metrics: AgentMetrics): Promise<string> {
  const app = express();
  app.get("/metrics", metrics.handler);
  const auth = new NodeSecretAuth();
  auth.setSecret(SECRET);
  const dataPlane: AgentDataPlane = {
    serve(_spec, req, res, timing) {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as { model: string; stream?: boolean };
        if (body.model === "llm") timing.model = body.model;
        if (body.stream) {
          timing.firstByteAt = performance.now();
          res.write("data: 1\n\n");
          res.end("data: [DONE]\n\n");
          return;
        }
        res.statusCode = body.model === "llm" ? 200 : 404;
        res.end(JSON.stringify({ ok: true }));
      });
    },
  };
  server = await new Promise<Server>((resolve) => {
    const s = createAgentServer({ app, auth, dataPlane, requests: metrics.requests }).listen(0, "127.0.0.1", () => resolve(s));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("AgentMetrics", () => {
  it("serves model states, in-flight, engines and download bytes from its sources", async () => {
    const metrics = new AgentMetrics({ defaultMetrics: false });
    metrics.bind({
      statuses: () => [
        { name: "llm", state: "ready", in_flight: 3, capacity: 8 },
        { name: "asr", state: "downloading", in_flight: 0, capacity: 1 },
      ],
      engines: () => [{ model: "llm", runtime: "llama_cpp", up: true, restarts: 2 }],
    });
    metrics.recordDownloadBytes(1000, "org/asr");
    metrics.recordDownloadBytes(24, "org/asr");
    const url = await serve(metrics);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain('omnigate_agent_model_state{model="llm",state="ready"} 1');
    expect(text).toContain('omnigate_agent_model_state{model="asr",state="downloading"} 1');
    expect(text).toContain('omnigate_agent_in_flight_requests{model="llm"} 3');
    expect(text).toContain('omnigate_agent_model_capacity{model="llm"} 8');
    expect(text).toContain('omnigate_agent_engine_up{model="llm",runtime="llama_cpp"} 1');
    expect(text).toContain('omnigate_agent_engine_restarts{model="llm",runtime="llama_cpp"} 2');
    expect(text).toContain('omnigate_agent_download_bytes_total{repo="org/asr"} 1024');
  });

  it("counts requests by held model, endpoint and status, a refused one too; other names get an empty label", async () => {
    const metrics = new AgentMetrics({ defaultMetrics: false });
    metrics.bind({ statuses: () => [{ name: "llm", state: "ready", in_flight: 0, capacity: 1 }], engines: () => [] });
    const url = await serve(metrics);
    const post = (body: unknown, secret = SECRET) =>
      fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
        body: JSON.stringify(body),
      }).then((r) => r.text());
    await post({ model: "llm" });
    await post({ model: "llm", stream: true });
    await post({ model: "evil\u0001name" });
    await post({ model: "llm" }, "not-the-secret");
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain('omnigate_agent_requests_total{model="llm",endpoint="chat",status="200"} 2');
    expect(text).toContain('omnigate_agent_requests_total{model="",endpoint="chat",status="404"} 1');
    expect(text).toContain('omnigate_agent_requests_total{model="",endpoint="chat",status="401"} 1');
    expect(text).toContain('omnigate_agent_time_to_first_byte_seconds_count{model="llm",endpoint="chat"} 2');
    expect(text).not.toContain("evil");
  });
});
