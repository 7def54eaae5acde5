import type { OfflineTtsConfig } from "./sherpa.js";

/**
 * The engine takes sherpa-onnx-offline-tts's own flags (`--name=value`), so the agent plans both
 * engines from the same voice files and OMNIGATE_TTS_ARGS works with either. Per-request flags
 * (--sid, --output-filename, the text) are not flags here: they come with each request.
 */
type Kind = "string" | "int" | "float" | "bool";
const FLAGS: Readonly<Record<string, { readonly key: readonly string[]; readonly kind: Kind }>> = {
  "vits-model": { key: ["model", "vits", "model"], kind: "string" },
  "vits-tokens": { key: ["model", "vits", "tokens"], kind: "string" },
  "vits-lexicon": { key: ["model", "vits", "lexicon"], kind: "string" },
  "vits-data-dir": { key: ["model", "vits", "dataDir"], kind: "string" },
  "vits-dict-dir": { key: ["model", "vits", "dictDir"], kind: "string" },
  "vits-noise-scale": { key: ["model", "vits", "noiseScale"], kind: "float" },
  "vits-noise-scale-w": { key: ["model", "vits", "noiseScaleW"], kind: "float" },
  "vits-length-scale": { key: ["model", "vits", "lengthScale"], kind: "float" },
  "kokoro-model": { key: ["model", "kokoro", "model"], kind: "string" },
  "kokoro-voices": { key: ["model", "kokoro", "voices"], kind: "string" },
  "kokoro-tokens": { key: ["model", "kokoro", "tokens"], kind: "string" },
  "kokoro-data-dir": { key: ["model", "kokoro", "dataDir"], kind: "string" },
  "kokoro-lexicon": { key: ["model", "kokoro", "lexicon"], kind: "string" },
  "kokoro-length-scale": { key: ["model", "kokoro", "lengthScale"], kind: "float" },
  "kokoro-lang": { key: ["model", "kokoro", "lang"], kind: "string" },
  "num-threads": { key: ["model", "numThreads"], kind: "int" },
  provider: { key: ["model", "provider"], kind: "string" },
  debug: { key: ["model", "debug"], kind: "bool" },
  "max-num-sentences": { key: ["maxNumSentences"], kind: "int" },
  "silence-scale": { key: ["silenceScale"], kind: "float" },
  "tts-rule-fsts": { key: ["ruleFsts"], kind: "string" },
  "tts-rule-fars": { key: ["ruleFars"], kind: "string" },
};

export const USAGE = `Usage: node main.js --vits-model=FILE --vits-tokens=FILE [--vits-data-dir=DIR | --vits-lexicon=FILE] --port=N [--host=127.0.0.1]
       node main.js --kokoro-model=FILE --kokoro-voices=FILE --kokoro-tokens=FILE [--kokoro-data-dir=DIR] --port=N
       node main.js --version
Loads one sherpa-onnx voice and serves it over HTTP (GET /health, POST /synthesize).
Options, as sherpa-onnx-offline-tts names them: ${Object.keys(FLAGS).map((f) => `--${f}`).join(", ")}.`;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export type EngineArgs =
  | { readonly mode: "version" }
  | { readonly mode: "help" }
  | { readonly mode: "serve"; readonly host: string; readonly port: number; readonly config: OfflineTtsConfig };

function parseValue(flag: string, kind: Kind, raw: string | undefined): string | number | boolean {
  if (kind === "bool") {
    if (raw === undefined || raw === "true" || raw === "1") return true;
    if (raw === "false" || raw === "0") return false;
    throw new UsageError(`--${flag} takes true/false or 1/0, not '${raw}'`);
  }
  if (raw === undefined || raw === "") throw new UsageError(`--${flag} needs a value (--${flag}=…)`);
  if (kind === "string") return raw;
  const value = Number(raw);
  if (!Number.isFinite(value) || (kind === "int" && !Number.isInteger(value))) {
    throw new UsageError(`--${flag} takes ${kind === "int" ? "an integer" : "a number"}, not '${raw}'`);
  }
  return value;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[path.at(-1)!] = value;
}

/** Parses the engine's argv (without node and the script). Throws UsageError naming what is wrong. */
export function parseEngineArgs(argv: readonly string[]): EngineArgs {
  if (argv.includes("--version")) return { mode: "version" };
  if (argv.includes("--help")) return { mode: "help" };
  // sherpa-onnx-offline-tts's defaults: one sentence per batch (a long text never runs the model
  // on all of it at once), one thread.
  const config: Record<string, unknown> = { model: { numThreads: 1 }, maxNumSentences: 1 };
  let host = "127.0.0.1";
  let port: number | undefined;
  for (const arg of argv) {
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new UsageError(`unexpected argument '${arg}': options are --name=value`);
    const [, flag, raw] = match as unknown as [string, string, string | undefined];
    if (flag === "host") {
      host = String(parseValue(flag, "string", raw));
    } else if (flag === "port") {
      port = parseValue(flag, "int", raw) as number;
      if (port < 1 || port > 65_535) throw new UsageError(`--port must be 1-65535, not ${port}`);
    } else {
      const spec = FLAGS[flag];
      if (!spec) throw new UsageError(`unknown option --${flag}`);
      setPath(config, spec.key, parseValue(flag, spec.kind, raw));
    }
  }
  if (port === undefined) throw new UsageError("--port is required");
  const model = config.model as OfflineTtsConfig["model"];
  if (!model.vits?.model && !model.kokoro?.model) throw new UsageError("no voice: give --vits-model (piper, VITS) or --kokoro-model");
  return { mode: "serve", host, port, config: config as unknown as OfflineTtsConfig };
}
