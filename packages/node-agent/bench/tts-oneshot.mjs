#!/usr/bin/env node
// A sherpa-onnx-offline-tts work-alike over sherpa-onnx-node, for `pnpm bench:tts` where the real
// binary is not installed (no npm package ships it): one process per request, loading the voice,
// synthesizing the text, writing a 16-bit WAV and exiting, as the agent's one-shot plan runs it.
//   tts-oneshot.mjs --vits-model=F --vits-tokens=F [--vits-data-dir=D] [--vits-lexicon=F]
//                   [--vits-length-scale=X] [--num-threads=N] [--sid=N] --output-filename=F [--] TEXT
// --help prints this usage (the agent's start-up probe).
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { encodeWav16 } from "../dist/tts-engine/wav.js";

const USAGE = "Usage: tts-oneshot.mjs --vits-model=F --vits-tokens=F [--vits-data-dir=D] [--sid=N] --output-filename=F -- TEXT";
const args = process.argv.slice(2);
if (args.includes("--help")) {
  console.log(USAGE);
  process.exit(0);
}
const flags = new Map();
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--") {
    positional.push(...args.slice(i + 1));
    break;
  }
  const m = /^--([a-z-]+)=(.*)$/s.exec(args[i]);
  if (m) flags.set(m[1], m[2]);
  else positional.push(args[i]);
}
if (positional.length !== 1 || !flags.get("vits-model") || !flags.get("output-filename")) {
  console.error(USAGE);
  process.exit(2);
}

const sherpa = createRequire(import.meta.url)("sherpa-onnx-node");
const vits = { model: flags.get("vits-model"), tokens: flags.get("vits-tokens") };
if (flags.has("vits-data-dir")) vits.dataDir = flags.get("vits-data-dir");
if (flags.has("vits-lexicon")) vits.lexicon = flags.get("vits-lexicon");
const tts = new sherpa.OfflineTts({ model: { vits, numThreads: Number(flags.get("num-threads") ?? 1) }, maxNumSentences: 1 });
const lengthScale = Number(flags.get("vits-length-scale") ?? 1);
const audio = tts.generate({ text: positional[0], sid: Number(flags.get("sid") ?? 0), speed: 1 / lengthScale });

writeFileSync(flags.get("output-filename"), encodeWav16(audio.samples, audio.sampleRate));
