// `omnigate db copy --from sqlite:<dir> --to postgres://…` as a real process: a one-box install
// moved to PostgreSQL, then served by a gateway on it with nothing lost and no node registering again.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CLI_MAIN } from "@omnigate/testkit/cluster";
import { TestScope } from "@omnigate/testkit/scope";
import { FakeNode, startControlGateway } from "./control-harness.js";
import { suitePostgres } from "./helpers/postgres-suite.js";

const pg = suitePostgres();

const scope = new TestScope();
afterEach(() => scope.cleanup());

const copy = (args: string[]) => scope.spawn(CLI_MAIN, { name: "cli", args: ["db", "copy", ...args] }).result();

describe("omnigate db copy", () => {
  it("moves a SQLite install's models, keys, placement and nodes into an empty PostgreSQL, once", async () => {
    const dir = await scope.tempDir("og-copy-");
    const one = await startControlGateway(scope, { dataDir: dir });
    const admin = readFileSync(join(dir, "admin.key"), "utf8").trim();
    const nodeToken = readFileSync(join(dir, "node.token"), "utf8").trim();
    await one.call("POST", "/api/models", admin, { repo: "org/moved", files: ["m.gguf"], replicas: "all", resources: { memory_mib: 1 } });
    const key = (await one.call("POST", "/api/keys", admin, { name: "moved" })).body;
    let gatewayUrl = one.url;
    const node = new FakeNode(() => gatewayUrl, nodeToken, ["llama_cpp"]);
    await node.register();
    await node.heartbeat([{ name: "org/moved", state: "ready" }]);
    await one.call("POST", `/api/nodes/${node.runtimeId}/cordon`, admin);
    await one.stop();

    const url = await pg().createDatabase();
    const done = await copy(["--from", `sqlite:${dir}`, "--to", url]);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/^copied 1 models, 1 api_keys, 1 nodes, 1 placements, 1 node_admin, \d+ cluster from .*omnigate\.db to postgres:\/\/omnigate_test@127\.0\.0\.1:\d+\/og_\w+$/m);
    expect(done.stdout + done.stderr).not.toContain(pg().password);

    // A gateway on PostgreSQL with the same data dir's credentials: everything is there, and the
    // node's secret from before still works.
    const shared = await startControlGateway(scope, { dataDir: dir, env: { OMNIGATE_DATABASE_URL: url } });
    gatewayUrl = shared.url;
    expect((await shared.call("GET", "/v1/models", key.key)).body.data.map((m: { id: string }) => m.id)).toEqual(["org/moved"]);
    const hb = await node.heartbeat([{ name: "org/moved", state: "ready" }]);
    expect(hb.status).toBe(200);
    expect(hb.body.models.map((m: { name: string }) => m.name)).toEqual(["org/moved"]);
    const nodes = (await shared.call("GET", "/api/nodes", admin)).body as Array<{ runtime_id: string; cordoned: boolean; placed_models: string[] }>;
    expect(nodes).toMatchObject([{ runtime_id: node.runtimeId, cordoned: true, placed_models: ["org/moved"] }]);
    await shared.stop();

    // Again into the same database: refused, nothing overwritten.
    const again = await copy(["--from", `sqlite:${dir}`, "--to", url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/error: postgres:\/\/.* already holds 1 models, 1 api_keys, .*: copy into an empty database/);
    expect(again.stderr).not.toContain(pg().password);
  });

  it("says what --from and --to must be", async () => {
    const bad = await copy(["--from", "/var/lib/omnigate", "--to", "postgres://x@127.0.0.1:1/db"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("--from must be sqlite:<data dir>");
    const badTo = await copy(["--from", "sqlite:/tmp/x", "--to", "mysql://x"]);
    expect(badTo.stderr).toContain("--to must be a postgres://");
  });
});
