#!/usr/bin/env node
// `pnpm bench:tts`: the same sentence through the agent's two ways of running a voice, side by side
// in one run, each request through the agent's own plan (a lease on the model, as the OpenAI route
// takes it):
//   - the built-in engine: one process per voice (dist/tts-engine/main.js over sherpa-onnx-node),
//     the voice loaded once, each request an HTTP call to it;
//   - a process per request: sherpa-onnx-offline-tts (BENCH_TTS_BIN, else on PATH), else
//     bench/tts-oneshot.mjs, a work-alike over sherpa-onnx-node (node start, addon and voice load,
//     synthesis, WAV file, exit) — what the agent runs when OMNIGATE_TTS_BIN names a binary.
// Floors, same run: an HTTP round trip to the engine (GET /health), the engine alone (POST
// /synthesize to its port, no agent), a bare `node -e ""` and `node` loading sherpa-onnx-node.
// Prints both latencies, the ratio, the floors, the load average and the commands; writes the
// "## Text-to-speech (issue 11)" section of BENCHMARKS.md (BENCH_WRITE=0: print only).
//
//   flock /tmp/omnigate-bench.lock npx -y pnpm@10 bench:tts
//   BENCH_ROUNDS=30 BENCH_TTS_VOICE_DIR=/path/to/vits-piper-voice BENCH_TTS_TEXT="…" node packages/node-agent/bench/tts-bench.mjs
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { writeBenchSection } from "../../testkit/bench/bench-section.mjs";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const root = resolve(pkg, "..", "..");
const dist = join(pkg, "dist");
if (!existsSync(join(dist, "tts-engine", "main.js"))) {
  console.error(`${dist} is not built: run pnpm build first`);
  process.exit(1);
}
const { EngineModelServer } = await import(join(dist, "supervisor", "engine-model-server.js"));
const { loadEngineConfig } = await import(join(dist, "engines", "engine-env.js"));
const { findOnPath } = await import(join(dist, "engines", "binary.js"));
const { parseWav } = await import(join(dist, "engines", "wav.js"));

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const WARMUP = 2;
const TEXT = process.env.BENCH_TTS_TEXT ?? "The quick brown fox jumps over the lazy dog.";
const VOICE_DIR = resolve(process.env.BENCH_TTS_VOICE_DIR ?? join(root, "packages", "testkit", "tts", "tiny-piper"));
const SHERPA_CLI = process.env.BENCH_TTS_BIN ?? (await findOnPath(["sherpa-onnx-offline-tts"]));
const ONESHOT = SHERPA_CLI ?? join(pkg, "bench", "tts-oneshot.mjs");
const oneshotName = SHERPA_CLI ? "sherpa-onnx-offline-tts" : "bench/tts-oneshot.mjs (a sherpa-onnx-offline-tts work-alike over sherpa-onnx-node)";

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))];
const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");

async function timed(n, fn) {
  for (let i = 0; i < WARMUP; i++) await fn();
  const times = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return { median: median(times), p90: p90(times), times };
}

/** The voice folder as the cache hands it to the agent. */
async function voiceFiles() {
  const entries = await readdir(VOICE_DIR, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => relative(VOICE_DIR, join(e.parentPath, e.name)).split("\\").join("/"));
  return { commit: "local", snapshotDir: VOICE_DIR, files: files.sort() };
}

/** A model server running the voice one way; `speak()` is one request through the agent's plan. */
async function agentWith(config, stateDir) {
  const server = new EngineModelServer({ config: loadEngineConfig(config), stateDir, logger: pino({ level: "silent" }) });
  await server.init();
  const files = await voiceFiles();
  const model = {
    name: "voice", repo: "bench/voice", revision: "main", files: files.files, runtime: "onnx_runtime", kind: "tts",
    capabilities: ["speech"], options: {}, created_at: 0,
  };
  let state;
  server.start(model, files, (s) => (state = s));
  const deadline = Date.now() + 60_000;
  while (state?.state !== "ready") {
    if (state?.state === "failed") throw new Error(`the voice failed: ${state.error}`);
    if (Date.now() > deadline) throw new Error("the voice did not get ready within 60 s");
    await new Promise((r) => setTimeout(r, 20));
  }
  const speak = async () => {
    const opened = server.open("voice", "speech");
    if (!opened.ok) throw new Error(opened.message);
    try {
      const reply = await opened.lease.call(
        { capability: "speech", body: { model: "voice", input: TEXT, response_format: "wav", speed: 1 } },
        AbortSignal.timeout(60_000),
      );
      return reply.body;
    } finally {
      opened.lease.release();
    }
  };
  return { server, speak };
}

function runNode(args) {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { cwd: pkg, stdio: "ignore" });
    child.once("error", fail);
    child.once("exit", (code) => (code === 0 ? done() : fail(new Error(`node ${args.join(" ")} exited ${code}`))));
  });
}

const work = await mkdtemp(join(tmpdir(), "omnigate-bench-tts-"));
const before = load();
const stopping = [];
try {
  const builtIn = await agentWith({ OMNIGATE_TTS_BIN: "" }, join(work, "engine-state"));
  stopping.push(builtIn.server);
  const wav = parseWav(await builtIn.speak());
  const audioSeconds = wav.pcm.length / 2 / wav.sampleRate;
  const engine = builtIn.server.engines()[0];
  const cmdline = (await readFile(`/proc/${engine.pid}/cmdline`, "utf8")).split("\0").filter(Boolean);
  const port = Number(cmdline.find((a) => a.startsWith("--port="))?.slice(7));
  const engineUrl = `http://127.0.0.1:${port}`;

  const oneshot = await agentWith({ OMNIGATE_TTS_BIN: ONESHOT }, join(work, "oneshot-state"));
  stopping.push(oneshot.server);

  // Interleaved per round would mix caches; each contender runs its rounds back to back instead.
  const persistent = await timed(ROUNDS, builtIn.speak);
  const engineAlone = await timed(ROUNDS, async () => {
    const res = await fetch(`${engineUrl}/synthesize`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: TEXT }) });
    await res.arrayBuffer();
  });
  const roundTrip = await timed(ROUNDS, async () => (await fetch(`${engineUrl}/health`)).arrayBuffer());
  const perRequest = await timed(ROUNDS, oneshot.speak);
  const nodeStart = await timed(ROUNDS, () => runNode(["-e", ""]));
  const sherpaLoad = await timed(ROUNDS, () => runNode(["-e", "require('sherpa-onnx-node')"]));
  const after = load();

  const ratio = perRequest.median / persistent.median;
  const node = process.version;
  const sherpaVersion = execFileSync(process.execPath, [join(dist, "tts-engine", "main.js"), "--version"], { encoding: "utf8" }).trim();
  const voiceName = relative(root, VOICE_DIR).startsWith("..") ? VOICE_DIR : relative(root, VOICE_DIR);
  const commands = [
    `node ${relative(root, join(dist, "tts-engine", "main.js"))} ${cmdline.slice(2).map((a) => a.replace(root + "/", "")).join(" ")}`,
    `${SHERPA_CLI ?? `node ${relative(root, ONESHOT)}`} --vits-model=… --vits-tokens=… --sid=0 --output-filename=<tmp>/out.wav -- "${TEXT}"`,
    `node -e ""`,
    `node -e "require('sherpa-onnx-node')"`,
  ];
  const lines = [
    `- voice: ${voiceName} (${wav.sampleRate} Hz); text: "${TEXT}" (${TEXT.length} characters, ${audioSeconds.toFixed(2)} s of audio); ${ROUNDS} requests each after ${WARMUP} warm-up, one at a time; ${sherpaVersion}`,
    `- **built-in engine, voice loaded once** (through the agent's plan): median ${fmt(persistent.median)} ms, p90 ${fmt(persistent.p90)} ms`,
    `- **a process per request**, ${oneshotName} (through the agent's plan): median ${fmt(perRequest.median)} ms, p90 ${fmt(perRequest.p90)} ms`,
    `- **ratio process per request / built-in engine: ${ratio.toFixed(1)}×**`,
    `- floors of the built-in engine: the engine alone (POST /synthesize to its port, no agent) ${fmt(engineAlone.median)} ms; an HTTP round trip to it (GET /health) ${fmt(roundTrip.median)} ms`,
    `- floors of a process per request (node processes): bare \`node -e ""\` ${fmt(nodeStart.median)} ms; \`node\` loading sherpa-onnx-node ${fmt(sherpaLoad.median)} ms`,
    `- load average: ${before} before, ${after} after; 2 cores shared with whatever else runs; Node ${node}, ${new Date().toISOString().slice(0, 10)}`,
  ];
  console.log(["", "Text-to-speech: the same sentence, voice loaded once vs a process per request", ...lines, "", ...commands.map((c) => `  ${c}`)].join("\n"));

  await writeBenchSection(root, "Text-to-speech (issue 11)", {
    intro: [
      "`pnpm bench:tts` (packages/node-agent/bench/tts-bench.mjs). The same sentence through the agent's two",
      "ways of running a voice, side by side in one run, each request through the agent's own plan (a lease",
      "on the model, as its /v1/audio/speech route takes it): the built-in engine, one process per voice that",
      "loads it once, and a process per request, which loads it every time (what OMNIGATE_TTS_BIN selects).",
    ],
    lines,
    commands,
  });
} finally {
  await Promise.all(stopping.map((s) => s.close()));
  await rm(work, { recursive: true, force: true });
}
