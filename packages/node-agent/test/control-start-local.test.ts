// `pnpm start` (tools/start-local.mjs) as a user runs it: the gateway and one local agent in one
// command, the agent registering with the token the gateway generated, Ctrl-C stopping both; and
// the README's "try it" flow for speech, which needs nothing installed but the packages.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { standInEngineEnv } from "@omnigate/testkit/stand-ins";
import { httpJson } from "@omnigate/testkit/gateway-api";
import { TestScope } from "@omnigate/testkit/scope";
import { measureWav } from "@omnigate/testkit/audio";
import { TINY_VOICE } from "@omnigate/testkit/tiny-piper-voice";
import { REPO_ROOT } from "@omnigate/testkit/cluster";
import { waitFor } from "@omnigate/testkit/wait";
import { freePort } from "../src/supervisor/free-port.js";

const scope = new TestScope();
afterEach(() => scope.cleanup());

async function refuses(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/healthz`);
    return false;
  } catch {
    return true;
  }
}

describe("pnpm start (tools/start-local.mjs)", () => {
  it("runs a gateway and a local agent that registers by itself, and stops both on Ctrl-C", async () => {
    const dataDir = await scope.tempDir("og-start-gw-");
    const stateDir = await scope.tempDir("og-start-agent-");
    // A port free right now: start-local hands the gateway's port to the agent, so 0 cannot do.
    const port = await freePort();
    const start = scope.spawn(join(REPO_ROOT, "tools/start-local.mjs"), {
      name: "start",
      env: {
        OMNIGATE_PORT: String(port),
        OMNIGATE_DATA_DIR: dataDir,
        OMNIGATE_STATE_DIR: stateDir,
        OMNIGATE_AGENT_PORT: "0",
        LOG_LEVEL: "warn",
        ...standInEngineEnv(),
      },
    });
    const gatewayUrl = (await start.waitForLine(/omnigate gateway listening on (http\S+)/, 20_000))[1]!;
    const agentUrl = (await start.waitForLine(/omnigate agent listening on (http\S+)/, 20_000))[1]!;
    expect(gatewayUrl).toBe(`http://127.0.0.1:${port}`);

    // Nothing was configured: the agent found the node token the gateway generated.
    const adminKey = (await readFile(join(dataDir, "admin.key"), "utf8")).trim();
    const node = await waitFor(
      async () => {
        const res = await httpJson<Array<{ online: boolean; agent_url: string; supported_runtimes: string[] }>>(`${gatewayUrl}/api/nodes`, { token: adminKey });
        return res.body.find((n) => n.online);
      },
      { what: "the local agent online", timeoutMs: 20_000 },
    );
    expect(node.agent_url).toBe(agentUrl);
    expect(node.supported_runtimes).toEqual(["llama_cpp"]);

    start.child.kill("SIGINT");
    const exit = await start.exited;
    expect(exit.code).toBe(0);
    expect(await refuses(gatewayUrl)).toBe(true);
    expect(await refuses(agentUrl)).toBe(true);
  });

  it("speaks out of the box: the README's try-it flow with the tiny voice from a local hub", async () => {
    const dataDir = await scope.tempDir("og-start-gw-");
    const stateDir = await scope.tempDir("og-start-agent-");
    const hfHome = await scope.tempDir("og-start-hf-");
    const hub = scope.spawn(join(REPO_ROOT, "packages/testkit/hub/main.mjs"), {
      name: "hub",
      args: ["--spec", join(REPO_ROOT, "packages/testkit/tts/tiny-piper-hub.json")],
    });
    const hubUrl = (JSON.parse((await hub.waitForLine(/^\{"url".*\}$/))[0]) as { url: string }).url;
    const port = await freePort();
    // What a user's environment leaves unset: no engine binary at all, and no OMNIGATE_TTS_BIN.
    const engines: Record<string, string> = standInEngineEnv([]);
    delete engines.OMNIGATE_TTS_BIN;
    const start = scope.spawn(join(REPO_ROOT, "tools/start-local.mjs"), {
      name: "start",
      env: { ...engines, OMNIGATE_PORT: String(port), OMNIGATE_DATA_DIR: dataDir, OMNIGATE_STATE_DIR: stateDir, OMNIGATE_AGENT_PORT: "0", HF_HOME: hfHome, HF_ENDPOINT: hubUrl, LOG_LEVEL: "warn" },
    });
    const gatewayUrl = (await start.waitForLine(/omnigate gateway listening on (http\S+)/, 20_000))[1]!;
    await start.waitForLine(/omnigate agent listening on/, 20_000);
    const add = scope.spawn(join(REPO_ROOT, "packages/gateway/dist/cli/main.js"), {
      name: "omnigate",
      args: ["models", "add", "omnigate-tests/tiny-piper-voice", "--name", "voice", "--runtime", "onnx_runtime", "--voice", "alloy=0", "--wait", "--timeout", "60"],
      env: { OMNIGATE_URL: gatewayUrl, OMNIGATE_DATA_DIR: dataDir },
    });
    expect((await add.exited).code, add.tail()).toBe(0);
    const adminKey = (await readFile(join(dataDir, "admin.key"), "utf8")).trim();
    const res = await fetch(`${gatewayUrl}/v1/audio/speech`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "voice", input: "Hello from omnigate.", voice: "alloy", response_format: "wav" }),
    });
    expect(res.status).toBe(200);
    const tone = measureWav(Buffer.from(await res.arrayBuffer()));
    expect(tone.sampleRate).toBe(TINY_VOICE.sampleRate);
    expect(tone.peak).toBeGreaterThan(0.4);
  }, 90_000);
});
