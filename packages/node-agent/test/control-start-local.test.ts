// `pnpm start` (tools/start-local.mjs) as a user runs it: the gateway and one local agent in one
// command, the agent registering with the token the gateway generated, Ctrl-C stopping both.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { standInEngineEnv } from "@omnigate/testkit/stand-ins";
import { httpJson } from "@omnigate/testkit/gateway-api";
import { TestScope } from "@omnigate/testkit/scope";
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
});
