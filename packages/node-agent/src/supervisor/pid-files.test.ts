import { describe, expect, it } from "vitest";
import { isOurEngine } from "./pid-files.js";

describe("isOurEngine", () => {
  const argv = ["/opt/engines/llama-server", "-m", "/m.gguf", "--port", "41000"];
  it("recognises the engine run directly or through a script interpreter", () => {
    expect(isOurEngine(argv, argv)).toBe(true);
    expect(isOurEngine(["node", "/opt/engines/llama-server", "-m", "/m.gguf", "--port", "41000"], argv)).toBe(true);
  });
  it("rejects another program, or our binary with other arguments (a reused pid)", () => {
    expect(isOurEngine(["sleep", "-m", "/m.gguf", "--port", "41000"], argv)).toBe(false);
    expect(isOurEngine(["/opt/engines/llama-server", "-m", "/m.gguf", "--port", "41001"], argv)).toBe(false);
    expect(isOurEngine(["/opt/engines/llama-server"], argv)).toBe(false);
  });
});
