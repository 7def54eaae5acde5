// Issue 14: the front door. The gateway serves a certificate from files the test makes (signed by a
// stand-in public CA); the official openai client talks to it trusting that CA; one agent trusts
// the gateway through its CA store (NODE_EXTRA_CA_CERTS: a gateway with a public certificate),
// another by the pinned cluster CA (it asks for the cluster name and gets the cluster certificate).
// The certificate files are rotated under a running stream and served without a restart.
import { readFile, writeFile } from "node:fs/promises";
import { connect } from "node:tls";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLUSTER_SERVER_NAME } from "@omnigate/shared/tls";
import { issueCert, makeCa, serialOf, type TestCa } from "@omnigate/testkit/certs";
import { trusting } from "@omnigate/testkit/gateway-api";
import type { TestHub } from "@omnigate/testkit/hub";
import { TestScope } from "@omnigate/testkit/scope";
import { probe } from "@omnigate/testkit/tls-probe";
import { waitFor } from "@omnigate/testkit/wait";
import { startHub, startStack, type Stack } from "@omnigate/testkit/e2e-stack";

const scope = new TestScope();
let hub: TestHub;
let stack: Stack;
let publicCa: TestCa;
let certFile: string;
let keyFile: string;
let client: OpenAI;

async function writePair(hosts = ["127.0.0.1", "localhost"]): Promise<string> {
  const pair = await issueCert(publicCa, { usage: "server", hosts });
  // The key first, as a rotation that writes both files at once would leave them for a moment.
  await writeFile(keyFile, pair.keyPem);
  await writeFile(certFile, pair.certPem);
  return pair.serial;
}

beforeAll(async () => {
  hub = await startHub(scope, ["llm"]);
  publicCa = await makeCa("stand-in public CA");
  const dir = await scope.tempDir("og-front-door-");
  certFile = join(dir, "front.crt");
  keyFile = join(dir, "front.key");
  const caFile = join(dir, "public-ca.crt");
  await writeFile(caFile, publicCa.certPem);
  await writePair();
  stack = await startStack(scope, hub, {
    agents: 2,
    models: ["llm"],
    agentTls: true,
    trustCa: publicCa.certPem,
    gatewayEnv: { OMNIGATE_TLS_CERT_FILE: certFile, OMNIGATE_TLS_KEY_FILE: keyFile, LOG_LEVEL: "info" },
    // Agent 0 pins the cluster CA; agent 1 trusts the front door through its CA store.
    agentEnv: (i) => ({
      STANDIN_CHUNKS: "60",
      STANDIN_CHUNK_INTERVAL_MS: "50",
      OMNIGATE_ENGINE_ENV_PASS: "STANDIN_*",
      ...(i === 1 ? { OMNIGATE_CA_FINGERPRINT: undefined, NODE_EXTRA_CA_CERTS: caFile } : {}),
    }),
  });
  client = new OpenAI({
    baseURL: `${stack.gateway.url}/v1`,
    apiKey: stack.key,
    maxRetries: 0,
    timeout: 20_000,
    fetchOptions: { dispatcher: trusting(publicCa.certPem) } as never,
  });
}, 120_000);

afterAll(() => scope.cleanup());

describe("HTTPS at the front door", () => {
  it("the openai client talks to it with the test CA; a pinned agent and a CA-store agent both joined", async () => {
    const chat = await client.chat.completions.create({ model: "llm", messages: [{ role: "user", content: "hello" }], max_tokens: 4 });
    expect(chat.choices[0]!.message.content).toMatch(/\w+/);
    const nodes = await stack.api.nodes();
    expect(nodes.map((n) => n.runtime_id).sort()).toEqual(stack.agents.map((a) => a.runtimeId).sort());
    expect(nodes.every((n) => n.certificate !== null)).toBe(true);

    // Clients get the front door's certificate; the cluster name gets the cluster CA's.
    const front = await probe(`${stack.gateway.url}/healthz`, { ca: publicCa.certPem });
    expect(front.ok).toBe(true);
    const clusterCa = await readFile(join(stack.gateway.dataDir, "cluster-ca.crt"), "utf8");
    const cluster = await probe(`${stack.gateway.url}/healthz`, { ca: clusterCa, servername: CLUSTER_SERVER_NAME });
    expect(cluster).toMatchObject({ ok: true, status: 200 });
    expect(cluster.ok && cluster.peerSerial).not.toBe(front.ok && front.peerSerial);
  });

  it("offers nothing older than TLS 1.2", async () => {
    const url = new URL(stack.gateway.url);
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({ host: url.hostname, port: Number(url.port), maxVersion: "TLSv1.1", minVersion: "TLSv1", ca: publicCa.certPem }, () => resolve("connected"));
      socket.on("error", (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
    });
    expect(outcome).not.toBe("connected");
  });

  it("serves a rotated certificate without a restart, while a stream that started before runs on", async () => {
    const before = await probe(`${stack.gateway.url}/healthz`, { ca: publicCa.certPem });
    const stream = await client.chat.completions.create({ model: "llm", messages: [{ role: "user", content: "hi" }], stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();

    const rotated = await writePair();
    await waitFor(async () => {
      const seen = await probe(`${stack.gateway.url}/healthz`, { ca: publicCa.certPem });
      return seen.ok && seen.peerSerial === rotated;
    }, { timeoutMs: 10_000, intervalMs: 100, what: "the rotated certificate served" });
    expect(before.ok && before.peerSerial).not.toBe(rotated);

    let chunks = 1;
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) chunks++;
    expect(chunks).toBeGreaterThan(30);
    // The client's pooled keep-alive connection (made before the rotation) still works.
    const after = await client.chat.completions.create({ model: "llm", messages: [{ role: "user", content: "again" }], max_tokens: 2 });
    expect(after.choices).toHaveLength(1);
  });

  it("a rotation caught half-way (a key that does not fit) keeps the current certificate; SIGHUP reloads at once", async () => {
    const current = await probe(`${stack.gateway.url}/healthz`, { ca: publicCa.certPem });
    const other = await issueCert(publicCa, { usage: "server", hosts: ["127.0.0.1"] });
    await writeFile(certFile, other.certPem); // the new certificate, the old key
    await stack.gateway.waitForLine(/do not load; still serving the previous certificate/);
    const still = await probe(`${stack.gateway.url}/healthz`, { ca: publicCa.certPem });
    expect(still.ok && still.peerSerial).toBe(current.ok && current.peerSerial);

    await writeFile(keyFile, other.keyPem);
    stack.gateway.child.kill("SIGHUP");
    await stack.gateway.waitForLine(/SIGHUP: (serving the new|front door certificate unchanged)/);
    await waitFor(async () => {
      const seen = await probe(`${stack.gateway.url}/healthz`, { ca: publicCa.certPem });
      return seen.ok && seen.peerSerial === serialOf(other.certPem);
    }, { timeoutMs: 5_000, intervalMs: 50, what: "the new pair served" });
    expect(stack.gateway.running).toBe(true);
  });
});
