/**
 * Placement moving replicas across real processes (three agents, stand-in engines, the test hub):
 * a killed node's replica is replaced after the grace and traffic goes on; the node coming back
 * causes no flapping; a drain under continuous traffic fails no request and moves the replica
 * make-before-break; scaling adds and removes replicas.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildTinyLlamaGguf } from "@omnigate/testkit/gguf-writer";
import { startTestHub, type TestHub } from "@omnigate/testkit/hub";
import { chat, estimateOf, holding, nodeAction, patchModel, placedOn, startFleet, type Fleet } from "./helpers/fleet.js";
import { TestScope } from "@omnigate/testkit/scope";
import { REPO_ROOT, restartAgent } from "@omnigate/testkit/cluster";
import { waitFor } from "@omnigate/testkit/wait";

const REPO = "test-org/tiny-llama";
const GGUF = buildTinyLlamaGguf();
let NEED = 0;

const scope = new TestScope();
let hub: TestHub;

beforeAll(async () => {
  NEED = await estimateOf(GGUF);
});

beforeEach(async () => {
  hub = await startTestHub({ repos: { [REPO]: { revisions: { main: { files: { "tiny-q8_0.gguf": GGUF } } } } } });
});

afterEach(async () => {
  await scope.cleanup();
  await hub.close();
});

const three = () => [
  { name: "gpu-a", gpuMib: NEED * 4 },
  { name: "gpu-b", gpuMib: NEED * 4 },
  { name: "gpu-c", gpuMib: NEED * 4 },
];

async function readyOn(fleet: Fleet, model: string, count: number): Promise<string[]> {
  return waitFor(async () => {
    const e = await fleet.api.model(model);
    const ready = placedOn(fleet, e, "ready");
    return e?.replicas.ready === count && e.replicas.placed === count && ready.length === count ? ready : undefined;
  }, { what: `${model} ready on ${count} nodes`, timeoutMs: 30_000 });
}

describe("placement moves", () => {
  it("replaces a killed node's replica after the grace, keeps serving, and does not flap when the node returns", async () => {
    const fleet = await startFleet(scope, hub, three(), { OMNIGATE_REPLACE_AFTER_MS: "3000" });
    await fleet.api.registerModel({ name: "m", repo: REPO, files: ["*.gguf"] });
    const [first] = await readyOn(fleet, "m", 1);
    const victim = fleet.agents.get(first!)!;
    await victim.kill();
    // Within the grace nothing moves; after it the replica is placed elsewhere and serves.
    const moved = await waitFor(async () => {
      const ready = placedOn(fleet, await fleet.api.model("m"), "ready");
      return ready.length === 1 && ready[0] !== first ? ready[0] : undefined;
    }, { what: "the replica replaced on another node", timeoutMs: 30_000 });
    for (let i = 0; i < 5; i++) expect((await chat(fleet, "m")).status).toBe(200);

    // The node returns (same state dir: same runtime_id, its cache still holds the files).
    const back = await restartAgent(scope, victim);
    fleet.agents.set(first!, back);
    await waitFor(async () => (await fleet.api.nodes()).find((n) => n.runtime_id === back.runtimeId)?.online, { what: "the node back online" });
    // For several seconds (many heartbeats) the placement stays where it moved: no flapping.
    const seen = new Set<string>();
    for (let i = 0; i < 15; i++) {
      seen.add(placedOn(fleet, await fleet.api.model("m")).join(","));
      expect((await chat(fleet, "m")).status).toBe(200);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect([...seen]).toEqual([moved]);
    // The returned node dropped its copy (its desired set no longer has the model).
    await waitFor(async () => !(await holding(fleet, REPO)).includes(first!), { what: "the old copy removed" });
  });

  it("drains a node under continuous traffic with no failed request, make-before-break", async () => {
    const fleet = await startFleet(scope, hub, three());
    await fleet.api.registerModel({ name: "m", repo: REPO, files: ["*.gguf"] });
    const [from] = await readyOn(fleet, "m", 1);
    // The replacement's download is slow: the drained copy must keep serving meanwhile.
    hub.addRule({ repo: REPO, stage: "bytes", bytesPerSec: 200_000 });

    let stop = false;
    const statuses: number[] = [];
    const traffic = (async () => {
      while (!stop) statuses.push((await chat(fleet, "m")).status);
    })();
    const snapshots: Array<{ placed: string[]; ready: string[] }> = [];
    const watch = (async () => {
      while (!stop) {
        const e = await fleet.api.model("m");
        snapshots.push({ placed: placedOn(fleet, e), ready: placedOn(fleet, e, "ready") });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const drained = await nodeAction(fleet, from!, "drain");
    expect(drained.status).toBe(200);
    expect(drained.body).toMatchObject({ cordoned: true, draining: true });
    const to = await waitFor(async () => {
      const e = await fleet.api.model("m");
      const placed = placedOn(fleet, e);
      return placed.length === 1 && placed[0] !== from && e?.ready ? placed[0] : undefined;
    }, { what: "the replica moved off the drained node", timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all([traffic, watch]);

    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // Make-before-break: the model was ready somewhere at every moment, and the drained copy was
    // placed until the replacement was ready.
    for (const s of snapshots) expect(s.ready.length).toBeGreaterThan(0);
    const firstWithout = snapshots.findIndex((s) => !s.placed.includes(from!));
    expect(firstWithout).toBeGreaterThan(0);
    expect(snapshots[firstWithout]!.ready).toContain(to);
    expect(snapshots.some((s) => s.placed.includes(from!) && s.placed.includes(to!) && !s.ready.includes(to!))).toBe(true);

    const node = (await fleet.api.nodes()).find((n) => n.runtime_id === fleet.agents.get(from!)!.runtimeId)!;
    expect(node).toMatchObject({ cordoned: true, draining: true, placed_models: [], committed_mib: 0 });
    await waitFor(async () => !(await holding(fleet, REPO)).includes(from!), { what: "the drained node's copy removed" });
    // Uncordoned, it takes placements again.
    expect((await nodeAction(fleet, from!, "uncordon")).body).toMatchObject({ cordoned: false, draining: false });
  });

  it("scales 1 → 3 → 1 (the CLI's models add and models scale, then PATCH)", async () => {
    const fleet = await startFleet(scope, hub, three());
    // The CLI as an operator runs it (async: the test hub lives in this process).
    const omnigate = (...args: string[]) =>
      promisify(execFile)(process.execPath, [join(REPO_ROOT, "packages/gateway/dist/cli/main.js"), ...args], {
        env: { ...process.env, OMNIGATE_URL: fleet.gateway.url, OMNIGATE_ADMIN_KEY: fleet.gateway.adminKey },
      });
    const added = await omnigate("models", "add", REPO, "--name", "m", "--file", "*.gguf", "--replicas", "1", "--memory-mib", String(NEED));
    expect(added.stdout).toContain("replicas 1");
    const [one] = await readyOn(fleet, "m", 1);
    expect((await omnigate("models", "scale", "m", "3")).stdout).toContain("m: 3 replicas");
    expect(await readyOn(fleet, "m", 3)).toEqual(["gpu-a", "gpu-b", "gpu-c"]);
    expect(await holding(fleet, REPO)).toEqual(["gpu-a", "gpu-b", "gpu-c"]);
    expect((await patchModel(fleet, "m", { replicas: 1 })).status).toBe(200);
    const kept = await readyOn(fleet, "m", 1);
    expect(kept).toHaveLength(1);
    await waitFor(async () => (await holding(fleet, REPO)).length === 1, { what: "the removed replicas' files gone" });
    expect(await holding(fleet, REPO)).toEqual(kept);
    expect((await chat(fleet, "m")).status).toBe(200);
    expect(one).toBeDefined();
  });
});
