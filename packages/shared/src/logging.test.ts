import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { REDACTED_LOG_PATHS } from "./logging.js";

describe("redacted log paths", () => {
  it("keep credentials out of a real pino line, top level and one level down", () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const log = pino({ redact: { paths: [...REDACTED_LOG_PATHS], censor: "[redacted]" } }, sink);
    log.info({ headers: { authorization: "Bearer s3cret-a" }, node_secret: "s3cret-b", reg: { token: "s3cret-c" }, model: "m" }, "x");
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/s3cret/);
    expect(lines[0]).toContain('"model":"m"');
  });
});
