import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TestScope } from "@omnigate/testkit/scope";
import { FakeNode, startControlGateway } from "./control-harness.js";

// The placement fields' bad input, through a gateway process: every refusal names the field.

const scope = new TestScope();
afterEach(() => scope.cleanup());

describe("gateway process: placement input", () => {
  it("refuses bad replicas, selectors, memory, patches and node actions, naming what was wrong", async () => {
    const dir = await scope.tempDir("omnigate-placement-input-");
    let gw = await startControlGateway(scope, { dataDir: dir });
    const admin = readFileSync(join(dir, "admin.key"), "utf8").trim();
    const nodeToken = readFileSync(join(dir, "node.token"), "utf8").trim();
    const base = { repo: "org/m", files: ["m.gguf"] };
    const cases: Array<[unknown, string, RegExp]> = [
      [{ ...base, replicas: -1 }, "replicas", /replicas must be an integer from 0 to 1000/],
      [{ ...base, replicas: 1.5 }, "replicas", /replicas must be an integer/],
      [{ ...base, replicas: 1001 }, "replicas", /from 0 to 1000/],
      [{ ...base, replicas: "some" }, "replicas", /or "all"/],
      [{ ...base, node_selector: { "bad key!": "x" } }, "node_selector.bad key!", /label key/],
      [{ ...base, node_selector: { zone: "has space" } }, "node_selector.zone", /label value/],
      [{ ...base, resources: { memory_mib: 0 } }, "resources.memory_mib", /greater than 0/],
      [{ ...base, resources: { memory_mib: -5 } }, "resources.memory_mib", /greater than 0/],
      [{ ...base, placement_policy: "random" }, "placement_policy", /"spread" or "binpack"/],
    ];
    for (const [body, param, message] of cases) {
      const res = await gw.call("POST", "/api/models", admin, body);
      expect([res.status, res.body.error.code, res.body.error.param], JSON.stringify(body)).toEqual([400, "invalid_request", param]);
      expect(res.body.error.message).toMatch(message);
    }

    expect((await gw.call("POST", "/api/models", admin, { ...base, name: "m", resources: { memory_mib: 10 } })).status).toBe(201);
    for (const field of ["repo", "runtime"]) {
      const res = await gw.call("PATCH", "/api/models/m", admin, { [field]: field === "repo" ? "org/other" : "whisper" });
      expect([res.status, res.body.error.param]).toEqual([400, field]);
      expect(res.body.error.message).toContain("Delete the model");
    }
    const badPatch = await gw.call("PATCH", "/api/models/m", admin, { replicas: -2 });
    expect([badPatch.status, badPatch.body.error.param]).toEqual([400, "replicas"]);
    const unknown = await gw.call("PATCH", "/api/models/org/nope", admin, { replicas: 2 });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, "model_not_found"]);
    const ok = await gw.call("PATCH", "/api/models/m", admin, { replicas: 0, node_selector: { zone: "eu" }, placement_policy: "binpack", resources: null });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ replicas: 0, node_selector: { zone: "eu" }, placement_policy: "binpack" });
    expect(ok.body.resources).toBeUndefined();

    for (const action of ["cordon", "uncordon", "drain"]) {
      const res = await gw.call("POST", `/api/nodes/00000000-0000-4000-8000-000000000000/${action}`, admin);
      expect([res.status, res.body.error.code]).toEqual([404, "node_not_found"]);
    }
    // A node's admin state is kept across a gateway restart.
    const node = new FakeNode(() => gw.url, nodeToken, ["llama_cpp"]);
    await node.register();
    const cordoned = await gw.call("POST", `/api/nodes/${node.runtimeId}/cordon`, admin);
    expect(cordoned.body).toMatchObject({ cordoned: true, draining: false });
    await gw.stop();
    gw = await startControlGateway(scope, { dataDir: dir });
    await node.register();
    const listed = (await gw.call("GET", "/api/nodes", admin)).body as Array<{ runtime_id: string; cordoned: boolean }>;
    expect(listed.find((n) => n.runtime_id === node.runtimeId)?.cordoned).toBe(true);
  });
});
