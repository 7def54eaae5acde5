import { afterEach, describe, expect, it } from "vitest";
import type { ModelRecord } from "@omnigate/shared/models";
import { TestScope } from "@omnigate/testkit/scope";
import { waitFor } from "@omnigate/testkit/wait";
import { silent } from "../../../test/helpers/store-harness.js";
import type { ClusterMessage, RowChange } from "../store-contract.js";
import { storeOver, type Store } from "../store.js";
import { PostgresBackend } from "./pg-backend.js";
import { suitePostgres } from "../../../test/helpers/postgres-suite.js";

// Two gateways' stores on one database, in one process: what one writes reaches the other's
// caches; messages go to the others only; one leader, and another when it goes.

const pg = suitePostgres();

const scope = new TestScope();
afterEach(() => scope.cleanup());

const LEADER_CHECK_MS = 100;

async function open(url: string): Promise<Store> {
  const store = storeOver(await PostgresBackend.open({ url, logger: silent, leaderCheckMs: LEADER_CHECK_MS }), silent);
  scope.defer(() => store.close());
  await store.load();
  return store;
}

function record(name: string, extra: Partial<ModelRecord> = {}): ModelRecord {
  return {
    name,
    repo: "org/model",
    revision: "main",
    files: ["m.gguf"],
    runtime: "llama_cpp",
    kind: "llm",
    capabilities: ["chat", "completion", "embedding"],
    options: {},
    created_at: 1,
    replicas: 1,
    node_selector: {},
    placement_policy: "spread",
    ...extra,
  };
}

describe("PostgreSQL bus", () => {
  it("carries each write to the other gateway's cache, a document too large for a notification by its key", async () => {
    const url = await pg().createDatabase();
    const [a, b] = await Promise.all([open(url), open(url)]);
    const changes: RowChange[] = [];
    b.backend.bus.on("change", (c) => changes.push(c));

    expect(await a.models.insert(record("small"))).toBe(true);
    await waitFor(() => b.models.get("small"), { what: "the model at b" });
    // ~20 KB of engine arguments: more than a NOTIFY payload holds.
    const big = record("big", { options: { engine_args: Array.from({ length: 2_000 }, (_, i) => `--flag-${i}`) } });
    expect(await a.models.insert(big)).toBe(true);
    expect(await waitFor(() => b.models.get("big"), { what: "the big model at b" })).toEqual(big);
    await a.models.delete("small");
    await waitFor(() => b.models.get("small") === undefined, { what: "the delete at b" });
    const key = await b.keys.create("from-b");
    await waitFor(() => a.keys.find(key.key), { what: "b's key at a" });
    // b heard only a's writes, not its own.
    expect(changes.map((c) => `${c.table}:${c.key}`)).toEqual(["models:small", "models:big", "models:small"]);
  });

  it("sends messages to the other gateways only, and elects one leader, then another when it goes", async () => {
    const url = await pg().createDatabase();
    const stores = await Promise.all([open(url), open(url), open(url)]);
    const heard: Array<[string, ClusterMessage, string]> = [];
    for (const s of stores) s.backend.bus.on("message", (m, from) => heard.push([s.backend.bus.gatewayId, m, from]));
    stores[0]!.backend.bus.publish({ kind: "hold", node: "n1", model: "m" });
    await waitFor(() => heard.length === 2, { what: "the message at the two others" });
    expect(heard.map(([to]) => to).sort()).toEqual([stores[1]!.backend.bus.gatewayId, stores[2]!.backend.bus.gatewayId].sort());
    expect(heard.every(([, m, from]) => m.kind === "hold" && from === stores[0]!.backend.bus.gatewayId)).toBe(true);
    expect(await stores[1]!.backend.peersAlive()).toBe(true);

    const leaders = () => stores.filter((s) => s.backend.bus.isLeader);
    await waitFor(() => leaders().length === 1, { what: "one leader" });
    const first = leaders()[0]!;
    // A leader-only write from a gateway that is not the leader fails.
    const follower = stores.find((s) => s !== first)!;
    await expect(follower.backend.write([{ op: "put", table: "placements", key: "m", doc: { replicas: [], errors: [] } }], { leader: true })).rejects.toThrow(/not the leader/);
    await first.close();
    const since = Date.now();
    const next = await waitFor(() => (leaders().length === 1 && leaders()[0] !== first ? leaders()[0] : undefined), { what: "a new leader", timeoutMs: 10_000, intervalMs: 20 });
    expect(Date.now() - since).toBeLessThan(LEADER_CHECK_MS * 20);
    await next.backend.write([{ op: "put", table: "placements", key: "m", doc: { replicas: [], errors: [] } }], { leader: true });
  });

  it("keeps advisory locks to one database: each database of a server has its own leader", async () => {
    const [x, y] = await Promise.all([open(await pg().createDatabase()), open(await pg().createDatabase())]);
    await waitFor(() => x.backend.bus.isLeader && y.backend.bus.isLeader, { what: "a leader on each database" });
    expect(await x.backend.peersAlive()).toBe(false);
  });
});
