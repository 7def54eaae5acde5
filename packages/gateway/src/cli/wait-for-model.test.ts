import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Heartbeat, NodeRegistration } from "@omnigate/shared/node-protocol";
import { GatewayEnv } from "../config.js";
import { startGateway, type RunningGateway } from "../server.js";
import { AdminClient } from "./admin-client.js";
import { waitForModel } from "./wait-for-model.js";

// The terminal rendering of `models add --wait`, against an in-process gateway on port 0.

let dir: string;
let gw: RunningGateway;
let client: AdminClient;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "omnigate-wait-"));
  gw = await startGateway(GatewayEnv.parse({ OMNIGATE_PORT: "0", OMNIGATE_DATA_DIR: dir }), pino({ level: "silent" }));
  client = new AdminClient({ url: gw.url, adminKey: gw.credentials.adminKey.value });
});
afterEach(async () => {
  await gw.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("waitForModel", () => {
  it("redraws one truncated line on a terminal and ends it with a newline once ready", async () => {
    // A memory figure: no hub to read an estimate from here.
    await client.call("POST", "/api/models", { repo: "org/live-line", files: ["m.gguf"], resources: { memory_mib: 1 } });
    const registration = NodeRegistration.parse({
      runtime_id: randomUUID(),
      supported_runtimes: ["llama_cpp"],
      loaded_models: {},
      agent_url: "http://127.0.0.1:9",
      hostname: "box",
      version: "test",
    });
    const { entry } = gw.nodes.register(registration);
    // As POST /api/nodes/register does: answered once the placement counts the node.
    await gw.placement.settled();
    const report = (models: unknown[]) => gw.nodes.heartbeat(entry, Heartbeat.parse({ ...registration, models }));
    report([{ name: "org/live-line", state: "downloading", progress: { bytes: 5, total: 10, percent: 50 } }]);

    const writes: string[] = [];
    const out = {
      isTTY: true,
      columns: 40,
      write: (text: string) => {
        writes.push(text);
        // The node finishes once the first progress line has been drawn.
        if (writes.length === 1) report([{ name: "org/live-line", state: "ready" }]);
      },
    };
    const outcome = await waitForModel(client, "org/live-line", { timeoutMs: 10_000, out });
    expect(outcome.ok).toBe(true);
    const CLEAR = "\r\x1b[2K";
    expect(writes[0]?.startsWith(CLEAR)).toBe(true);
    expect(writes[0]?.slice(CLEAR.length)).toMatch(/^org\/live-line: [0-9a-f]{8} downloading \d*…$/);
    expect(writes.slice(0, -1).every((w) => w.startsWith(CLEAR) && w.length - CLEAR.length <= 39)).toBe(true);
    expect(writes.at(-2)).toContain("ready");
    expect(writes.at(-1)).toBe("\n");
  });

  it("says why a model is not placed while it waits, and again only when the reason changes", async () => {
    await client.call("POST", "/api/models", { repo: "org/homeless", files: ["m.gguf"], resources: { memory_mib: 64 } });
    const writes: string[] = [];
    const outcome = await waitForModel(client, "org/homeless", { timeoutMs: 300, out: { write: (t: string) => writes.push(t) } });
    expect(outcome.ok).toBe(false);
    expect(writes).toEqual(["org/homeless: not placed yet: no node is registered: start a node agent that can run llama_cpp\n"]);
  });

  it("stops at once when the model is deleted while waiting", async () => {
    await client.call("POST", "/api/models", { repo: "org/vanishing", runtime: "whisper" });
    const writes: string[] = [];
    const waiting = waitForModel(client, "org/vanishing", { timeoutMs: 10_000, out: { write: (t: string) => writes.push(t) } });
    await client.call("DELETE", "/v1/models/org/vanishing");
    const outcome = await waiting;
    expect(outcome).toMatchObject({ ok: false, message: expect.stringContaining("'org/vanishing' does not exist") });
  });
});
