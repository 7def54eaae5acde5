import { afterEach, describe, expect, it } from "vitest";
import { pino } from "pino";
import { errorAnswer, registration, ScriptedGateway } from "../test/helpers/scripted-gateway.js";
import { GatewayClient } from "./gateway-client.js";
import { GatewayFailover, gatewayUrls } from "./gateway-failover.js";

const gateways: ScriptedGateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.close();
});

const heartbeat = { ...registration, models: [], engines: [] };

async function failover(urls: string[]): Promise<GatewayFailover> {
  return new GatewayFailover(
    urls.map((url) => ({ url, client: new GatewayClient({ baseUrl: url, tokenSource: { token: "og-node-token-0123456789" }, timeoutMs: 2_000 }) })),
    pino({ level: "silent" }),
  );
}

describe("GatewayFailover", () => {
  it("reads one URL or several separated by commas", () => {
    expect(gatewayUrls("http://a:8080")).toEqual(["http://a:8080"]);
    expect(gatewayUrls(" http://a:8080 , https://b:8443/,")).toEqual(["http://a:8080", "https://b:8443/"]);
  });

  it("moves to the next gateway when one refuses or answers 503, and stays there", async () => {
    const a = await ScriptedGateway.start();
    const b = await ScriptedGateway.start();
    gateways.push(a, b);
    const down = `http://127.0.0.1:${a.port}`;
    await a.close();
    gateways.splice(gateways.indexOf(a), 1);
    const client = await failover([down, b.url]);
    const registered = await client.register(registration);
    expect(registered.ok).toBe(true);
    expect(client.url).toBe(b.url);

    // b answers 503 once; a third gateway takes the heartbeat, and the next one goes there directly.
    const c = await ScriptedGateway.start();
    gateways.push(c);
    const three = await failover([b.url, c.url]);
    b.heartbeatScript.push(errorAnswer(503, "database_unavailable"));
    expect((await three.heartbeat(registration.runtime_id, "secret", heartbeat)).ok).toBe(true);
    expect(three.url).toBe(c.url);
    const before = b.requests.length;
    expect((await three.heartbeat(registration.runtime_id, "secret", heartbeat)).ok).toBe(true);
    expect(b.requests.length).toBe(before);
  });

  it("returns a 4xx as it is (every gateway would say the same) and names every gateway when all fail", async () => {
    const a = await ScriptedGateway.start();
    const b = await ScriptedGateway.start();
    gateways.push(a, b);
    a.heartbeatScript.push(errorAnswer(404, "node_not_found"));
    const client = await failover([a.url, b.url]);
    const forgotten = await client.heartbeat(registration.runtime_id, "secret", heartbeat);
    expect(forgotten).toMatchObject({ ok: false, status: 404, code: "node_not_found" });
    expect(b.requests).toHaveLength(0);

    a.heartbeatScript.push(errorAnswer(503, "shutting_down"));
    b.heartbeatScript.push(errorAnswer(502, "upstream_error"));
    const all = await client.heartbeat(registration.runtime_id, "secret", heartbeat);
    expect(all.ok).toBe(false);
    if (!all.ok) {
      expect(all.error).toContain(a.url);
      expect(all.error).toContain(b.url);
    }
  });
});
