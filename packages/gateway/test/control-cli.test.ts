import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CLI_MAIN } from "@omnigate/testkit/cluster";
import { buildTinyLlamaGguf } from "@omnigate/testkit/gguf-writer";
import { startTestHub } from "@omnigate/testkit/hub";
import { TestScope } from "@omnigate/testkit/scope";
import type { ProcessResult, TestProcess } from "@omnigate/testkit/test-process";
import { waitFor } from "@omnigate/testkit/wait";
import { freePort } from "../../node-agent/src/supervisor/free-port.js";
import { FakeNode, startControlGateway } from "./control-harness.js";

// `pnpm omnigate …` (dist/cli/main.js) as a real process against a real gateway process.

const scope = new TestScope();
afterEach(() => scope.cleanup());

/** The CLI as a process; its stdout and stderr fill in as it runs. */
function cli(args: string[], env: Record<string, string>): TestProcess {
  return scope.spawn(CLI_MAIN, { name: "cli", args, env });
}

function cliDone(args: string[], env: Record<string, string>): Promise<ProcessResult> {
  return cli(args, env).result();
}

/**
 * A gateway process and what the CLI needs to reach it. With `hub`, the gateway reads the models'
 * files from a test hub holding these repos (the memory estimate), as a real `models add` does.
 */
async function setup(hub?: Parameters<typeof startTestHub>[0]) {
  const dir = await scope.tempDir("omnigate-cli-");
  let gatewayEnv: Record<string, string> = {};
  if (hub) {
    const served = await startTestHub(hub);
    scope.defer(() => served.close());
    gatewayEnv = { HF_ENDPOINT: served.url };
  }
  const gw = await startControlGateway(scope, { dataDir: dir, env: gatewayEnv });
  const nodeToken = readFileSync(join(dir, "node.token"), "utf8").trim();
  // The CLI finds the admin key in the data dir, as on the gateway's own machine.
  const env = { OMNIGATE_URL: gw.url, OMNIGATE_DATA_DIR: dir };
  return { dir, gw, nodeToken, env };
}

describe("omnigate CLI", () => {
  it("models add --wait shows each node's state and download progress until ready", async () => {
    const { gw, nodeToken, env } = await setup({ repos: { "org/tiny": { revisions: { main: { files: { "tiny.gguf": buildTinyLlamaGguf() } } } } } });
    const node = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]);
    await node.register();
    await node.heartbeat();

    const run = cli(["models", "add", "org/tiny", "--file", "tiny.gguf", "--wait", "--timeout", "30"], env);
    const short = node.runtimeId.slice(0, 8);
    await waitFor(() => run.stdout.includes(`${short} pending`), { timeoutMs: 10_000, what: "the pending line" });
    await node.heartbeat([{ name: "org/tiny", state: "downloading", progress: { bytes: 43_000_000, total: 100_000_000, rate: 2_000_000, percent: 43 } }]);
    await waitFor(() => run.stdout.includes("downloading 43.0%"), { timeoutMs: 10_000, what: "the progress line" });
    await node.heartbeat([{ name: "org/tiny", state: "ready" }]);
    expect((await run.result()).code).toBe(0);

    expect(run.stdout).toContain("registered org/tiny (org/tiny@main, runtime llama_cpp");
    expect(run.stdout).toContain(`org/tiny: ${short} downloading 43.0% (43.0 MB / 100.0 MB, 2.0 MB/s)`);
    expect(run.stdout).toContain(`org/tiny is ready on 1 of 1 node(s): ${short}`);
    // Not a terminal: plain lines, no cursor control.
    expect(run.stdout).not.toContain("\x1b[");
  });

  it("models add --wait exits 1 naming the reason when every node failed", async () => {
    const { gw, nodeToken, env } = await setup({ repos: { "org/asr": { revisions: { main: { files: { "ggml-base.bin": "not really a model" } } } } } });
    const node = new FakeNode(() => gw.url, nodeToken, ["whisper"]);
    await node.register();
    const run = cli(["models", "add", "org/asr", "--runtime", "whisper", "--wait"], env);
    await waitFor(() => run.stdout.includes("registered org/asr"), { timeoutMs: 10_000, what: "registration" });
    await node.heartbeat([{ name: "org/asr", state: "failed", error: "sha256 mismatch for ggml-base.bin" }]);
    expect((await run.result()).code).toBe(1);
    expect(run.stderr).toContain("org/asr failed on every node");
    expect(run.stderr).toContain("sha256 mismatch for ggml-base.bin");
  });

  it("models add --wait follows the event stream through a gateway restart", async () => {
    const dir = await scope.tempDir("omnigate-cli-");
    const port = String(await freePort());
    const gw = await startControlGateway(scope, { dataDir: dir, env: { OMNIGATE_PORT: port } });
    const node = new FakeNode(() => gw.url, readFileSync(join(dir, "node.token"), "utf8").trim(), ["llama_cpp"]);
    await node.register();
    const run = cli(["models", "add", "org/tiny", "--file", "tiny.gguf", "--memory-mib", "64", "--wait"], { OMNIGATE_URL: gw.url, OMNIGATE_DATA_DIR: dir });
    await waitFor(() => run.stdout.includes("pending"), { timeoutMs: 10_000, what: "the pending line" });
    await gw.stop();
    await waitFor(() => run.stdout.includes("(reconnecting)"), { timeoutMs: 10_000, what: "the reconnecting note" });
    // The restarted gateway forgot its nodes: the agent registers again, then reports the model ready.
    const again = await startControlGateway(scope, { dataDir: dir, env: { OMNIGATE_PORT: port } });
    expect(again.url).toBe(gw.url);
    await node.register();
    await node.heartbeat([{ name: "org/tiny", state: "ready" }]);
    expect((await run.result()).code).toBe(0);
    expect(run.stdout).toContain(`org/tiny is ready on 1 of 1 node(s): ${node.runtimeId.slice(0, 8)}`);
  });

  it("models ls / rm and nodes ls, as tables and as --json", async () => {
    const { gw, nodeToken, env } = await setup();
    const node = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]);
    await node.register();
    // A memory figure: no hub to read an estimate from here.
    expect((await cliDone(["models", "add", "org/a", "--name", "alpha", "--file", "a.gguf", "--memory-mib", "512"], env)).code).toBe(0);
    await node.heartbeat([{ name: "alpha", state: "ready" }]);

    const ls = await cliDone(["models", "ls"], env);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^NAME\s+RUNTIME\s+READY\s+REPLICAS\s+MEMORY\s+NODES/m);
    // REPLICAS: ready/placed/desired.
    expect(ls.stdout).toMatch(new RegExp(`^alpha\\s+llama_cpp\\s+yes\\s+1/1/1\\s+512 MiB\\s+${node.runtimeId.slice(0, 8)} ready$`, "m"));
    const lsJson = await cliDone(["models", "ls", "--json"], env);
    expect(JSON.parse(lsJson.stdout)).toMatchObject([{ id: "alpha", ready: true, repo: "org/a" }]);

    const nodes = await cliDone(["nodes", "ls"], env);
    // MEMORY: what is committed (the node reports no capacity).
    expect(nodes.stdout).toMatch(new RegExp(`^${node.runtimeId.slice(0, 8)}\\s+fake-gpu-box\\s+online\\s+llama_cpp\\s+512 MiB\\s+alpha:ready\\s+\\d+s ago\\s+-$`, "m"));
    expect(JSON.parse((await cliDone(["--json", "nodes", "ls"], env)).stdout)).toMatchObject([{ runtime_id: node.runtimeId, online: true }]);

    // A text-to-speech voice with names for its speakers.
    const voice = await cliDone(["--json", "models", "add", "org/piper", "--runtime", "onnx_runtime", "--voice", "alloy=0", "--voice", "echo=3"], env);
    expect(voice.code).toBe(0);
    expect(JSON.parse(voice.stdout)).toMatchObject({ name: "org/piper", options: { voices: { alloy: 0, echo: 3 } } });
    const badVoice = await cliDone(["models", "add", "org/piper2", "--voice", "alloy"], env);
    expect(badVoice.code).not.toBe(0);
    expect(badVoice.stderr).toMatch(/--voice.*must be name=speaker-id, e\.g\. alloy=0/);
    expect((await cliDone(["models", "rm", "org/piper"], env)).code).toBe(0);

    const rm = await cliDone(["models", "rm", "alpha"], env);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain("deleted alpha");
    expect(rm.stdout).toMatch(/deferred: could not reach the agent .*it deletes at its next heartbeat/);
    expect(JSON.parse((await cliDone(["models", "ls", "--json"], env)).stdout)).toEqual([]);
  });

  it("nodes cordon / uncordon / drain --wait: the replica moves make-before-break, the command waits for it", async () => {
    const { gw, nodeToken, env } = await setup();
    const a = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]);
    const b = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]);
    for (const n of [a, b]) {
      await n.register();
      await n.heartbeat();
    }
    const short = (n: FakeNode) => n.runtimeId.slice(0, 8);
    // Both nodes are called fake-gpu-box: a hostname that names two nodes is refused.
    const ambiguous = await cliDone(["nodes", "cordon", "fake-gpu-box"], env);
    expect([ambiguous.code, ambiguous.stderr]).toEqual([1, expect.stringContaining("matches several nodes")]);
    const unknown = await cliDone(["nodes", "drain", "00000000-0000-4000-8000-000000000000"], env);
    expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringContaining("No node '00000000-0000-4000-8000-000000000000' is registered")]);

    // Cordoned, b takes no placement: the model goes to a.
    expect((await cliDone(["nodes", "cordon", short(b)], env)).stdout.trim()).toBe(`${short(b)} fake-gpu-box: cordoned`);
    expect((await cliDone(["models", "add", "org/m", "--name", "m", "--file", "m.gguf", "--memory-mib", "100"], env)).code).toBe(0);
    const placedOn = async () => ((await gw.call("GET", "/v1/models/m", gw.adminKey)).body.nodes as Array<{ runtime_id: string; ready: boolean }>);
    expect((await placedOn()).map((n) => n.runtime_id)).toEqual([a.runtimeId]);
    expect((await cliDone(["nodes", "uncordon", short(b)], env)).stdout.trim()).toBe(`${short(b)} fake-gpu-box: in service`);
    await a.heartbeat([{ name: "m", state: "ready" }]);

    // Drain a: the replacement goes to b; a keeps its copy until b reports ready.
    const drain = cli(["nodes", "drain", short(a), "--wait", "--timeout", "30"], env);
    await waitFor(async () => (await placedOn()).some((n) => n.runtime_id === b.runtimeId), { what: "the replacement placed on b" });
    await waitFor(() => drain.stdout.includes("draining fake-gpu-box: m"), { what: "the draining line" });
    expect((await placedOn()).find((n) => n.runtime_id === a.runtimeId)).toMatchObject({ ready: true, leaving: true });
    expect(drain.running).toBe(true);
    await b.heartbeat([{ name: "m", state: "ready" }]);
    expect((await drain.result()).code).toBe(0);
    expect(drain.stdout).toContain(`${short(a)} fake-gpu-box: drained`);
    expect((await placedOn()).map((n) => n.runtime_id)).toEqual([b.runtimeId]);
    expect((await a.heartbeat()).body.models).toEqual([]);
  });

  it("keys create / ls / revoke; a revoked key stops working", async () => {
    const { gw, env } = await setup();
    const created = await cliDone(["keys", "create", "ci-bot", "--json"], env);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; key: string; prefix: string };
    expect((await gw.call("GET", "/v1/models", key.key)).status).toBe(200);

    const human = await cliDone(["keys", "create", "human"], env);
    expect(human.stdout).toMatch(/^og-\S+$/m);
    expect(human.stdout).toContain("not shown again");

    const ls = await cliDone(["keys", "ls"], env);
    expect(ls.stdout).toMatch(new RegExp(`^${key.id}\\s+ci-bot\\s+${key.prefix}…\\s+\\d{4}-\\d\\d-\\d\\d \\S+Z\\s+-$`, "m"));
    expect(ls.stdout).not.toContain(key.key);

    const revoke = await cliDone(["keys", "revoke", key.id], env);
    expect([revoke.code, revoke.stdout.trim()]).toEqual([0, `revoked ${key.id} (ci-bot)`]);
    expect((await gw.call("GET", "/v1/models", key.key)).status).toBe(401);
  });

  it("prints the server's error and exits 1; reads OMNIGATE_ADMIN_KEY; explains a missing key or gateway", async () => {
    const { dir, gw, env } = await setup();
    expect((await cliDone(["models", "add", "org/dup", "--runtime", "whisper"], env)).code).toBe(0);
    const dup = await cliDone(["models", "add", "org/dup", "--runtime", "whisper"], env);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain("A model named 'org/dup' already exists");
    const ambiguous = await cliDone(["models", "add", "org/what"], env);
    expect([ambiguous.code, ambiguous.stderr]).toEqual([1, expect.stringContaining("Give runtime: one of")]);
    expect((await cliDone(["keys", "revoke", "key_nope"], env)).stderr).toContain("No API key with id 'key_nope'");

    const admin = readFileSync(join(dir, "admin.key"), "utf8").trim();
    const viaEnv = await cliDone(["models", "ls", "--json"], { OMNIGATE_URL: gw.url, OMNIGATE_ADMIN_KEY: admin });
    expect(JSON.parse(viaEnv.stdout)).toMatchObject([{ id: "org/dup" }]);
    const wrongKey = await cliDone(["nodes", "ls"], { OMNIGATE_URL: gw.url, OMNIGATE_ADMIN_KEY: "og-definitely-not-the-admin-key" });
    expect([wrongKey.code, wrongKey.stderr]).toEqual([1, expect.stringContaining("not valid")]);

    const noKey = await cliDone(["models", "ls"], { OMNIGATE_URL: gw.url, OMNIGATE_DATA_DIR: join(dir, "nowhere") });
    expect([noKey.code, noKey.stderr]).toEqual([1, expect.stringContaining("No admin key: set OMNIGATE_ADMIN_KEY")]);
    const down = await cliDone(["models", "ls"], { OMNIGATE_URL: "http://127.0.0.1:9", OMNIGATE_ADMIN_KEY: admin });
    expect([down.code, down.stderr]).toEqual([1, expect.stringContaining("Cannot reach the gateway at http://127.0.0.1:9")]);
  });
});
