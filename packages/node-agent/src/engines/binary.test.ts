// Runtime detection: a binary that is there but cannot run here must not count as supported.
// Real executables (shell scripts) in a temp dir, really spawned.
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findAndProbe, probeBinary } from "./binary.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "og-probe-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function script(name: string, body: string, mode = 0o755): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, mode);
  return path;
}

describe("probing an engine binary", () => {
  it("accepts a binary that prints its usage, even with a non-zero exit", async () => {
    const path = await script("usage", 'echo "usage: llama-server [options]"; exit 1');
    expect(await probeBinary(path, ["--help"], 5_000, {})).toMatchObject({ ok: true, binary: path });
  });

  it("refuses one that exists but fails to start, quoting what it said", async () => {
    const path = await script("broken", 'echo "error while loading shared libraries: libcudart.so.12" >&2; exit 127');
    const result = await probeBinary(path, ["--help"], 5_000, {});
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.reason).toMatch(/exited with 127: error while loading shared libraries: libcudart\.so\.12/);
  });

  it("refuses one that hangs, after the timeout", async () => {
    const path = await script("hangs", "sleep 30");
    const result = await probeBinary(path, ["--help"], 300, {});
    expect(result.ok ? "" : result.reason).toMatch(/did not finish within/);
  });

  it("refuses a configured path that is not executable, naming the variable", async () => {
    const path = await script("not-executable", "exit 0", 0o644);
    const result = await findAndProbe(path, ["whisper-server"], "OMNIGATE_WHISPER_SERVER_BIN", { timeoutMs: 5_000, envPass: "" });
    expect(result.ok ? "" : result.reason).toBe(`OMNIGATE_WHISPER_SERVER_BIN=${path} is not an executable file`);
  });
});
