import { afterEach, describe, expect, it } from "vitest";
import type { ModelRecord } from "@omnigate/shared/models";
import type { Heartbeat, NodeRegistration } from "@omnigate/shared/node-protocol";
import { errorAnswer, ScriptedGateway } from "../test/helpers/scripted-gateway.js";
import { waitFor } from "@omnigate/testkit/wait";
import { GatewayClient } from "./gateway-client.js";
import { HeartbeatLoop, type CertificateRequester } from "./heartbeat-loop.js";
import { createLogger } from "./logger.js";
import { JoinRefusedError } from "./tls/node-identity.js";

const RUNTIME_ID = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f";
const TOKEN = "node-token-0123456789";

let gateway: ScriptedGateway | undefined;
let loop: HeartbeatLoop | undefined;

afterEach(async () => {
  await loop?.stop();
  await gateway?.close();
  loop = undefined;
  gateway = undefined;
});

interface Harness {
  loop: HeartbeatLoop;
  secrets: (string | null)[];
  desired: { models: ModelRecord[]; snapshot: number }[];
}

function makeLoop(url: string, beat: Partial<Heartbeat> = {}, timeoutMs = 2_000, tls: { identity?: CertificateRequester; onFatal?: (err: Error) => void } = {}): Harness {
  const secrets: (string | null)[] = [];
  const desired: Harness["desired"] = [];
  let snapshot = 0;
  const registration: NodeRegistration = {
    runtime_id: RUNTIME_ID,
    supported_runtimes: ["llama_cpp"],
    loaded_models: { llm: [], asr: [], tts: [], image: [] },
    agent_url: "http://127.0.0.1:9",
    hostname: "box",
    version: "0.0.0-test",
  };
  loop = new HeartbeatLoop({
    client: new GatewayClient({ baseUrl: url, tokenSource: { token: TOKEN }, timeoutMs }),
    logger: createLogger("silent"),
    runtimeId: RUNTIME_ID,
    registration: () => registration,
    heartbeat: () => ({ ...registration, models: [], engines: [], ...beat }),
    snapshot: () => ++snapshot,
    onDesired: (models, s) => desired.push({ models, snapshot: s }),
    onSecret: (s) => secrets.push(s),
    ...tls,
  });
  return { loop, secrets, desired };
}

function record(name: string): ModelRecord {
  return {
    name,
    repo: `org/${name}`,
    revision: "main",
    files: [`${name}.gguf`],
    runtime: "llama_cpp",
    kind: "llm",
    capabilities: ["chat"],
    options: {},
    created_at: 1,
    replicas: 1,
    node_selector: {},
    placement_policy: "spread",
  };
}

describe("HeartbeatLoop", () => {
  it("registers with the node token, then heartbeats with the node secret and hands over the desired set", async () => {
    gateway = await ScriptedGateway.start();
    gateway.intervalMs = 50;
    const model = record("m");
    gateway.desired = [model];
    const h = makeLoop(gateway.url, { models: [{ name: "m", state: "pending", in_flight: 0, capacity: 1 }] });
    h.loop.start();
    h.loop.start();
    await waitFor(() => gateway!.seen("heartbeat").length >= 3, { what: "three heartbeats" });
    const [register] = gateway.seen("register");
    expect(register).toMatchObject({ authorization: `Bearer ${TOKEN}`, body: { runtime_id: RUNTIME_ID, supported_runtimes: ["llama_cpp"] } });
    const beats = gateway.seen("heartbeat");
    expect(beats[0]!.path).toBe(`/api/nodes/${RUNTIME_ID}/heartbeat`);
    expect(beats[0]!.authorization).toBe(`Bearer ${gateway.secret(1)}`);
    expect(beats[0]!.body.models).toEqual([{ name: "m", state: "pending", in_flight: 0, capacity: 1 }]);
    expect(h.secrets).toEqual([gateway.secret(1)]);
    expect(h.desired[0]!.models).toEqual([model]);
    expect(h.loop.intervalMs).toBe(50);
    // Started twice, yet one loop: never two calls at once.
    expect(gateway.maxInFlight).toBe(1);
  });

  it("sends back the desired_version it applied; an answer without models keeps the set it holds", async () => {
    gateway = await ScriptedGateway.start();
    const interval = 30;
    const answer = (body: Record<string, unknown>) => ({ status: 200, body: { heartbeat_interval_ms: interval, ...body } });
    gateway.heartbeatScript.push(
      answer({ models: [record("a")], desired_version: "boot-1" }),
      answer({ desired_version: "boot-1" }),
      answer({ models: [record("b")], desired_version: "boot-2" }),
      errorAnswer(404, "node_not_found"),
    );
    const h = makeLoop(gateway.url);
    h.loop.start();
    await waitFor(() => gateway!.seen("heartbeat").length >= 5, { what: "five heartbeats" });
    const versions = gateway.seen("heartbeat").map((b) => b.body.desired_version);
    // Nothing before the first set; then the version of the set applied; none again after registering anew.
    expect(versions.slice(0, 5)).toEqual([undefined, "boot-1", "boot-1", "boot-2", undefined]);
    // The answer that left the set out handed nothing over.
    expect(h.desired.slice(0, 2).map((d) => d.models.map((m) => m.name))).toEqual([["a"], ["b"]]);
    expect(gateway.seen("register")).toHaveLength(2);
  });

  it("coalesces a burst of nudges into one heartbeat queued behind the one in flight", async () => {
    gateway = await ScriptedGateway.start();
    const h = makeLoop(gateway.url);
    h.loop.start();
    await waitFor(() => gateway!.seen("heartbeat").length === 1 && h.desired.length === 1, { what: "the first heartbeat" });
    let release!: () => void;
    gateway.hold = new Promise((r) => (release = r));
    h.loop.nudge();
    await waitFor(() => gateway!.seen("heartbeat").length === 2, { what: "the nudged heartbeat" });
    for (let i = 0; i < 20; i++) h.loop.nudge();
    gateway.hold = undefined;
    release();
    await waitFor(() => h.desired.length === 3, { what: "the queued heartbeat's answer" });
    // Two nudges more while idle, in one tick: one heartbeat.
    h.loop.nudge();
    h.loop.nudge();
    await waitFor(() => h.desired.length === 4, { what: "the next nudged heartbeat" });
    await h.loop.stop();
    expect(gateway.seen("heartbeat")).toHaveLength(4);
    expect(gateway.maxInFlight).toBe(1);
  });

  it("registers again when the gateway forgot the node (404 node_not_found, 401)", async () => {
    gateway = await ScriptedGateway.start();
    gateway.intervalMs = 20;
    gateway.heartbeatScript.push(errorAnswer(404, "node_not_found"));
    const h = makeLoop(gateway.url);
    h.loop.start();
    await waitFor(() => gateway!.seen("register").length === 2 && h.desired.length > 0, { what: "re-registration" });
    gateway.heartbeatScript.push(errorAnswer(401, "invalid_api_key"));
    await waitFor(() => gateway!.seen("register").length === 3 && h.desired.length > 1, { what: "second re-registration" });
    expect(h.secrets).toEqual([gateway.secret(1), null, gateway.secret(2), null, gateway.secret(3)]);
    expect(gateway.seen("heartbeat").at(-1)!.authorization).toBe(`Bearer ${gateway.secret(3)}`);
  });

  it("keeps retrying with backoff while the gateway errors, then registers", async () => {
    gateway = await ScriptedGateway.start();
    gateway.registerScript.push(errorAnswer(503, "shutting_down"), errorAnswer(500, "internal_error"), errorAnswer(503, "shutting_down"));
    const h = makeLoop(gateway.url);
    h.loop.start();
    await waitFor(() => h.desired.length === 1, { what: "registration after errors" });
    const registers = gateway.seen("register");
    expect(registers).toHaveLength(4);
    expect(h.secrets).toEqual([gateway.secret(1)]);
  });

  it("survives a gateway that is not there yet, and registers once it listens", async () => {
    const probe = await ScriptedGateway.start();
    const port = probe.port;
    await probe.close();
    const h = makeLoop(`http://127.0.0.1:${port}`);
    h.loop.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(h.loop.registered).toBe(false);
    gateway = await ScriptedGateway.start(port);
    await waitFor(() => h.desired.length === 1, { what: "registration once the gateway is up", timeoutMs: 15_000 });
    expect(gateway.seen("register")).toHaveLength(1);
  });

  it("stop() cancels the call in flight (a hung gateway) and is idempotent", async () => {
    gateway = await ScriptedGateway.start();
    gateway.heartbeatScript.push("hang");
    // A client timeout far beyond the test's: only the abort lets stop() return in time.
    const h = makeLoop(gateway.url, {}, 120_000);
    h.loop.start();
    await waitFor(() => gateway!.seen("heartbeat").length === 1, { what: "a heartbeat in flight" });
    await h.loop.stop();
    await h.loop.stop();
    h.loop.nudge();
    expect(h.desired).toEqual([]);
    expect(gateway.seen("heartbeat")).toHaveLength(1);
    // Startable again after a stop.
    h.loop.start();
    await waitFor(() => h.desired.length === 1, { what: "a heartbeat after restart" });
  });
});

describe("HeartbeatLoop with a TLS identity", () => {
  /** A stand-in identity: numbered CSRs, a renewal when told, and accept() failing as scripted. */
  function identity(failures: Array<Error | undefined>) {
    const accepted: unknown[] = [];
    let n = 0;
    let renewDue = false;
    const id: CertificateRequester & { accepted: unknown[]; dueNow(): void } = {
      accepted,
      dueNow: () => (renewDue = true),
      registrationCsr: async () => `csr-${++n}`,
      renewalCsr: async () => (renewDue ? ((renewDue = false), `renewal-${++n}`) : undefined),
      accept(answer) {
        const failure = failures.shift();
        if (failure) throw failure;
        accepted.push(answer);
      },
    };
    return id;
  }

  it("registers with a fresh CSR, retries one whose certificate does not fit, and renews through a heartbeat", async () => {
    gateway = await ScriptedGateway.start();
    gateway.intervalMs = 50;
    const answer = (secret: string) => ({ status: 200, body: { runtime_id: RUNTIME_ID, node_secret: secret, heartbeat_interval_ms: 50, certificate: "cert", ca_certificate: "ca" } });
    gateway.registerScript.push(answer("secret-a-0123456789"), answer("secret-b-0123456789"));
    const id = identity([new Error("the certificate from the gateway is not for this agent's key")]);
    const h = makeLoop(gateway.url, {}, 2_000, { identity: id });
    h.loop.start();
    await waitFor(() => h.secrets.length === 1, { what: "registered" });
    // The first answer did not fit: its secret was never used; the second registration had a new CSR.
    expect(h.secrets).toEqual(["secret-b-0123456789"]);
    expect(gateway.seen("register").map((r) => r.body.csr)).toEqual(["csr-1", "csr-2"]);
    expect(gateway.seen("heartbeat").every((r) => r.body.csr === undefined)).toBe(true);

    // Answered to the heartbeat that carries the renewal's CSR, not to one already on its way.
    gateway.heartbeatScript.push({ status: 200, body: { models: [], heartbeat_interval_ms: 50, certificate: "renewed", ca_certificate: "ca" }, when: (body) => body.csr !== undefined });
    id.dueNow();
    await waitFor(() => id.accepted.length === 2, { what: "the renewal served" });
    expect(gateway.seen("heartbeat").filter((r) => r.body.csr !== undefined).map((r) => r.body.csr)).toEqual(["renewal-3"]);
    expect(id.accepted[1]).toMatchObject({ certificate: "renewed" });
  });

  it("stops for good when the answer's CA is not the pinned one", async () => {
    gateway = await ScriptedGateway.start();
    gateway.intervalMs = 50;
    gateway.registerScript.push({ status: 200, body: { runtime_id: RUNTIME_ID, node_secret: "secret-x-0123456789", heartbeat_interval_ms: 50, certificate: "c", ca_certificate: "other" } });
    const fatal: Error[] = [];
    const h = makeLoop(gateway.url, {}, 2_000, { identity: identity([new JoinRefusedError("not the pinned CA")]), onFatal: (e) => fatal.push(e) });
    h.loop.start();
    await waitFor(() => fatal.length === 1, { what: "the refusal" });
    await new Promise((r) => setTimeout(r, 300));
    expect(gateway.seen("register")).toHaveLength(1);
    expect(h.secrets).toEqual([]);
    expect(fatal[0]!.message).toBe("not the pinned CA");
  });
});
