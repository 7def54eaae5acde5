import { describe, expect, it } from "vitest";
import { loadConfig, parseLabels } from "./config.js";

describe("agent config (control slice)", () => {
  it("works on a laptop with nothing set", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      OMNIGATE_GATEWAY_URL: "http://127.0.0.1:8080",
      OMNIGATE_AGENT_HOST: "127.0.0.1",
      OMNIGATE_AGENT_PORT: 8081,
      OMNIGATE_STATE_DIR: "./.data/agent",
      OMNIGATE_NODE_LABELS: "",
    });
  });

  it("names every bad variable at once", () => {
    let message = "";
    try {
      loadConfig({ OMNIGATE_AGENT_PORT: "99999", OMNIGATE_NODE_TOKEN: "short", OMNIGATE_NODE_LABELS: "zone" });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^\s+OMNIGATE_AGENT_PORT: /m);
    expect(message).toMatch(/OMNIGATE_NODE_TOKEN: OMNIGATE_NODE_TOKEN must be at least 16 characters/);
    expect(message).toMatch(/OMNIGATE_NODE_LABELS: "zone" is not key=value/);
  });

  it("accepts every HF_HUB_OFFLINE value huggingface_hub does, and names a bad one", () => {
    for (const v of ["1", "true", "YES", "on", "0", "false", "no", "off", ""]) {
      expect(() => loadConfig({ HF_HUB_OFFLINE: v }), v).not.toThrow();
    }
    expect(() => loadConfig({ HF_HUB_OFFLINE: "maybe" })).toThrow(/HF_HUB_OFFLINE: HF_HUB_OFFLINE must be/);
  });

  it("parses labels, trimming blanks", () => {
    expect(parseLabels(" zone = eu-1 , gpu=a100,, ")).toEqual({ zone: "eu-1", gpu: "a100" });
    expect(parseLabels("")).toEqual({});
    expect(() => parseLabels("=x")).toThrow(/OMNIGATE_NODE_LABELS/);
  });
});
