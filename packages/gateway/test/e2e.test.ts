// The issue-5 end-to-end test, every part a separate process: the built gateway, two built agents
// whose engines are the stand-ins (test fixtures), and the local test hub. One model per runtime,
// every endpoint through the official `openai` client; then an engine and an agent are killed under
// traffic.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestHub } from "@omnigate/testkit/hub";
import { TestScope } from "@omnigate/testkit/scope";
import { waitFor } from "@omnigate/testkit/wait";
import { encodePng } from "@omnigate/testkit/png";
import { startHub, startStack, toneWav, type Stack } from "@omnigate/testkit/e2e-stack";

const scope = new TestScope();
let hub: TestHub;
let stack: Stack;
let client: OpenAI;
let pidDir: string;

beforeAll(async () => {
  hub = await startHub(scope, ["llm", "asr", "tts", "img"]);
  pidDir = await scope.tempDir("og-e2e-pids-");
  stack = await startStack(scope, hub, {
    agents: 2,
    models: ["llm", "asr", "tts", "img"],
    agentEnv: (i) => ({
      // Engine pids, to clean up engines a killed agent leaves behind.
      STANDIN_PID_FILE: join(pidDir, `agent${i}.pids`),
      OMNIGATE_ENGINE_ENV_PASS: "STANDIN_*",
      // Answers that take a while keep requests in flight when something is killed.
      STANDIN_RESPONSE_DELAY_MS: "20",
      STANDIN_CHUNK_INTERVAL_MS: "20",
      OMNIGATE_ENGINE_RESTART_BACKOFF_MS: "200",
    }),
  });
  client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: stack.key, maxRetries: 0, timeout: 20_000 });
}, 120_000);

afterAll(async () => {
  // Engines of a SIGKILLed agent outlive it: read the pids they wrote before the dirs go.
  const pids: number[] = [];
  for (const i of [0, 1]) {
    const text = await readFile(join(pidDir ?? "/nonexistent", `agent${i}.pids`), "utf8").catch(() => "");
    pids.push(...text.split("\n").filter(Boolean).map(Number));
  }
  const homes = stack?.agents.map((a) => a.hfHome) ?? [];
  await scope.cleanup();
  for (const pid of pids) {
    // Only a process that still is one of this test's engines (its model lives in our agents' cache).
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (!homes.some((h) => cmdline.includes(h))) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

async function failovers(): Promise<number> {
  const res = await fetch(`${stack.gateway.url}/metrics`, { headers: { authorization: `Bearer ${stack.key}` } });
  let n = 0;
  for (const m of (await res.text()).matchAll(/^omnigate_failovers_total\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

async function nodeRequests(): Promise<Map<string, number>> {
  const res = await fetch(`${stack.gateway.url}/metrics`, { headers: { authorization: `Bearer ${stack.key}` } });
  const out = new Map<string, number>();
  for (const m of (await res.text()).matchAll(/^omnigate_node_requests_total\{node="([^"]+)"\} (\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

describe("every endpoint through the openai client", () => {
  it("chat and text completions, streaming and not", async () => {
    const chat = await client.chat.completions.create({ model: "llm", messages: [{ role: "user", content: "hello" }] });
    expect(chat.choices[0]!.message.content).toMatch(/\w+/);
    const stream = await client.chat.completions.create({ model: "llm", messages: [{ role: "user", content: "hello" }], stream: true });
    let text = "";
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? "";
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text.trim()).toBe(chat.choices[0]!.message.content!.trim());

    const completion = await client.completions.create({ model: "llm", prompt: "once upon" });
    expect(completion.choices[0]!.text).toMatch(/\w+/);
    let streamed = "";
    for await (const chunk of await client.completions.create({ model: "llm", prompt: "once upon", stream: true })) {
      streamed += chunk.choices[0]?.text ?? "";
    }
    expect(streamed).toBe(completion.choices[0]!.text);
  });

  it("embeddings", async () => {
    const res = await client.embeddings.create({ model: "llm", input: ["a", "b"] });
    expect(res.data).toHaveLength(2);
    expect(res.data[0]!.embedding.length).toBeGreaterThan(0);
  });

  it("speech, transcription and translation (multipart upload)", async () => {
    const speech = await client.audio.speech.create({ model: "tts", voice: "alloy", input: "hello there", response_format: "wav" });
    const wav = Buffer.from(await speech.arrayBuffer());
    expect(wav.subarray(0, 4).toString()).toBe("RIFF");
    const transcription = await client.audio.transcriptions.create({ model: "asr", file: await toFile(toneWav(1), "tone.wav", { type: "audio/wav" }) });
    expect(typeof transcription.text).toBe("string");
    const translation = await client.audio.translations.create({ model: "asr", file: await toFile(wav, "speech.wav", { type: "audio/wav" }) });
    expect(typeof translation.text).toBe("string");
  });

  it("image generation, edit and variation (multipart upload, as the SDK sends one image and several)", async () => {
    const generated = await client.images.generate({ model: "img", prompt: "a red square", size: "256x256", response_format: "b64_json" });
    const png = Buffer.from(generated.data![0]!.b64_json!, "base64");
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    const image = await toFile(Buffer.from(encodePng(64, 64)), "in.png", { type: "image/png" });
    const edited = await client.images.edit({ model: "img", image, prompt: "make it blue", size: "256x256", response_format: "b64_json" });
    expect(Buffer.from(edited.data![0]!.b64_json!, "base64").subarray(1, 4).toString()).toBe("PNG");
    // Several images go out as `image[]` parts: the gateway and the agent read the same table.
    const second = await toFile(Buffer.from(encodePng(64, 64)), "in2.png", { type: "image/png" });
    const editedTwo = await client.images.edit({ model: "img", image: [image, second], prompt: "make both blue", size: "256x256", response_format: "b64_json" });
    expect(Buffer.from(editedTwo.data![0]!.b64_json!, "base64").subarray(1, 4).toString()).toBe("PNG");
    const varied = await client.images.createVariation({ model: "img", image: await toFile(png, "v.png", { type: "image/png" }), response_format: "b64_json" });
    expect(varied.data!.length).toBeGreaterThan(0);
  });

  it("shows the gateway's OpenAI-shaped errors through the client", async () => {
    const err = await client.audio.speech.create({ model: "llm", voice: "alloy", input: "x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_capability_unsupported");
  });

  it("spreads traffic over both nodes", async () => {
    await Promise.all(Array.from({ length: 16 }, () => client.chat.completions.create({ model: "llm", messages: [{ role: "user", content: "x" }] })));
    const counts = await nodeRequests();
    for (const agent of stack.agents) expect(counts.get(agent.runtimeId) ?? 0).toBeGreaterThan(2);
  });
});

/** Sends non-streaming chats from `workers` loops until `stop()`; collects every error. */
function traffic(workers: number) {
  let running = true;
  const errors: unknown[] = [];
  let ok = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      try {
        await client.chat.completions.create({ model: "llm", messages: [{ role: "user", content: "keep going" }] });
        ok++;
      } catch (err) {
        errors.push(err);
      }
    }
  });
  return {
    errors,
    ok: () => ok,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe("faults under traffic", () => {
  it("moves traffic off a node whose engine was killed, and back once the engine restarted", async () => {
    const [victim, survivor] = stack.agents;
    const node = await stack.api.node(victim!.runtimeId);
    const pid = node!.engines.find((e) => e.model === "llm")!.pid!;
    const load = traffic(6);
    await new Promise((r) => setTimeout(r, 300));
    process.kill(pid, "SIGKILL");
    // The agent reports the model not ready, then ready again on a new engine process.
    await waitFor(async () => (await stack.api.model("llm"))?.nodes.find((n) => n.runtime_id === victim!.runtimeId && !n.ready), {
      what: "llm not ready on the victim",
      timeoutMs: 10_000,
    });
    const atDown = await nodeRequests();
    const whileDown = atDown.get(victim!.runtimeId) ?? 0;
    // While the victim's engine is down, the other node carries the traffic.
    await waitFor(async () => ((await nodeRequests()).get(survivor!.runtimeId) ?? 0) > (atDown.get(survivor!.runtimeId) ?? 0) + 3, {
      what: "traffic on the survivor while the victim's engine is down",
      timeoutMs: 10_000,
    });
    const restarted = await waitFor(
      async () => {
        const n = await stack.api.node(victim!.runtimeId);
        const engine = n?.engines.find((e) => e.model === "llm");
        const ready = n?.models.find((m) => m.name === "llm")?.state === "ready";
        return engine && engine.pid !== pid && engine.up && ready ? engine : undefined;
      },
      { what: "engine restarted", timeoutMs: 15_000 },
    );
    expect(restarted.restarts).toBeGreaterThanOrEqual(1);
    await waitFor(async () => ((await nodeRequests()).get(victim!.runtimeId) ?? 0) > whileDown + 3, { what: "traffic back on the victim", timeoutMs: 10_000 });
    await load.stop();
    expect(load.errors).toEqual([]);
    expect(load.ok()).toBeGreaterThan(20);
  });

  it("kills an agent under traffic: no client sees an error for a request that had not started streaming", async () => {
    const [victim, survivor] = stack.agents;
    const load = traffic(6);
    // Streams: an error is allowed only once a chunk went out (then it is an SSE error event).
    let streamsOk = 0;
    const streamErrorsBeforeFirstChunk: unknown[] = [];
    let streaming = true;
    const streams = Array.from({ length: 2 }, async () => {
      while (streaming) {
        let chunks = 0;
        try {
          const s = await client.chat.completions.create({ model: "llm", messages: [{ role: "user", content: "s" }], stream: true });
          for await (const _ of s) chunks++;
          streamsOk++;
        } catch (err) {
          if (chunks === 0) streamErrorsBeforeFirstChunk.push(err);
        }
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    const before = await nodeRequests();
    const failoversBefore = await failovers();
    await victim!.kill();
    // Past the node timeout: the gateway has marked the victim offline and traffic runs on.
    await new Promise((r) => setTimeout(r, 3_000));
    const after = await nodeRequests();
    streaming = false;
    await load.stop();
    await Promise.all(streams);
    expect(load.errors).toEqual([]);
    expect(streamErrorsBeforeFirstChunk).toEqual([]);
    expect(streamsOk).toBeGreaterThan(0);
    expect((after.get(survivor!.runtimeId) ?? 0) - (before.get(survivor!.runtimeId) ?? 0)).toBeGreaterThan(20);
    const victimView = await stack.api.node(victim!.runtimeId);
    expect(victimView?.online).toBe(false);
    // Requests were in flight on (or sent to) the victim and went to the survivor instead.
    expect((await failovers()) - failoversBefore).toBeGreaterThan(0);
  });
});
