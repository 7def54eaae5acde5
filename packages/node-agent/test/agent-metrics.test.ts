/**
 * The agent's GET /metrics on a real agent process (built dist) behind a real gateway, with the test
 * hub and the stand-in llama-server: a pull moves the download-bytes counter, a request through the
 * gateway moves the request counter, and the endpoint refuses a scrape without credentials.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildTinyLlamaGguf } from "@omnigate/testkit/gguf-writer";
import { startTestHub, type TestHub } from "@omnigate/testkit/hub";
import { standInEngineEnv } from "@omnigate/testkit/stand-ins";
import { GatewayApi, httpJson } from "@omnigate/testkit/gateway-api";
import { TestScope } from "@omnigate/testkit/scope";
import { randomCredential, startCluster } from "@omnigate/testkit/cluster";
import { waitFor } from "@omnigate/testkit/wait";

const REPO = "test-org/tiny-llama";
const GGUF = buildTinyLlamaGguf();

const scope = new TestScope();
let hub: TestHub;

beforeEach(async () => {
  hub = await startTestHub({ repos: { [REPO]: { revisions: { main: { files: { "tiny-q8_0.gguf": GGUF } } } } } });
});

afterEach(async () => {
  await scope.cleanup();
  await hub.close();
});

/** A sample's value in Prometheus text (undefined when the series is absent). */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("agent /metrics (real agent process)", () => {
  it("counts downloaded bytes and requests, and takes the node secret or the scrape token only", async () => {
    const token = randomCredential("scrape");
    const { gateway, agents } = await startCluster(scope, {
      gateway: { heartbeatIntervalMs: 200, env: { HF_ENDPOINT: hub.url } },
      agentEnv: { HF_ENDPOINT: hub.url, OMNIGATE_AGENT_METRICS_TOKEN: token, ...standInEngineEnv() },
    });
    const agent = agents[0]!;
    const metrics = () => httpJson<string>(`${agent.url}/metrics`, { token });

    // Before any pull or request: the counters have no series yet.
    const before = await metrics();
    expect(before.status).toBe(200);
    expect(sample(before.body, `omnigate_agent_download_bytes_total{repo="${REPO}"}`)).toBeUndefined();

    const api = new GatewayApi(gateway);
    expect((await api.registerModel({ repo: REPO, files: ["*.gguf"] })).status).toBe(201);
    await waitFor(async () => ((await api.model(REPO))?.ready ? true : undefined), { what: "model ready", timeoutMs: 20_000 });
    const chat = await httpJson(`${gateway.url}/v1/chat/completions`, {
      token: gateway.adminKey,
      json: { model: REPO, messages: [{ role: "user", content: "hello" }], max_tokens: 4 },
    });
    expect(chat.status, JSON.stringify(chat.body)).toBe(200);

    const after = await metrics();
    expect(after.status).toBe(200);
    expect(after.headers.get("content-type")).toContain("text/plain");
    // Every byte of the file came from the hub in this pull.
    expect(sample(after.body, `omnigate_agent_download_bytes_total{repo="${REPO}"}`)).toBe(GGUF.length);
    // The request the gateway forwarded, counted once it ended.
    await waitFor(async () => {
      const text = (await metrics()).body;
      return (sample(text, `omnigate_agent_requests_total{model="${REPO}",endpoint="chat",status="200"}`) ?? 0) >= 1 ? true : undefined;
    }, { what: "request counted", timeoutMs: 5_000 });
    expect(sample(after.body, `omnigate_agent_model_ready{model="${REPO}"}`)).toBe(1);
    expect(sample(after.body, `omnigate_agent_engine_up{model="${REPO}",runtime="llama_cpp"}`)).toBe(1);

    // No credentials, a wrong token: 401 with an OpenAI-shaped body.
    const none = await httpJson<{ error: { code: string } }>(`${agent.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe("missing_api_key");
    const wrong = await httpJson<{ error: { code: string } }>(`${agent.url}/metrics`, { token: randomCredential("nope") });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe("invalid_api_key");
    // The scrape token opens /metrics only, never the data plane.
    const plane = await httpJson<{ error: { code: string } }>(`${agent.url}/v1/chat/completions`, {
      token,
      json: { model: REPO, messages: [{ role: "user", content: "hello" }] },
    });
    expect(plane.status).toBe(401);
  });
});
