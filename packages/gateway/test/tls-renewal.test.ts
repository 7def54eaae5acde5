// Issue 14: certificates live 10 s here (OMNIGATE_NODE_CERT_TTL_S), so within one test the agent
// renews through its heartbeat (twice), the gateway renews its own client certificate, and the
// first certificate expires — while a stream runs through the agent and short requests keep coming.
// No request may fail, and new connections must see the new certificate.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCert } from "@omnigate/testkit/certs";
import type { TestHub } from "@omnigate/testkit/hub";
import { TestScope } from "@omnigate/testkit/scope";
import { probe } from "@omnigate/testkit/tls-probe";
import { waitFor } from "@omnigate/testkit/wait";
import { chat, clusterCaOf, startHub, startStack, type Stack } from "@omnigate/testkit/e2e-stack";

const TTL_S = 10;
const scope = new TestScope();
let hub: TestHub;
let stack: Stack;

beforeAll(async () => {
  hub = await startHub(scope, ["llm"]);
  stack = await startStack(scope, hub, {
    agents: 1,
    models: ["llm"],
    agentTls: true,
    gatewayEnv: { OMNIGATE_TLS: "on", OMNIGATE_NODE_CERT_TTL_S: String(TTL_S), LOG_LEVEL: "info" },
    // 150 chunks 100 ms apart: a stream of 15 s, longer than the first certificate lives.
    agentEnv: () => ({ STANDIN_CHUNKS: "150", STANDIN_CHUNK_INTERVAL_MS: "100", OMNIGATE_ENGINE_ENV_PASS: "STANDIN_*" }),
  });
}, 120_000);

afterAll(() => scope.cleanup());


describe("renewal through the heartbeat", () => {
  it("replaces the agent's certificate while a stream runs, and no request fails", async () => {
    const node = (await stack.api.nodes())[0]!;
    const first = node.certificate!;
    const firstExpiry = first.not_after;

    // The stream, read to its end in the background.
    const streamed = (async () => {
      const res = await chat(stack, true);
      return { status: res.status, text: await res.text() };
    })();
    // Short requests all along, several at once so the gateway opens new connections too.
    const statuses: number[] = [];
    let done = false;
    const traffic = (async () => {
      while (!done) {
        const batch = await Promise.all(Array.from({ length: 3 }, () => chat(stack, false, 2).then(async (r) => (await r.text(), r.status))));
        statuses.push(...batch);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // Renewed at half its life (5 s), before it expires.
    const renewed = await waitFor(
      async () => {
        const cert = (await stack.api.node(node.runtime_id))?.certificate;
        return cert && cert.serial !== first.serial ? cert : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: "a renewed node certificate" },
    );
    expect(Date.now()).toBeLessThan(firstExpiry);
    expect(renewed.not_after).toBeGreaterThan(firstExpiry);

    // A new connection to the agent is served the renewed certificate.
    const clusterCa = await clusterCaOf(stack.gateway);
    const client = await issueCert(clusterCa, { usage: "client" });
    const seen = await probe(`${node.agent_url}/healthz`, { ca: clusterCa.certPem, cert: client.certPem, key: client.keyPem });
    expect(seen.ok && seen.peerSerial).toBe((await stack.api.node(node.runtime_id))!.certificate!.serial);

    // Past the first certificate's expiry, the stream still runs to its end.
    const stream = await streamed;
    expect(Date.now()).toBeGreaterThan(firstExpiry);
    done = true;
    await traffic;
    expect(stream.status).toBe(200);
    expect(stream.text).toContain("data: [DONE]");
    expect(stream.text).not.toContain('"error"');
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // The gateway renewed its own client certificate meanwhile.
    await stack.gateway.waitForLine(/renewed the gateway's certificate/);
  }, 60_000);
});
