// Issue 14, with real TLS handshakes between real processes: a gateway serving HTTPS from its
// cluster CA, an agent that joins by the CA's fingerprint and serves the agent API with mutual TLS,
// the openai client through both hops; then what the agent's handshake refuses, and an agent with a
// wrong fingerprint that refuses to join.
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent } from "@omnigate/testkit/cluster";
import { issueCert, makeCa, type TestCa } from "@omnigate/testkit/certs";
import { trusting } from "@omnigate/testkit/gateway-api";
import type { TestHub } from "@omnigate/testkit/hub";
import { TestScope } from "@omnigate/testkit/scope";
import { probe } from "@omnigate/testkit/tls-probe";
import { clusterCaOf, startHub, startStack, toneWav, type Stack } from "@omnigate/testkit/e2e-stack";

const scope = new TestScope();
let hub: TestHub;
let stack: Stack;
let client: OpenAI;
let clusterCa: TestCa;

beforeAll(async () => {
  hub = await startHub(scope, ["llm", "asr"]);
  stack = await startStack(scope, hub, { agents: 1, models: ["llm", "asr"], agentTls: true, gatewayEnv: { OMNIGATE_TLS: "on" } });
  client = new OpenAI({
    baseURL: `${stack.gateway.url}/v1`,
    apiKey: stack.key,
    maxRetries: 0,
    timeout: 20_000,
    // Node's fetch with a dispatcher that trusts the cluster CA (uploads need its own FormData).
    fetchOptions: { dispatcher: trusting(stack.gateway.ca) } as never,
  });
  // The test signs its own certificates with the cluster CA: a client certificate that is valid, and one that expired.
  clusterCa = await clusterCaOf(stack.gateway);
}, 120_000);

afterAll(() => scope.cleanup());

describe("an agent joined by fingerprint, serving over mutual TLS", () => {
  it("registers with an https agent_url and a certificate from the cluster CA, which its listener presents", async () => {
    expect(stack.gateway.url).toMatch(/^https:\/\//);
    const [node] = await stack.api.nodes();
    expect(node!.agent_url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const cert = node!.certificate!;
    expect(cert.serial).toMatch(/^[0-9A-F]{32}$/);
    // Seven days by default, notBefore back-dated a few minutes for clock skew.
    expect(cert.not_after - Date.now()).toBeGreaterThan(6.9 * 24 * 3600_000);
    expect(cert.not_before).toBeLessThan(Date.now() - 60_000);

    const gatewayClient = await issueCert(clusterCa, { usage: "client" });
    const seen = await probe(`${node!.agent_url}/healthz`, { ca: clusterCa.certPem, cert: gatewayClient.certPem, key: gatewayClient.keyPem });
    expect(seen).toMatchObject({ ok: true, peerSerial: cert.serial });
  });

  it("chat, streaming and an upload go through gateway and agent", async () => {
    const chat = await client.chat.completions.create({ model: "llm", messages: [{ role: "user", content: "hello" }] });
    expect(chat.choices[0]!.message.content).toMatch(/\w+/);
    let text = "";
    let chunks = 0;
    for await (const chunk of await client.chat.completions.create({ model: "llm", messages: [{ role: "user", content: "hello" }], stream: true })) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? "";
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text.trim()).toBe(chat.choices[0]!.message.content!.trim());
    const transcription = await client.audio.transcriptions.create({ model: "asr", file: await toFile(toneWav(1), "tone.wav", { type: "audio/wav" }) });
    expect(typeof transcription.text).toBe("string");
  });

  it("the agent's handshake refuses plain HTTP, no certificate, another CA's, an expired one and a node's own", async () => {
    const agentUrl = (await stack.api.nodes())[0]!.agent_url;
    const health = `${agentUrl}/healthz`;
    const plain = await probe(health.replace("https:", "http:"));
    expect(plain.ok).toBe(false);

    // TLS 1.3 refuses a client certificate after the client's side of the handshake: the client
    // sees an alert or the connection cut, never an answer. The valid certificate below does get one.
    const none = await probe(health, { ca: clusterCa.certPem });
    expect(none.ok).toBe(false);

    const foreign = await makeCa("another cluster");
    const foreignClient = await issueCert(foreign, { usage: "client" });
    const other = await probe(health, { ca: clusterCa.certPem, cert: foreignClient.certPem, key: foreignClient.keyPem });
    expect(other.ok).toBe(false);

    const expired = await issueCert(clusterCa, { usage: "client", notBefore: new Date(Date.now() - 3 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    const old = await probe(health, { ca: clusterCa.certPem, cert: expired.certPem, key: expired.keyPem });
    expect(old.ok).toBe(false);

    // A server certificate from the same CA (what every agent holds) is not a client certificate:
    // one agent cannot call another as if it were a gateway.
    const nodeCert = await issueCert(clusterCa, { usage: "server", hosts: ["127.0.0.1"] });
    const asClient = await probe(health, { ca: clusterCa.certPem, cert: nodeCert.certPem, key: nodeCert.keyPem });
    expect(asClient.ok).toBe(false);

    // A valid client certificate gets through the handshake, and the node secret is still asked
    // for: the second factor.
    const gatewayClient = await issueCert(clusterCa, { usage: "client" });
    const inference = await probe(`${agentUrl}/v1/chat/completions`, { method: "POST", ca: clusterCa.certPem, cert: gatewayClient.certPem, key: gatewayClient.keyPem });
    expect(inference).toMatchObject({ ok: true, status: 401 });
  });

  it("/metrics exports each node's certificate expiry, the soonest, and the gateway's own", async () => {
    const res = await stack.api.call<string>("/metrics");
    const node = (await stack.api.nodes())[0]!;
    const soonest = /^omnigate_node_certificate_soonest_expiry_timestamp_seconds (\S+)$/m.exec(res.body);
    expect(Number(soonest?.[1])).toBe(node.certificate!.not_after / 1000);
    expect(res.body).toContain(`omnigate_node_certificate_expiry_timestamp_seconds{node="${node.runtime_id}"} ${node.certificate!.not_after / 1000}`);
    for (const own of ["cluster_ca", "gateway_client", "gateway_cluster_server"]) expect(res.body).toMatch(new RegExp(`omnigate_tls_certificate_expiry_timestamp_seconds\\{certificate="${own}"\\} \\d+`));
  });
});

describe("first contact with a wrong fingerprint", () => {
  it("the agent refuses to join, saying which CA it found and which it expected, and exits", async () => {
    const wrong = `sha256:${"ab".repeat(32)}`;
    const agent = await startAgent(scope, { gateway: { ...stack.gateway, fingerprint: wrong }, tls: true });
    const exit = await agent.result();
    expect(exit.code).toBe(1);
    expect(exit.stderr).toContain("refuses to join the gateway");
    expect(exit.stderr).toContain(`not the pinned OMNIGATE_CA_FINGERPRINT ${wrong}`);
    expect(exit.stderr).toContain(stack.gateway.fingerprint);
    expect((await stack.api.nodes()).map((n) => n.runtime_id)).not.toContain(agent.runtimeId);
  });
});
