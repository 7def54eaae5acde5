import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TestScope } from "@omnigate/testkit/scope";
import { waitFor } from "@omnigate/testkit/wait";
import { FakeNode, startControlGateway } from "./control-harness.js";

// Readiness (README "Readiness") through the real /v1 endpoints of a gateway process: 404, 404, 503, 503.

const scope = new TestScope();
afterEach(() => scope.cleanup());

describe("gateway process: readiness on /v1", () => {
  it("answers each readiness branch with its status, code, message and Retry-After", async () => {
    const dir = await scope.tempDir("omnigate-ready-");
    const gw = await startControlGateway(scope, { dataDir: dir, env: { OMNIGATE_NODE_TIMEOUT_MS: "2000" } });
    const admin = readFileSync(join(dir, "admin.key"), "utf8").trim();
    const nodeToken = readFileSync(join(dir, "node.token"), "utf8").trim();
    const client = (await gw.call("POST", "/api/keys", admin, { name: "app" })).body.key as string;
    await gw.call("POST", "/api/models", admin, { name: "llama-3.1-8b", repo: "org/llama-3.1-8b", files: ["m.gguf"], replicas: "all", resources: { memory_mib: 1 } });
    const chat = (model: string) => gw.call("POST", "/v1/chat/completions", client, { model, messages: [{ role: "user", content: "hi" }] });

    // 1. unknown model, or one lacking the capability → 404.
    const unknown = await chat("no-such-model");
    expect([unknown.status, unknown.body.error.code]).toEqual([404, "model_not_found"]);
    const speech = await gw.call("POST", "/v1/audio/speech", client, { model: "llama-3.1-8b", input: "hello" });
    expect([speech.status, speech.body.error.code]).toEqual([404, "model_capability_unsupported"]);
    expect(speech.body.error.message).toContain("Model 'llama-3.1-8b' does not support text-to-speech");

    // 2. no online node runs llama_cpp → 503 no_capable_node.
    const whisperOnly = new FakeNode(() => gw.url, nodeToken, ["whisper"]);
    await whisperOnly.register();
    let res = await chat("llama-3.1-8b");
    expect([res.status, res.body.error.code]).toEqual([503, "no_capable_node"]);
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);

    // 3. a capable node that is still downloading → 503 model_not_ready saying so.
    const node = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]);
    await node.register();
    await node.heartbeat([{ name: "llama-3.1-8b", state: "downloading", progress: { bytes: 43, total: 100, percent: 43.2 } }]);
    res = await chat("llama-3.1-8b");
    expect([res.status, res.body.error.code, res.body.error.type]).toEqual([503, "model_not_ready", "service_unavailable_error"]);
    expect(res.body.error.message).toContain("downloading 43%");
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
    await node.heartbeat([{ name: "llama-3.1-8b", state: "failed", error: "disk full" }]);
    expect((await chat("llama-3.1-8b")).body.error.message).toContain("failed: disk full");

    // The node falls silent → offline → back to 503 no_capable_node.
    await node.heartbeat([{ name: "llama-3.1-8b", state: "ready" }]);
    res = await waitFor(async () => {
      const r = await chat("llama-3.1-8b");
      return r.body?.error?.code === "no_capable_node" ? r : undefined;
    }, { timeoutMs: 10_000, what: "the silent node to drop out" });
    expect(res.status).toBe(503);
  });
});
