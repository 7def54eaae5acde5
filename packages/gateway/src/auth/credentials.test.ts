import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ADMIN_KEY_FILE, NODE_TOKEN_FILE, loadClusterCredentials } from "./credentials.js";

function capturingLogger(): { logger: pino.Logger; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { logger: pino({ level: "trace" }, stream), text: () => chunks.join("") };
}

describe("cluster credentials", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "omnigate-cred-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("generates both into the data dir with mode 0600, logs the paths but not the values, and reuses them", () => {
    const { logger, text } = capturingLogger();
    const first = loadClusterCredentials(dir, {}, logger);
    expect(first.adminKey.source).toBe("generated");
    expect(first.nodeToken.source).toBe("generated");
    expect(first.adminKey.value).not.toBe(first.nodeToken.value);
    for (const [cred, file] of [
      [first.adminKey, ADMIN_KEY_FILE],
      [first.nodeToken, NODE_TOKEN_FILE],
    ] as const) {
      const path = join(dir, file);
      expect(cred.file).toBe(path);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readFileSync(path, "utf8").trim()).toBe(cred.value);
      expect(text()).toContain(path);
      expect(text()).not.toContain(cred.value);
    }

    const second = loadClusterCredentials(dir, {}, logger);
    expect(second.adminKey).toMatchObject({ source: "file", value: first.adminKey.value });
    expect(second.nodeToken).toMatchObject({ source: "file", value: first.nodeToken.value });
  });

  it("takes the environment over the files, and writes no file for it", () => {
    const { logger, text } = capturingLogger();
    const creds = loadClusterCredentials(dir, { OMNIGATE_ADMIN_KEY: "admin-key-from-env-123", OMNIGATE_NODE_TOKEN: "node-token-from-env-456" }, logger);
    expect(creds.adminKey).toEqual({ value: "admin-key-from-env-123", source: "env", file: null });
    expect(creds.nodeToken.value).toBe("node-token-from-env-456");
    expect(() => statSync(join(dir, ADMIN_KEY_FILE))).toThrow();
    expect(text()).not.toContain("admin-key-from-env-123");
  });

  it("tightens a credential file that others can read", () => {
    const path = join(dir, ADMIN_KEY_FILE);
    writeFileSync(path, "an-admin-key-someone-copied-in\n");
    chmodSync(path, 0o644);
    const { logger } = capturingLogger();
    const creds = loadClusterCredentials(dir, {}, logger);
    expect(creds.adminKey.value).toBe("an-admin-key-someone-copied-in");
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("refuses a credential file that is too short to be a secret", () => {
    writeFileSync(join(dir, NODE_TOKEN_FILE), "short\n", { mode: 0o600 });
    const { logger } = capturingLogger();
    expect(() => loadClusterCredentials(dir, {}, logger)).toThrow(/shorter than 16 characters/);
  });
});
