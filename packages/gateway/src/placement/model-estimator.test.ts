import { afterEach, describe, expect, it } from "vitest";
import type { ModelRecord } from "@omnigate/shared/models";
import { RUNTIMES, type RuntimeType } from "@omnigate/shared/runtimes";
import { buildLlamaGguf, buildTinyLlamaGguf } from "@omnigate/testkit/gguf-writer";
import { startTestHub, type TestHub, type TestHubOptions } from "@omnigate/testkit/hub";
import { TestScope } from "@omnigate/testkit/scope";
import { waitFor } from "@omnigate/testkit/wait";
import { silent } from "../../test/helpers/store-harness.js";
import { SqliteBackend } from "../store/sqlite/sqlite-backend.js";
import { storeOver } from "../store/store.js";
import { HubReader } from "./hub-reader.js";
import { ModelEstimator } from "./model-estimator.js";

// The memory estimate against the test hub over real HTTP: what it reads (headers over Range, never
// a whole file), what it stores, and what it says while it cannot read.

const scope = new TestScope();
afterEach(() => scope.cleanup());

const WIDE = { embd: 256, ff: 768, layers: 4, heads: 8, headsKv: 2, vocab: 2000, contextLength: 2048 };

function record(name: string, repo: string, runtime: RuntimeType, files: string[] = []): ModelRecord {
  return {
    name,
    repo,
    revision: "main",
    files,
    runtime,
    kind: RUNTIMES[runtime].kind,
    capabilities: [...RUNTIMES[runtime].capabilities],
    options: {},
    created_at: 1_700_000_000,
    replicas: 1,
    node_selector: {},
    placement_policy: "spread",
  };
}

/** Each estimator is a gateway of its own over the same SQLite data dir (a restart). */
async function setup(hubOptions: TestHubOptions, hubToken?: string): Promise<{ hub: TestHub; estimator: () => Promise<ModelEstimator> }> {
  const hub = await startTestHub(hubOptions);
  scope.defer(() => hub.close());
  const dir = await scope.tempDir("og-estimate-");
  const estimator = async () => {
    const store = storeOver(new SqliteBackend(dir), silent);
    scope.defer(() => store.close());
    const e = new ModelEstimator(new HubReader(hub.url, hubToken, 5_000), store.state, silent);
    scope.defer(() => e.close());
    await store.load();
    return e;
  };
  return { hub, estimator };
}

describe("ModelEstimator", () => {
  it("reads a GGUF's header over Range (a fraction of the file), stores it, and reads it once", async () => {
    const gguf = buildLlamaGguf(WIDE, { weightType: "f16" });
    const { hub, estimator } = await setup({ repos: { "org/wide": { revisions: { main: { files: { "wide-f16.gguf": gguf, "README.md": "# wide\n" } } } } } });
    const first = await estimator();
    first.ensure(record("wide", "org/wide", "llama_cpp", ["*.gguf"]));
    expect(first.pendingReason("wide")).toContain("memory estimate pending");
    const estimate = await waitFor(() => first.get("wide"), { what: "the estimate" });
    expect(first.pendingReason("wide")).toBeUndefined();
    expect(estimate).toMatchObject({
      commit: hub.commit("org/wide", "main"),
      files: [{ path: "wide-f16.gguf", size: gguf.length }],
      profile: { kind: "llama", n_layer: 4, n_embd: 256, n_ff: 768, n_head: 8, n_head_kv: 2, head_dim_k: 32, head_dim_v: 32, n_ctx_train: 2048 },
    });
    const reads = hub.log.filter((e) => e.stage === "bytes");
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((e) => e.range !== null)).toBe(true);
    const sent = reads.reduce((sum, e) => sum + e.bytesSent, 0);
    expect(gguf.length).toBeGreaterThan(4 * 1024 * 1024);
    expect(sent).toBeLessThan(gguf.length / 4);

    // Another gateway process over the same store: the estimate is there, the hub is not asked.
    hub.clearLog();
    const again = await estimator();
    again.ensure(record("wide", "org/wide", "llama_cpp", ["*.gguf"]));
    expect(again.get("wide")).toEqual(estimate);
    expect(hub.log).toEqual([]);

    // Deleted: forgotten, also in the store.
    again.forget("wide");
    await waitFor(() => again.get("wide") === undefined, { what: "the estimate forgotten" });
    expect((await estimator()).get("wide")).toBeUndefined();
  });

  it("estimates the files the agent will pull: the default quantization, or the whole repo times the factor", async () => {
    const q4 = buildTinyLlamaGguf({ seed: 2 });
    const { estimator } = await setup({
      repos: {
        "org/quants": { revisions: { main: { files: { "m-Q8_0.gguf": buildTinyLlamaGguf({ seed: 1 }), "m-Q4_K_M.gguf": q4, "notes.md": "x" } } } },
        "org/asr": { revisions: { main: { files: { "ggml-base.bin": Buffer.alloc(40_000, 1), "README.md": "# asr\n" } } } },
      },
    });
    const e = await estimator();
    e.ensure(record("quants", "org/quants", "llama_cpp"));
    e.ensure(record("asr", "org/asr", "whisper"));
    const quants = await waitFor(() => e.get("quants"), { what: "the llama estimate" });
    expect(quants.files).toEqual([{ path: "m-Q4_K_M.gguf", size: q4.length }]);
    const asr = await waitFor(() => e.get("asr"), { what: "the whisper estimate" });
    expect(asr.files.map((f) => f.path).sort()).toEqual(["README.md", "ggml-base.bin"]);
    expect(asr.profile).toEqual({ kind: "files", bytes: 40_000 + "# asr\n".length });
  });

  it("stays pending while the hub fails, saying why, and estimates once it answers", async () => {
    const { hub, estimator } = await setup({ repos: { "org/tiny": { revisions: { main: { files: { "tiny.gguf": buildTinyLlamaGguf() } } } } } });
    hub.addRule({ repo: "org/tiny", stage: "revision", status: 503, times: 1 });
    const e = await estimator();
    const changes: string[] = [];
    e.on("change", (model) => changes.push(model));
    e.ensure(record("tiny", "org/tiny", "llama_cpp", ["tiny.gguf"]));
    const reason = await waitFor(() => (e.pendingReason("tiny")?.includes("503") ? e.pendingReason("tiny") : undefined), { what: "the pending reason" });
    expect(reason).toMatch(/^memory estimate pending: the hub answered 503 for org\/tiny@main; retrying in 2 s \(or give resources\.memory_mib\)$/);
    expect(e.get("tiny")).toBeUndefined();
    await waitFor(() => e.get("tiny"), { what: "the estimate after the retry", timeoutMs: 15_000 });
    expect(e.pendingReason("tiny")).toBeUndefined();
    // Told when it went pending with a reason, and when the estimate arrived.
    expect(changes).toEqual(["tiny", "tiny"]);
  });

  it("says what the operator must fix when the hub refuses: no such repo, no matching file, nothing to serve", async () => {
    const { estimator } = await setup({ repos: { "org/weights": { revisions: { main: { files: { "model.safetensors": Buffer.alloc(20_000), "config.json": "{}" } } } } } });
    const e = await estimator();
    e.ensure(record("missing", "org/missing", "llama_cpp", ["m.gguf"]));
    e.ensure(record("unmatched", "org/weights", "llama_cpp", ["*.gguf"]));
    e.ensure(record("no-gguf", "org/weights", "llama_cpp"));
    const reasonOf = (name: string) => waitFor(() => (e.pendingReason(name)?.startsWith("cannot be placed") ? e.pendingReason(name) : undefined), { what: `${name}'s reason` });
    expect(await reasonOf("missing")).toMatch(
      /^cannot be placed: repository 'org\/missing' not found on http:\/\/127\.0\.0\.1:\d+, or it is private: check the name, or set HF_TOKEN on the gateway \(checked again in 2 s\)$/,
    );
    expect(await reasonOf("unmatched")).toContain("no file of org/weights@main matches *.gguf");
    expect(await reasonOf("no-gguf")).toContain(
      "'org/weights' at revision 'main' cannot be served without 'files': it has no .gguf model file for llama-server (it has config.json, model.safetensors)",
    );
  });

  it("sends HF_TOKEN to the hub only, never to the CDN it redirects file reads to, and follows a renamed repo", async () => {
    const token = "hf_test_token_for_the_gateway";
    const { hub, estimator } = await setup(
      { token, aliases: { "old/tiny": "org/tiny" }, repos: { "org/tiny": { private: true, revisions: { main: { files: { "tiny.gguf": buildTinyLlamaGguf() } } } } } },
      token,
    );
    const e = await estimator();
    e.ensure(record("tiny", "old/tiny", "llama_cpp", ["tiny.gguf"]));
    await waitFor(() => e.get("tiny"), { what: "the estimate of a private repo" });
    const hubCalls = hub.log.filter((l) => l.server === "hub");
    const cdnCalls = hub.log.filter((l) => l.server === "cdn");
    expect(cdnCalls.length).toBeGreaterThan(0);
    expect(hubCalls.every((l) => l.auth)).toBe(true);
    expect(cdnCalls.every((l) => !l.auth)).toBe(true);
  });
});
