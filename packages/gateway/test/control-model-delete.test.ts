import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TestScope } from "@omnigate/testkit/scope";
import { FakeNode, startControlGateway } from "./control-harness.js";

// Deletion (docs/architecture.md, "The node protocol") through a gateway process: a node's `ready` report about a deleted model must
// not count for a model registered again under the same name before that node reports again.

const scope = new TestScope();
afterEach(() => scope.cleanup());

describe("gateway process: delete, then register the same name again", () => {
  it("shows the re-registered model pending on every node until the node reports on it", async () => {
    const dir = await scope.tempDir("omnigate-redelete-");
    // A long heartbeat interval: nothing but this test's own calls reports model states.
    const gw = await startControlGateway(scope, { dataDir: dir, env: { OMNIGATE_NODE_TIMEOUT_MS: "60000", OMNIGATE_HEARTBEAT_INTERVAL_MS: "30000" } });
    const admin = readFileSync(join(dir, "admin.key"), "utf8").trim();
    const nodeToken = readFileSync(join(dir, "node.token"), "utf8").trim();
    const model = { name: "org/m", repo: "org/m-gguf", files: ["m.gguf"], replicas: "all", resources: { memory_mib: 1 } };
    expect((await gw.call("POST", "/api/models", admin, model)).status).toBe(201);

    // Two nodes report the model ready; their agent_url refuses, so the delete is `deferred`.
    const nodes = [new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]), new FakeNode(() => gw.url, nodeToken, ["llama_cpp"])];
    for (const node of nodes) {
      expect((await node.register()).status).toBe(200);
      expect((await node.heartbeat([{ name: "org/m", state: "ready" }])).status).toBe(200);
    }
    expect((await gw.call("GET", "/v1/models/org/m", admin)).body.ready).toBe(true);

    const deleted = await gw.call("DELETE", "/v1/models/org/m", admin);
    expect(deleted.status).toBe(200);
    expect(deleted.body.nodes.map((n: { outcome: string }) => n.outcome)).toEqual(["deferred", "deferred"]);
    expect((await gw.call("POST", "/api/models", admin, model)).status).toBe(201);

    const entry = (await gw.call("GET", "/v1/models/org/m", admin)).body;
    expect(entry.ready).toBe(false);
    expect(entry.nodes.map((n: { state: string }) => n.state)).toEqual(["pending", "pending"]);
    const nodeView = await gw.call("GET", "/api/nodes", admin);
    expect(nodeView.status).toBe(200);
    const listed = nodeView.body as Array<{ runtime_id: string; models: unknown[]; loaded_models: unknown; placed_models: string[] }>;
    expect(listed.map((n) => n.runtime_id).sort()).toEqual(nodes.map((n) => n.runtimeId).sort());
    for (const n of listed) {
      // No report about the deleted engine is kept; the new registration is placed there again.
      expect(JSON.stringify([n.models, n.loaded_models])).not.toContain('"org/m"');
      expect(n.placed_models).toEqual(["org/m"]);
    }
    const chat = await gw.call("POST", "/v1/chat/completions", admin, { model: "org/m", messages: [{ role: "user", content: "hi" }] });
    expect([chat.status, chat.body.error.code]).toEqual([503, "model_not_ready"]);

    // The next report about the new registration counts again.
    await nodes[0]!.heartbeat([{ name: "org/m", state: "ready" }]);
    expect((await gw.call("GET", "/v1/models/org/m", admin)).body.ready).toBe(true);
  });
});
