// Issue 14's bad input and faults, on the real processes: certificate and key files a gateway must
// refuse to start with (naming the file and the problem), agent settings that contradict, CSRs the
// gateway answers 400, what a granted CSR gets — and the CLI's `cluster ca` and `nodes rm`.
import { X509Certificate, randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLUSTER_SERVER_NAME } from "@omnigate/shared/tls";
import { AGENT_MAIN, CLI_MAIN, GATEWAY_MAIN, startGateway, type GatewayProcess } from "@omnigate/testkit/cluster";
import { issueCert, makeCa, makeCsr } from "@omnigate/testkit/certs";
import { httpJson } from "@omnigate/testkit/gateway-api";
import { TestScope } from "@omnigate/testkit/scope";

const scope = new TestScope();
afterAll(() => scope.cleanup());

/** Runs a program to its exit with `env`; its output as one string. */
async function runToExit(program: string, env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; output: string; stdout: string }> {
  const p = scope.spawn(program, { name: "process", env, args });
  const r = await p.result();
  return { code: r.code, output: `${r.stdout}\n${r.stderr}`, stdout: r.stdout };
}

describe("certificate and key files the gateway refuses to start with", () => {
  it("names the file and the problem: missing, a directory, no certificate, not X.509, no key, mismatched, expired, not a CA, half a pair", async () => {
    const dir = await scope.tempDir("og-bad-tls-");
    const ca = await makeCa();
    const good = await issueCert(ca, { usage: "server", hosts: ["127.0.0.1"] });
    const other = await issueCert(ca, { usage: "server", hosts: ["127.0.0.1"] });
    const expired = await issueCert(ca, { usage: "server", hosts: ["127.0.0.1"], notBefore: new Date(Date.now() - 2 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    const files: Record<string, string> = {
      "good.crt": good.certPem,
      "good.key": good.keyPem,
      "other.key": other.keyPem,
      "expired.crt": expired.certPem,
      "expired.key": expired.keyPem,
      "text.crt": "this is not a certificate\n",
      "garbled.crt": "-----BEGIN CERTIFICATE-----\nAAAAnotbase64der====\n-----END CERTIFICATE-----\n",
      "text.key": "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n",
      "ca.crt": ca.certPem,
      "ca.key": ca.keyPem,
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    await mkdir(join(dir, "a-directory.crt"));
    const f = (name: string) => join(dir, name);
    const front = (cert: string, key: string) => ({ OMNIGATE_TLS_CERT_FILE: f(cert), OMNIGATE_TLS_KEY_FILE: f(key) });
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ["missing", front("nope.crt", "good.key"), /nope\.crt \(OMNIGATE_TLS_CERT_FILE\) does not exist/],
      ["a directory", front("a-directory.crt", "good.key"), /a-directory\.crt \(OMNIGATE_TLS_CERT_FILE\) is a directory/],
      ["no certificate", front("text.crt", "good.key"), /text\.crt \(OMNIGATE_TLS_CERT_FILE\) holds no PEM certificate/],
      ["not X.509", front("garbled.crt", "good.key"), /garbled\.crt \(OMNIGATE_TLS_CERT_FILE\): certificate 1 is not valid X\.509/],
      ["no key", front("good.crt", "text.key"), /text\.key \(OMNIGATE_TLS_KEY_FILE\) holds no private key/],
      ["mismatched", front("good.crt", "other.key"), /The key in .*other\.key \(OMNIGATE_TLS_KEY_FILE\) does not belong to the certificate in .*good\.crt/],
      ["expired", front("expired.crt", "expired.key"), /The certificate in .*expired\.crt \(OMNIGATE_TLS_CERT_FILE\) expired on \d{4}-/],
      ["not a CA", { OMNIGATE_CLUSTER_CA_CERT_FILE: f("good.crt"), OMNIGATE_CLUSTER_CA_KEY_FILE: f("good.key") }, /good\.crt \(OMNIGATE_CLUSTER_CA_CERT_FILE\) is not a CA certificate/],
      ["half a pair", { OMNIGATE_TLS_CERT_FILE: f("good.crt") }, /OMNIGATE_TLS_KEY_FILE: set it too: OMNIGATE_TLS_CERT_FILE is set/],
      ["off with a certificate", { ...front("good.crt", "good.key"), OMNIGATE_TLS: "off" }, /OMNIGATE_TLS: is off, but OMNIGATE_TLS_CERT_FILE is set/],
    ];
    const results = await Promise.all(
      cases.map(async ([what, env]) => {
        const dataDir = await scope.tempDir("og-bad-tls-data-");
        return runToExit(GATEWAY_MAIN, { OMNIGATE_PORT: "0", OMNIGATE_DATA_DIR: dataDir, LOG_LEVEL: "silent", ...env }).then((r) => ({ what, ...r }));
      }),
    );
    for (const [i, [what, , expected]] of cases.entries()) {
      const r = results[i]!;
      expect(r.code, `${what}:\n${r.output}`).not.toBe(0);
      expect(r.output, what).toMatch(expected);
      expect(r.output, what).not.toContain("listening on");
    }
    // A sane pair from the same files starts.
    const ok = await startGateway(scope, { env: front("good.crt", "good.key"), trustCa: ca.certPem });
    expect(ok.url).toMatch(/^https:/);
  }, 60_000);

  it("a data dir with the CA's key but not its certificate", async () => {
    const dataDir = await scope.tempDir("og-bad-ca-");
    await writeFile(join(dataDir, "cluster-ca.key"), (await makeCa()).keyPem, { mode: 0o600 });
    const r = await runToExit(GATEWAY_MAIN, { OMNIGATE_PORT: "0", OMNIGATE_DATA_DIR: dataDir, LOG_LEVEL: "silent" });
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/cluster-ca\.key exists but .*cluster-ca\.crt does not\. Restore it, or delete/);
  });
});

describe("agent settings that contradict", () => {
  it("refuses a malformed fingerprint, a pin over plain HTTP, and an http agent_url for an HTTPS listener", async () => {
    const base = { OMNIGATE_NODE_TOKEN: "og-node-token-for-a-test-only", OMNIGATE_AGENT_PORT: "0", LOG_LEVEL: "silent" };
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ OMNIGATE_CA_FINGERPRINT: "sha256:1234" }, /OMNIGATE_CA_FINGERPRINT: must be sha256: followed by 64 hex digits/],
      [{ OMNIGATE_CA_FINGERPRINT: `sha256:${"0".repeat(64)}`, OMNIGATE_GATEWAY_URL: "http://127.0.0.1:9" }, /OMNIGATE_CA_FINGERPRINT pins the gateway's TLS certificate, but OMNIGATE_GATEWAY_URL is http:/],
      [{ OMNIGATE_AGENT_TLS: "on", OMNIGATE_AGENT_URL: "http://127.0.0.1:9" }, /OMNIGATE_AGENT_URL is http:\/\/127\.0\.0\.1:9, but the agent serves HTTPS/],
    ];
    const results = await Promise.all(
      cases.map(async ([env]) => runToExit(AGENT_MAIN, { ...base, OMNIGATE_STATE_DIR: await scope.tempDir("og-agent-bad-"), ...env })),
    );
    for (const [i, [, expected]] of cases.entries()) {
      expect(results[i]!.code).not.toBe(0);
      expect(results[i]!.output).toMatch(expected);
    }
  }, 60_000);
});

describe("registration CSRs", () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await startGateway(scope, { env: { OMNIGATE_TLS: "on" } });
  });

  async function register(agentUrl: string, csr: string | undefined) {
    return httpJson<{ error: { code: string; message: string; param: string | null }; certificate: string; ca_certificate: string }>(`${gw.url}/api/nodes/register`, {
      token: gw.nodeToken,
      ca: gw.ca,
      json: { runtime_id: randomUUID(), supported_runtimes: [], loaded_models: {}, agent_url: agentUrl, hostname: "h", version: "v", ...(csr === undefined ? {} : { csr }) },
    });
  }

  it("answers 400 naming the field: another host in the SAN, no SAN, oversized, not a CSR, the gateway's own name, https without a CSR, plain HTTP to another host", async () => {
    const cases: Array<[string, string | undefined, string, RegExp]> = [
      ["https://127.0.0.1:8081", (await makeCsr(["10.1.2.3"])).csrPem, "csr", /csr asks for IP:10\.1\.2\.3, but the agent advertises 127\.0\.0\.1 in agent_url/],
      ["https://gpu-7.example:8081", (await makeCsr(["gpu-7.example", "other.example"])).csrPem, "csr", /its only subject alternative name must be DNS:gpu-7\.example/],
      ["https://127.0.0.1:8081", (await makeCsr([])).csrPem, "csr", /csr asks for no subject alternative name/],
      ["https://127.0.0.1:8081", `-----BEGIN CERTIFICATE REQUEST-----\n${"A".repeat(9000)}\n-----END CERTIFICATE REQUEST-----\n`, "csr", /csr is larger than 8192 characters/],
      ["https://127.0.0.1:8081", "hello", "csr", /csr must be a PEM "CERTIFICATE REQUEST"/],
      ["https://127.0.0.1:8081", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "csr", /csr is not a valid PKCS#10 request/],
      [`https://${CLUSTER_SERVER_NAME}:8081`, (await makeCsr([CLUSTER_SERVER_NAME])).csrPem, "csr", /names the gateway, never an agent/],
      ["https://127.0.0.1:8081", undefined, "csr", /agent_url is https, so the registration needs a csr/],
      ["http://10.1.2.3:8081", undefined, "agent_url", /plain HTTP to another host/],
    ];
    for (const [agentUrl, csr, param, message] of cases) {
      const res = await register(agentUrl, csr);
      expect(res.status, `${agentUrl} ${message}`).toBe(400);
      expect(res.body.error.param).toBe(param);
      expect(res.body.error.message).toMatch(message);
    }
  });

  it("grants a CSR naming agent_url's host: a server-only certificate from the cluster CA, back-dated for clock skew", async () => {
    for (const host of ["127.0.0.1", "localhost"]) {
      const res = await register(`https://${host}:8081`, (await makeCsr([host])).csrPem);
      expect(res.status).toBe(200);
      const cert = new X509Certificate(res.body.certificate);
      const ca = new X509Certificate(res.body.ca_certificate);
      expect(res.body.ca_certificate).toBe(gw.ca);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.subjectAltName).toBe(host === "localhost" ? "DNS:localhost" : "IP Address:127.0.0.1");
      expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]); // serverAuth only
      expect(cert.ca).toBe(false);
      // notBefore back-dated (a box whose clock is behind still finds it valid); seven days ahead.
      expect(Date.now() - Date.parse(cert.validFrom)).toBeGreaterThan(4 * 60_000);
      expect(Date.parse(cert.validTo) - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    }
  });
});

describe("omnigate cluster ca / nodes rm", () => {
  it("prints the fingerprint (over HTTPS, trusting the data dir's CA) and removes a node by id prefix", async () => {
    const gw = await startGateway(scope, { env: { OMNIGATE_TLS: "on" } });
    const env = { OMNIGATE_URL: gw.url, OMNIGATE_DATA_DIR: gw.dataDir, OMNIGATE_ADMIN_KEY: gw.adminKey };
    const ca = await runToExit(CLI_MAIN, env, ["cluster", "ca"]);
    expect(ca.code, ca.output).toBe(0);
    expect(ca.stdout).toContain(`fingerprint  ${gw.fingerprint}`);
    expect(ca.stdout).toContain(`OMNIGATE_CA_FINGERPRINT=${gw.fingerprint}`);
    expect(ca.stdout).toContain("-----BEGIN CERTIFICATE-----");
    // The CA is public: no admin key needed.
    const json = await runToExit(CLI_MAIN, { OMNIGATE_URL: gw.url, OMNIGATE_DATA_DIR: gw.dataDir }, ["--json", "cluster", "ca"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ fingerprint: gw.fingerprint, certificate: gw.ca });

    const runtimeId = randomUUID();
    const reg = await httpJson(`${gw.url}/api/nodes/register`, {
      token: gw.nodeToken,
      ca: gw.ca,
      json: { runtime_id: runtimeId, supported_runtimes: [], loaded_models: {}, agent_url: "https://127.0.0.1:9", hostname: "h", version: "v", csr: (await makeCsr(["127.0.0.1"])).csrPem },
    });
    expect(reg.status).toBe(200);
    const ls = await runToExit(CLI_MAIN, env, ["nodes", "ls"]);
    expect(ls.stdout).toMatch(/CERT EXPIRES/);
    const rm = await runToExit(CLI_MAIN, env, ["nodes", "rm", runtimeId.slice(0, 8)]);
    expect(rm.code, rm.output).toBe(0);
    expect(rm.stdout).toContain(`removed ${runtimeId}; revoked 1 certificate`);
    const again = await runToExit(CLI_MAIN, env, ["nodes", "rm", runtimeId]);
    expect(again.code).toBe(1);
    expect(again.output).toMatch(/removed already/);
  }, 60_000);
});
