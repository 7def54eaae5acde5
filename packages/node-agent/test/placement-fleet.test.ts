/**
 * Placement across real processes: the built gateway, three agents with the stand-in llama-server
 * and stand-in nvidia-smi (each reporting the GPU memory the test chooses), labels, and the test
 * hub. Replicas go to exactly as many nodes as asked, selectors and memory are honoured, a model
 * too big anywhere downloads nowhere, the copies of a node sharing the files are preferred.
 */
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildTinyLlamaGguf } from "@omnigate/testkit/gguf-writer";
import { startTestHub, type TestHub } from "@omnigate/testkit/hub";
import { chat, estimateOf, holding, patchModel, placedOn, startFleet } from "./helpers/fleet.js";
import { TestScope } from "@omnigate/testkit/scope";
import { REPO_ROOT } from "@omnigate/testkit/cluster";
import { waitFor } from "@omnigate/testkit/wait";

const REPO = "test-org/tiny-llama";
const OTHER = "test-org/tiny-llama-2";
const GGUF = buildTinyLlamaGguf();
let NEED = 0;

const scope = new TestScope();
let hub: TestHub;

beforeAll(async () => {
  NEED = await estimateOf(GGUF);
});

beforeEach(async () => {
  hub = await startTestHub({
    repos: {
      [REPO]: { revisions: { main: { files: { "tiny-q8_0.gguf": GGUF, "README.md": "# tiny\n" } } } },
      [OTHER]: { revisions: { main: { files: { "tiny-q8_0.gguf": buildTinyLlamaGguf({ seed: 7 }) } } } },
    },
  });
});

afterEach(async () => {
  await scope.cleanup();
  await hub.close();
});

describe("placement on a fleet of three agents", () => {
  it("places exactly the replicas asked for, honours the selector, and 'all' serves everywhere", async () => {
    const fleet = await startFleet(scope, hub, [
      { name: "gpu-a", gpuMib: NEED * 4, labels: "zone=eu" },
      { name: "gpu-b", gpuMib: NEED * 4, labels: "zone=eu" },
      { name: "gpu-c", gpuMib: NEED * 4, labels: "zone=us" },
    ]);
    expect((await fleet.api.registerModel({ name: "two", repo: REPO, files: ["*.gguf"], replicas: 2 })).status).toBe(201);
    const two = await waitFor(async () => {
      const e = await fleet.api.model("two");
      return e?.replicas.ready === 2 ? e : undefined;
    }, { what: "two replicas ready", timeoutMs: 30_000 });
    expect(two.replicas).toEqual({ desired: 2, placed: 2, ready: 2 });
    expect(two.memory_mib).toBe(NEED);
    expect(two.placement_errors).toEqual([]);
    // Exactly the two placed nodes downloaded the files; the third has nothing.
    expect(await holding(fleet, REPO)).toEqual(placedOn(fleet, two));
    for (let i = 0; i < 4; i++) expect((await chat(fleet, "two")).status).toBe(200);

    expect((await fleet.api.registerModel({ name: "us-only", repo: OTHER, files: ["*.gguf"], node_selector: { zone: "us" } })).status).toBe(201);
    const us = await waitFor(async () => {
      const e = await fleet.api.model("us-only");
      return e?.ready ? e : undefined;
    }, { what: "us-only ready", timeoutMs: 30_000 });
    expect(placedOn(fleet, us)).toEqual(["gpu-c"]);
    expect(await holding(fleet, OTHER)).toEqual(["gpu-c"]);

    // Two nodes match no selector at all: the reason counts them.
    await fleet.api.registerModel({ name: "nowhere", repo: OTHER, files: ["*.gguf"], replicas: 2, node_selector: { zone: "us" } });
    const nowhere = await waitFor(async () => {
      const e = await fleet.api.model("nowhere");
      return e?.replicas.placed === 1 && e.placement_errors.length > 0 ? e : undefined;
    }, { what: "nowhere partly placed" });
    expect(nowhere.placement_errors[0]).toContain("2 nodes lack label zone=us");

    await fleet.api.registerModel({ name: "everywhere", repo: REPO, files: ["*.gguf"], replicas: "all" });
    const all = await waitFor(async () => {
      const e = await fleet.api.model("everywhere");
      return e?.replicas.ready === 3 ? e : undefined;
    }, { what: "everywhere ready on all three", timeoutMs: 30_000 });
    expect(placedOn(fleet, all, "ready")).toEqual(["gpu-a", "gpu-b", "gpu-c"]);
    // The ledger: each node's committed memory is what is placed on it.
    for (const node of await fleet.api.nodes()) {
      expect(node.capacity_mib).toBe(NEED * 4);
      expect(node.committed_mib).toBeLessThanOrEqual(node.capacity_mib!);
      expect(node.committed_mib).toBe(node.placed_models.length * NEED);
    }
  });

  it("leaves a model too big for every node unplaced, says why, downloads nothing, and answers 503 model_unplaced", async () => {
    const fleet = await startFleet(scope, hub, [
      { name: "small-1", gpuMib: NEED - 1 },
      { name: "small-2", gpuMib: NEED - 2 },
      { name: "small-3", gpuMib: NEED - 3 },
    ]);
    expect((await fleet.api.registerModel({ name: "big", repo: REPO, files: ["*.gguf"] })).status).toBe(201);
    const big = await waitFor(async () => {
      const e = await fleet.api.model("big");
      return e?.placement_errors[0]?.includes("needs") ? e : undefined;
    }, { what: "a placement error" });
    expect(big.replicas).toEqual({ desired: 1, placed: 0, ready: 0 });
    expect(big.nodes).toEqual([]);
    expect(big.placement_errors[0]).toContain(`needs ${NEED} MiB`);
    for (const [name, mib] of [["small-1", NEED - 1], ["small-2", NEED - 2], ["small-3", NEED - 3]] as const) {
      expect(big.placement_errors[0]).toContain(`${name} has ${mib} MiB free`);
    }
    const res = await chat(fleet, "big");
    expect(res.status).toBe(503);
    expect(res.body.error?.code).toBe("model_unplaced");
    expect(res.headers.get("retry-after")).toBe("5");
    expect(res.body.error?.message).toContain(`needs ${NEED} MiB`);
    // Several heartbeats later nothing was downloaded anywhere: the gateway read only the header.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await holding(fleet, REPO)).toEqual([]);
    const agentDownloads = hub.log.filter((l) => l.stage === "bytes" && l.range === null);
    expect(agentDownloads).toEqual([]);
    for (const node of await fleet.api.nodes()) expect(node.models).toEqual([]);

    // An explicit memory figure overrides the estimate: now it fits.
    expect((await patchModel(fleet, "big", { resources: { memory_mib: NEED - 3 } })).status).toBe(200);
    await waitFor(async () => (await fleet.api.model("big"))?.ready, { what: "big ready once it fits", timeoutMs: 30_000 });
  });

  it("prefers the node that already holds the model's files", async () => {
    // gpu-c's cache already holds the files, pulled with the agent's own CLI before it starts.
    const prepared = await scope.tempDir("og-hf-prepared-");
    // Async: the test hub lives in this process and must keep answering.
    await promisify(execFile)(process.execPath, [join(REPO_ROOT, "packages/node-agent/dist/cli/cache-main.js"), "pull", REPO, "--file", "tiny-q8_0.gguf", "--cache-dir", join(prepared, "hub")], {
      env: { ...process.env, HF_ENDPOINT: hub.url },
    });
    const fleet = await startFleet(scope, hub, [
      { name: "gpu-a", gpuMib: NEED * 4 },
      { name: "gpu-b", gpuMib: NEED * 4 },
      { name: "gpu-c", gpuMib: NEED * 4, labels: "role=busy", hfHome: prepared },
    ]);
    // gpu-c is the most committed node: spread alone would pick gpu-a or gpu-b.
    await fleet.api.registerModel({ name: "busy", repo: OTHER, files: ["*.gguf"], node_selector: { role: "busy" } });
    await waitFor(async () => (await fleet.api.model("busy"))?.replicas.placed === 1, { what: "busy placed" });
    hub.clearLog();
    await fleet.api.registerModel({ name: "local", repo: REPO, files: ["*.gguf"] });
    const local = await waitFor(async () => {
      const e = await fleet.api.model("local");
      return e?.ready ? e : undefined;
    }, { what: "local ready", timeoutMs: 30_000 });
    expect(placedOn(fleet, local)).toEqual(["gpu-c"]);
    // No second download of the model's file.
    expect(hub.log.filter((l) => l.repo === REPO && l.stage === "bytes" && l.range === null)).toEqual([]);
  });
});
