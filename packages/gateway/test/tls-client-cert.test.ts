// `omnigate cluster cert`: a client certificate of the cluster CA for Prometheus, which must present
// one to scrape an agent that serves mutual TLS. Real gateway, agent and CLI processes; the scrape
// is a real handshake with the files the CLI wrote.
import { X509Certificate } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI_MAIN } from "@omnigate/testkit/cluster";
import { makeCsr } from "@omnigate/testkit/certs";
import { httpJson } from "@omnigate/testkit/gateway-api";
import type { TestHub } from "@omnigate/testkit/hub";
import { TestScope } from "@omnigate/testkit/scope";
import { startHub, startStack, type Stack } from "@omnigate/testkit/e2e-stack";
import { probe } from "@omnigate/testkit/tls-probe";

const METRICS_TOKEN = "og-metrics-test-0123456789abcdef";
const scope = new TestScope();
let hub: TestHub;
let stack: Stack;
let agentUrl: string;

beforeAll(async () => {
  hub = await startHub(scope, ["llm"]);
  stack = await startStack(scope, hub, { agents: 1, models: ["llm"], agentTls: true, agentEnv: () => ({ OMNIGATE_AGENT_METRICS_TOKEN: METRICS_TOKEN }) });
  agentUrl = (await stack.api.nodes())[0]!.agent_url;
}, 60_000);
afterAll(() => scope.cleanup());

function cli(args: string[], env: Record<string, string> = {}) {
  const gw = stack.gateway;
  return scope.spawn(CLI_MAIN, { name: "cli", args, env: { OMNIGATE_URL: gw.url, OMNIGATE_DATA_DIR: gw.dataDir, OMNIGATE_ADMIN_KEY: gw.adminKey, ...env } }).result();
}

describe("omnigate cluster cert", () => {
  it("writes a key (0600), a client certificate of the cluster CA and the CA: with them and the metrics token Prometheus scrapes an mTLS agent", async () => {
    expect(agentUrl).toMatch(/^https:/);
    const out = await scope.tempDir("og-scrape-");
    const made = await cli(["cluster", "cert", "prometheus", "--out", out, "--days", "90"]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain("tls_config");
    const [key, cert, ca] = await Promise.all(["prometheus.key", "prometheus.crt", "ca.crt"].map((f) => readFile(join(out, f), "utf8")));
    expect((await stat(join(out, "prometheus.key"))).mode & 0o777).toBe(0o600);
    expect(ca).toBe(stack.gateway.ca);
    const x = new X509Certificate(cert!);
    expect(x.subject).toContain("CN=prometheus");
    expect(x.verify(new X509Certificate(ca!).publicKey)).toBe(true);
    expect(x.checkPrivateKey((await import("node:crypto")).createPrivateKey(key!))).toBe(true);
    const days = (Date.parse(x.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThan(90.1);

    // With the files and the token: the agent's metrics.
    const scraped = await probe(`${agentUrl}/metrics`, { ca: ca!, cert: cert!, key: key!, token: METRICS_TOKEN });
    expect(scraped.ok && scraped.status, JSON.stringify(scraped)).toBe(200);
    expect(scraped.ok && scraped.body).toContain("omnigate_agent_");
    // The certificate alone opens the handshake, not the data plane: that takes the node secret.
    const chat = await probe(`${agentUrl}/v1/models`, { ca: ca!, cert: cert!, key: key!, token: METRICS_TOKEN });
    expect(chat.ok && chat.status).toBe(401);
    // Without a client certificate the handshake itself is refused.
    const bare = await probe(`${agentUrl}/metrics`, { ca: ca!, token: METRICS_TOKEN });
    expect(bare.ok).toBe(false);
  });

  it("refuses what it cannot sign, and anyone but the admin", async () => {
    const gw = stack.gateway;
    const url = `${gw.url}/api/cluster/client-certificates`;
    const { csrPem } = await makeCsr([]);
    const ask = (json: unknown, token = gw.adminKey) => httpJson(url, { token, ca: gw.ca, json });
    expect((await ask({ name: "prometheus", csr: csrPem }, stack.key)).status).toBe(403);
    const badName = await ask({ name: "prom, O=evil", csr: csrPem });
    expect(badName.status).toBe(400);
    expect(JSON.stringify(badName.body)).toMatch(/common name/);
    const notCsr = await ask({ name: "prometheus", csr: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n" });
    expect(notCsr.status).toBe(400);
    expect(JSON.stringify(notCsr.body)).toMatch(/PKCS#10/);
    const tooLong = await ask({ name: "prometheus", csr: csrPem, days: 398 });
    expect(tooLong.status).toBe(400);
    const granted = await ask({ name: "prometheus", csr: csrPem });
    expect(granted.status).toBe(201);
    const days = ((granted.body as { not_after: number }).not_after - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(30);

    const cliBad = await cli(["cluster", "cert", "prometheus", "--out", await scope.tempDir("og-scrape-"), "--days", "1.5"]);
    expect(cliBad.code).toBe(1);
    expect(`${cliBad.stdout}${cliBad.stderr}`).toMatch(/--days must be a whole number/);
  });
});
