import { describe, expect, it } from "vitest";
import { LineTail } from "./log-tail.js";

describe("LineTail", () => {
  it("reassembles lines split across chunks and forwards each once", () => {
    const seen: string[] = [];
    const tail = new LineTail(10, (stream, line) => seen.push(`${stream}:${line}`));
    tail.push("stderr", "load");
    tail.push("stderr", "ing model\r\nerror: bad");
    tail.push("stdout", "hello\n\n");
    tail.end();
    expect(seen).toEqual(["stderr:loading model", "stdout:hello", "stderr:error: bad"]);
  });

  it("keeps the last lines, preferring stderr for error messages", () => {
    const tail = new LineTail(3);
    for (const n of [1, 2, 3, 4]) tail.push("stderr", `e${n}\n`);
    tail.push("stdout", "o1\n");
    expect(tail.last(5)).toBe("e3\ne4");
    const quiet = new LineTail(5);
    quiet.push("stdout", "only stdout\n");
    expect(quiet.last(2)).toBe("only stdout");
  });
});
