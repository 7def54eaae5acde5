import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { delimiter, isAbsolute, resolve } from "node:path";
import { buildEngineEnv } from "./child-env.js";
import { EngineSetupError } from "./engine-errors.js";
import type { ProbeResult } from "./types.js";

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const s = await stat(path);
    if (!s.isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first `names` entry found on PATH, as an absolute path. */
export async function findOnPath(names: readonly string[], pathVar = process.env.PATH ?? ""): Promise<string | undefined> {
  const dirs = pathVar.split(delimiter).filter(Boolean);
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = resolve(dir, name);
      if (await isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * The binary for an engine: the configured value (a path, or a bare name looked up on PATH), else the
 * first of `names` on PATH.
 */
export async function resolveBinary(
  configured: string | undefined,
  names: readonly string[],
  variable: string,
): Promise<{ ok: true; path: string } | { ok: false; reason: string }> {
  if (configured && configured.trim() !== "") {
    const value = configured.trim();
    if (value.includes("/")) {
      const path = isAbsolute(value) ? value : resolve(value);
      return (await isExecutableFile(path))
        ? { ok: true, path }
        : { ok: false, reason: `${variable}=${value} is not an executable file` };
    }
    const found = await findOnPath([value]);
    return found ? { ok: true, path: found } : { ok: false, reason: `${variable}=${value} was not found on PATH` };
  }
  const found = await findOnPath(names);
  return found
    ? { ok: true, path: found }
    : { ok: false, reason: `${names.join(" / ")} not found on PATH (set ${variable} to its path)` };
}

/**
 * Checks that a binary really starts here (right architecture, shared libraries present): runs it
 * with `args` (usually --help) and expects a usage text or exit 0 within the timeout.
 */
export function probeBinary(
  path: string,
  args: readonly string[],
  timeoutMs: number,
  env: NodeJS.ProcessEnv,
): Promise<ProbeResult> {
  return new Promise((done) => {
    let output = "";
    let settled = false;
    const finish = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      done(result);
    };
    const child = spawn(path, [...args], { stdio: ["ignore", "pipe", "pipe"], env });
    const collect = (chunk: Buffer) => {
      if (output.length < 64 * 1024) output += chunk.toString("utf8");
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish({ ok: false, reason: `${path} ${args.join(" ")} did not finish within ${Math.round(timeoutMs / 1000)}s` });
    }, timeoutMs);
    child.on("error", (err) => finish({ ok: false, reason: `${path} cannot be run: ${err.message}` }));
    child.on("close", (code, signal) => {
      const tail = output.trim().split("\n").slice(-3).join(" | ").slice(0, 500);
      if (code === 0 || /usage|options:/i.test(output)) {
        finish({ ok: true, binary: path, detail: output.trim().split("\n")[0]?.slice(0, 200) ?? "" });
      } else {
        finish({ ok: false, reason: `${path} ${args.join(" ")} exited with ${signal ?? code}: ${tail || "(no output)"}` });
      }
    });
  });
}

/** resolveBinary then probeBinary, with the engine environment and the configured probe timeout. */
export async function findAndProbe(
  configured: string | undefined,
  names: readonly string[],
  variable: string,
  options: { timeoutMs: number; envPass: string; args?: readonly string[] },
): Promise<ProbeResult> {
  const found = await resolveBinary(configured, names, variable);
  if (!found.ok) return found;
  return probeBinary(found.path, options.args ?? ["--help"], options.timeoutMs, buildEngineEnv(options.envPass));
}

/**
 * An adapter's engine binary: found and probed once at agent start (`probe`), then handed to every
 * engine it plans (`path`), which fails with a setup error when the probe did not pass.
 */
export class ProbedBinary {
  #path: string | undefined;

  constructor(
    readonly engine: string,
    private readonly configured: string | undefined,
    private readonly variable: string,
    private readonly options: { timeoutMs: number; envPass: string },
  ) {}

  async probe(): Promise<ProbeResult> {
    const probed = await findAndProbe(this.configured, [this.engine], this.variable, this.options);
    if (probed.ok) this.#path = probed.binary;
    return probed;
  }

  path(): string {
    if (!this.#path) throw new EngineSetupError(`${this.engine} was not found or does not run on this node`);
    return this.#path;
  }
}
