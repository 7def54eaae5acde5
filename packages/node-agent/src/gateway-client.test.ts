import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { errorAnswer, registration, ScriptedGateway } from "../test/helpers/scripted-gateway.js";
import { GatewayClient, isForgotten, NodeTokenError, readNodeToken } from "./gateway-client.js";

let dir: string;
let gateway: ScriptedGateway | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "og-gw-client-"));
});
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
  await rm(dir, { recursive: true, force: true });
});


describe("readNodeToken", () => {
  it("prefers the variable, else reads and trims the file", async () => {
    const file = join(dir, "node.token");
    await writeFile(file, "og-node-abcdefghijklmnop\n");
    expect(await readNodeToken({ token: "from-env-0123456789", file })).toBe("from-env-0123456789");
    expect(await readNodeToken({ file })).toBe("og-node-abcdefghijklmnop");
  });
  it("says what to set when there is no token", async () => {
    await expect(readNodeToken({})).rejects.toThrow(/OMNIGATE_NODE_TOKEN/);
    await expect(readNodeToken({ file: join(dir, "missing") })).rejects.toBeInstanceOf(NodeTokenError);
  });
});

describe("GatewayClient", () => {
  it("returns failures as values: refused, HTTP errors with their code, malformed answers", async () => {
    gateway = await ScriptedGateway.start();
    const client = new GatewayClient({ baseUrl: gateway.url, tokenSource: { token: "node-token-0123456789" } });
    gateway.registerScript.push(errorAnswer(401, "invalid_api_key", "bad token"), { status: 200, body: { nope: 1 } });
    const unauthorized = await client.register(registration);
    expect(unauthorized).toEqual({ ok: false, status: 401, error: "bad token", code: "invalid_api_key" });
    const malformed = await client.register(registration);
    expect(malformed.ok).toBe(false);
    expect(!malformed.ok && malformed.error).toMatch(/unexpected answer/);
    const ok = await client.register(registration);
    expect(ok).toEqual({ ok: true, data: { runtime_id: registration.runtime_id, node_secret: gateway.secret(1), heartbeat_interval_ms: 60_000 } });
    const port = gateway.port;
    await gateway.close();
    gateway = undefined;
    const refused = await new GatewayClient({ baseUrl: `http://127.0.0.1:${port}`, tokenSource: { token: "x".repeat(16) } }).register(registration);
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.status).toBeUndefined();
    expect(!refused.ok && refused.error).toMatch(/ECONN(REFUSED|RESET)/);
  });

  it("times out on a gateway that accepts but never answers", async () => {
    gateway = await ScriptedGateway.start();
    gateway.registerScript.push("hang");
    const client = new GatewayClient({ baseUrl: gateway.url, tokenSource: { token: "node-token-0123456789" }, timeoutMs: 200 });
    const result = await client.register(registration);
    expect(result.ok).toBe(false);
  });

  it("treats 401 and 404 node_not_found as forgotten, not other 404s or 5xx", () => {
    expect(isForgotten({ ok: false, status: 401 })).toBe(true);
    expect(isForgotten({ ok: false, status: 404, code: "node_not_found" })).toBe(true);
    expect(isForgotten({ ok: false, status: 404, code: "not_found" })).toBe(false);
    expect(isForgotten({ ok: false, status: 503 })).toBe(false);
    expect(isForgotten({ ok: false })).toBe(false);
  });
});
