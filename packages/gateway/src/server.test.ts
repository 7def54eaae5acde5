import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Heartbeat, NodeRegistration } from "@omnigate/shared/node-protocol";
import { GatewayEnv } from "./config.js";
import { startGateway, type RunningGateway } from "./server.js";

// Graceful shutdown with a request in flight: it finishes; the listener stops taking new ones.

let dir: string;
let agent: Server;
let gw: RunningGateway | undefined;
let release: (() => void) | undefined;
let arrived: Promise<void>;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "omnigate-server-"));
  let signalArrival!: () => void;
  arrived = new Promise((r) => (signalArrival = r));
  // A stand-in agent that holds the chat request until the test releases it.
  agent = createServer((req, res) => {
    req.resume();
    signalArrival();
    release = () => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ id: "chatcmpl-1", object: "chat.completion", choices: [] }));
    };
  });
  await new Promise<void>((r) => agent.listen(0, "127.0.0.1", r));
});

afterEach(async () => {
  await gw?.close();
  agent.closeAllConnections();
  await new Promise((r) => agent.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("startGateway close()", () => {
  it("lets an in-flight request finish, refuses new connections, and returns one promise", async () => {
    gw = await startGateway(GatewayEnv.parse({ OMNIGATE_PORT: "0", OMNIGATE_DATA_DIR: dir, OMNIGATE_SHUTDOWN_TIMEOUT_MS: "10000" }), pino({ level: "silent" }));
    const admin = gw.credentials.adminKey.value;
    const auth = { authorization: `Bearer ${admin}`, "content-type": "application/json" };
    await fetch(`${gw.url}/api/models`, { method: "POST", headers: auth, body: JSON.stringify({ name: "m", repo: "org/m", files: ["m.gguf"], resources: { memory_mib: 1 } }) });
    const registration = NodeRegistration.parse({
      runtime_id: randomUUID(),
      supported_runtimes: ["llama_cpp"],
      loaded_models: {},
      agent_url: `http://127.0.0.1:${(agent.address() as AddressInfo).port}`,
      hostname: "box",
      version: "test",
    });
    const { entry } = await gw.nodes.register(registration);
    gw.nodes.heartbeat(entry, Heartbeat.parse({ ...registration, models: [{ name: "m", state: "ready" }] }));
    await gw.placement.settled();

    const inFlight = fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: auth, body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }) });
    await arrived;
    const closing = gw.close();
    expect(gw.close()).toBe(closing);
    // The listener is closed: a new connection is refused while the old request still runs.
    await expect(fetch(`${gw.url}/healthz`, { headers: { connection: "close" } })).rejects.toThrow();
    release?.();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { id: string }).id).toBe("chatcmpl-1");
    await closing;
  });
});
