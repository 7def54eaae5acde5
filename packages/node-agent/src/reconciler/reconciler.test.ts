import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NodeModelStatus, type ModelRecord, type ModelState } from "@omnigate/shared/models";
import { capabilitiesOf, kindOf, type RuntimeType } from "@omnigate/shared/runtimes";
import { FolderModelCache, RecordingModelServer } from "../../test/helpers/model-doubles.js";
import { waitFor } from "@omnigate/testkit/wait";
import { createLogger } from "../logger.js";
import { HeldModelsStore } from "./held-models-store.js";
import { Reconciler } from "./reconciler.js";

function record(name: string, overrides: Partial<ModelRecord> = {}): ModelRecord {
  const runtime: RuntimeType = overrides.runtime ?? "llama_cpp";
  return {
    name,
    repo: "org/model-a",
    revision: "main",
    files: ["model.gguf"],
    runtime,
    kind: kindOf(runtime),
    capabilities: [...capabilitiesOf(runtime)],
    options: {},
    created_at: 1_700_000_000,
    replicas: 1,
    node_selector: {},
    placement_policy: "spread",
    ...overrides,
  };
}

let dir: string;
let cache: FolderModelCache;
let server: RecordingModelServer;
let reconciler: Reconciler;
/** Every state each model passed through, in order (consecutive repeats folded). */
let seen: Map<string, ModelState[]>;

function make(options: { store?: HeldModelsStore } = {}): Reconciler {
  const r = new Reconciler({
    cache,
    server,
    logger: createLogger("silent"),
    retryBaseMs: 20,
    retryMaxMs: 100,
    ...options,
  });
  r.on("change", () => {
    for (const s of r.statuses()) {
      const list = seen.get(s.name) ?? [];
      if (list.at(-1) !== s.state) list.push(s.state);
      seen.set(s.name, list);
    }
  });
  return r;
}

const stateOf = (name: string) => reconciler.statuses().find((s) => s.name === name)?.state;
const waitState = (name: string, state: ModelState | undefined) =>
  waitFor(() => stateOf(name) === state, { what: `${name} to be ${state ?? "forgotten"}` });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "og-reconciler-"));
  cache = new FolderModelCache(join(dir, "cache"));
  server = new RecordingModelServer();
  seen = new Map();
  reconciler = make();
});

afterEach(async () => {
  await reconciler.close();
  await rm(dir, { recursive: true, force: true });
});

describe("Reconciler", () => {
  it("drives a desired model through downloading and verifying to ready, and reports it loaded", async () => {
    const gate = cache.hold("org/model-a");
    reconciler.setDesired([record("llama")]);
    await waitState("llama", "downloading");
    const downloading = reconciler.statuses()[0]!;
    expect(downloading.progress).toMatchObject({ bytes: 50, total: 100, percent: 50 });
    expect(reconciler.loadedModels().llm).toEqual([]);
    gate.open();
    await waitState("llama", "ready");
    expect(seen.get("llama")).toEqual(["pending", "downloading", "verifying", "starting", "ready"]);
    expect(reconciler.loadedModels()).toEqual({ llm: ["llama"], asr: [], tts: [], image: [] });
    expect(reconciler.statuses()).toEqual([{ name: "llama", state: "ready", in_flight: 0, capacity: 4 }]);
    expect(cache.has(record("llama"), "model.gguf")).toBe(true);
  });

  it("buckets ready models by kind for loaded_models", async () => {
    reconciler.setDesired([
      record("whisper-small", { runtime: "whisper", repo: "org/whisper", files: ["ggml-small.bin"] }),
      record("voice", { runtime: "onnx_runtime", repo: "org/voice", files: ["v.onnx", "tokens.txt"] }),
    ]);
    await waitState("whisper-small", "ready");
    await waitState("voice", "ready");
    expect(reconciler.loadedModels()).toEqual({ llm: [], asr: ["whisper-small"], tts: ["voice"], image: [] });
  });

  it("reports a failed pull with its message and retries it with backoff", async () => {
    cache.failNext("org/model-a", "hub answered 500 for model.gguf", 2);
    reconciler.setDesired([record("llama")]);
    await waitState("llama", "ready");
    expect(seen.get("llama")).toEqual(["pending", "failed", "pending", "failed", "pending", "downloading", "verifying", "starting", "ready"]);
    expect(cache.pulls).toHaveLength(3);
  });

  it("keeps the failure message in the status while it waits to retry", async () => {
    const slow = new Reconciler({ cache, server, logger: createLogger("silent"), retryBaseMs: 60_000 });
    try {
      cache.failNext("org/model-a", "checksum mismatch for model.gguf");
      slow.setDesired([record("llama")]);
      await waitFor(() => slow.statuses()[0]?.state === "failed", { what: "failed" });
      expect(slow.statuses()[0]).toMatchObject({ state: "failed", error: "checksum mismatch for model.gguf" });
    } finally {
      await slow.close();
    }
  });

  it("keeps a long failure message short enough for the heartbeat", async () => {
    const slow = new Reconciler({ cache, server, logger: createLogger("silent"), retryBaseMs: 60_000 });
    try {
      cache.failNext("org/model-a", "x".repeat(10_000));
      slow.setDesired([record("llama")]);
      const failed = await waitFor(() => slow.statuses().find((s) => s.state === "failed"), { what: "failed" });
      expect(NodeModelStatus.safeParse(failed).success).toBe(true);
      expect(failed.error!.length).toBeLessThanOrEqual(1_000);
    } finally {
      await slow.close();
    }
  });

  it("restarts the engine after the supervisor gives up on it", async () => {
    server.failNextStart("llama", "crash loop: llama-server exited 3 times: out of memory");
    reconciler.setDesired([record("llama")]);
    await waitState("llama", "ready");
    expect(seen.get("llama")).toContain("failed");
    expect(server.started).toEqual(["llama", "llama"]);
    expect(server.stopped).toEqual(["llama"]);
    // The cached files were reused: one pull.
    expect(cache.pulls).toHaveLength(1);
  });

  it("deletes a model no longer desired and keeps files another model still wants", async () => {
    const shared = record("a", { files: ["model.gguf", "shared.txt"] });
    const other = record("b", { files: ["other.gguf", "shared.txt"] });
    reconciler.setDesired([shared, other]);
    await waitState("a", "ready");
    await waitState("b", "ready");
    reconciler.setDesired([other]);
    await waitState("a", undefined);
    expect(seen.get("a")?.at(-1)).toBe("deleting");
    expect(server.stopped).toEqual(["a"]);
    expect(cache.removals).toHaveLength(1);
    expect(cache.removals[0]!.stillWanted).toEqual([{ repo: other.repo, revision: other.revision, files: other.files }]);
    expect(cache.has(shared, "model.gguf")).toBe(false);
    expect(cache.has(shared, "shared.txt")).toBe(true);
    expect(server.isRunning("b")).toBe(true);
    expect(reconciler.loadedModels().llm).toEqual(["b"]);
  });

  it("aborts an in-flight pull when the model is deleted", async () => {
    cache.hold("org/model-a");
    reconciler.setDesired([record("llama")]);
    await waitState("llama", "downloading");
    const result = await reconciler.deleteModel("llama");
    expect(result).toEqual({ deleted: true });
    expect(cache.aborted).toBe(1);
    expect(stateOf("llama")).toBeUndefined();
    expect(server.started).toEqual([]);
    expect(cache.removals.map((r) => r.model.repo)).toEqual(["org/model-a"]);
  });

  it("keeps a model deleted through the API deleted against a heartbeat answer fetched before the delete", async () => {
    reconciler.setDesired([record("llama")]);
    await waitState("llama", "ready");
    const before = reconciler.snapshot();
    await reconciler.deleteModel("llama");
    expect(cache.has(record("llama"), "model.gguf")).toBe(false);
    // A heartbeat sent before the DELETE came back listing the model: ignored.
    reconciler.setDesired([record("llama")], before);
    expect(stateOf("llama")).toBeUndefined();
    // An answer fetched after the delete is the gateway's word: registered again → pulled again.
    reconciler.setDesired([record("llama")], reconciler.snapshot());
    await waitState("llama", "ready");
    expect(cache.pulls).toHaveLength(2);
  });

  it("answers deleted: false for a model it does not have", async () => {
    expect(await reconciler.deleteModel("nope")).toEqual({ deleted: false });
    expect(cache.removals).toEqual([]);
  });

  it("replaces a model changed in place: old files removed, new revision served", async () => {
    reconciler.setDesired([record("llama", { revision: "v1" })]);
    await waitState("llama", "ready");
    reconciler.setDesired([record("llama", { revision: "v2" })]);
    await waitFor(() => cache.pulls.some((p) => p.revision === "v2") && stateOf("llama") === "ready", { what: "v2 ready" });
    expect(seen.get("llama")).toEqual(["pending", "downloading", "verifying", "starting", "ready", "deleting", "pending", "downloading", "verifying", "starting", "ready"]);
    expect(cache.removals[0]!.model.revision).toBe("v1");
    expect(cache.removals[0]!.stillWanted.map((r) => r.revision)).toEqual(["v2"]);
    expect(cache.has(record("llama", { revision: "v1" }), "model.gguf")).toBe(false);
    expect(cache.has(record("llama", { revision: "v2" }), "model.gguf")).toBe(true);
    expect(server.started).toEqual(["llama", "llama"]);
  });

  it("removes, after a restart, a model the gateway deleted while the agent was down", async () => {
    const stateFile = join(dir, "state", "models.json");
    const first = make({ store: new HeldModelsStore(stateFile) });
    first.setDesired([record("gone"), record("kept", { repo: "org/kept" })]);
    await waitFor(() => first.loadedModels().llm.length === 2, { what: "both ready" });
    await first.close();
    const held = JSON.parse(await readFile(stateFile, "utf8")) as { models: ModelRecord[] };
    expect(held.models.map((m) => m.name).sort()).toEqual(["gone", "kept"]);

    reconciler = make({ store: new HeldModelsStore(stateFile) });
    await reconciler.restore();
    reconciler.setDesired([record("kept", { repo: "org/kept" })]);
    await waitFor(() => !cache.has(record("gone"), "model.gguf"), { what: "the deleted model's file to go" });
    await waitState("kept", "ready");
    expect(cache.has(record("kept", { repo: "org/kept" }), "model.gguf")).toBe(true);
    await waitFor(async () => {
      const now = JSON.parse(await readFile(stateFile, "utf8")) as { models: ModelRecord[] };
      return now.models.map((m) => m.name).join() === "kept";
    }, { what: "the held-models file to list only kept" });
  });

  it("stops retrying and pulling once closed", async () => {
    cache.failNext("org/model-a", "boom", 100);
    reconciler.setDesired([record("llama")]);
    await waitState("llama", "failed");
    await reconciler.close();
    const pulls = cache.pulls.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(cache.pulls.length).toBe(pulls);
  });
});
