import { describe, expect, it } from "vitest";
import { progressOutput } from "./cache-progress.js";

function stream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = { isTTY, text: "", write(chunk: string) { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

describe("pull progress output", () => {
  it("redraws one bar line on a terminal", () => {
    const tty = stream(true);
    const out = progressOutput("pull org/m", tty);
    out.update({ bytes: 430_000_000, total: 1_000_000_000, rate: 100_000_000, percent: 43 });
    out.update({ bytes: 1_000_000_000, total: 1_000_000_000, rate: 100_000_000, percent: 100 });
    out.done();
    expect(tty.text).toBe(
      "\rpull org/m [#############-----------------] 43.0% (430.0 MB of 1.0 GB, 100.0 MB/s, 6 s left)\x1b[K" +
        "\rpull org/m [##############################] 100.0% (1.0 GB of 1.0 GB, 100.0 MB/s)\x1b[K\n",
    );
  });

  it("prints plain lines elsewhere, at most one per interval plus the last", () => {
    const log = stream(false);
    const out = progressOutput("pull org/m", log, 60_000);
    out.update({ bytes: 1, total: 10, rate: 0, percent: 10 });
    out.update({ bytes: 5, total: 10, rate: 0, percent: 50 });
    out.update({ bytes: 10, total: 10, rate: 0, percent: 100 });
    expect(log.text).toBe("pull org/m: 10.0% (1 B of 10 B)\npull org/m: 100.0% (10 B of 10 B)\n");
  });
});
