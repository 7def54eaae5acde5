// A refusal that comes before the body was read (413 over the limits, 401) must reach the client
// while it is still sending: the gateway reads and drops the rest of the body (a lingering close)
// instead of closing on it, which makes the kernel reset the connection and a client still sending
// see EPIPE. Bodies trickle in, as over a real network.
import OpenAI, { APIError, toFile } from "openai";
import { describe, expect, it } from "vitest";
import { OpenAIErrorBody } from "@omnigate/shared/errors";
import { rawUpload, trickle, tricklingFetch } from "@omnigate/testkit/slow-upload";
import { clusterPerTest } from "./data-plane-harness.js";

const MAX_BODY = 64 * 1024;
const MAX_UPLOAD = 128 * 1024;
// Far beyond each limit: the refusal used to stop reading a megabyte past it and cut the connection.
const BIG = 3 * 1024 * 1024;

const cluster = clusterPerTest();

/** A gateway with small limits, and the model "llm" ready on one fake agent. */
async function gateway() {
  const [a] = await cluster.agents({ OMNIGATE_MAX_BODY_BYTES: String(MAX_BODY), OMNIGATE_MAX_UPLOAD_BYTES: String(MAX_UPLOAD) }, ["a"]);
  await cluster.gw.addNode(a!, [{ name: "llm" }]);
  return cluster.gw;
}

const chat = (size: number) => JSON.stringify({ model: "llm", messages: [{ role: "user", content: "x".repeat(size) }] });

describe("refusing a body that is still coming", () => {
  it("lets a client that keeps sending finish its body and read the 413, on a connection that stays usable", async () => {
    const gw = await gateway();
    for (const chunked of [false, true]) {
      const result = await rawUpload(gw.url, {
        path: "/v1/chat/completions",
        headers: { ...gw.auth, "content-type": "application/json" },
        bodyBytes: BIG,
        chunked,
        followUp: "/healthz",
      });
      expect({ chunked, writeError: result.writeError }).toEqual({ chunked, writeError: undefined });
      expect(result.received).toMatch(/^HTTP\/1\.1 413 /);
      expect(result.received).toContain('"code":"payload_too_large"');
      expect(result.reused).toBe(true);
    }
  });

  it("does the same for a 401: the credential is checked before the body, which is dropped", async () => {
    const gw = await gateway();
    const result = await rawUpload(gw.url, { path: "/v1/audio/transcriptions", headers: { "content-type": "multipart/form-data; boundary=x" }, bodyBytes: BIG, followUp: "/healthz" });
    expect(result.writeError).toBeUndefined();
    expect(result.received).toMatch(/^HTTP\/1\.1 401 /);
    expect(result.received).toMatch(/x-request-id: \S+/i);
    expect(result.reused).toBe(true);
  });

  it("answers fetch 413 mid-upload, for a chunked and a declared JSON body over OMNIGATE_MAX_BODY_BYTES", async () => {
    const gw = await gateway();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { ...gw.auth, "content-type": "application/json" },
      body: trickle(Buffer.from(chat(BIG))).body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(OpenAIErrorBody.parse(await res.json()).error).toMatchObject({ code: "payload_too_large", message: expect.stringContaining("OMNIGATE_MAX_BODY_BYTES") });
    const declared = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { ...gw.auth, "content-type": "application/json" }, body: chat(BIG) });
    expect(declared.status).toBe(413);
    expect(declared.headers.get("x-request-id")).toBeTruthy();
  });

  it("answers the openai client 413 for a chat over the limit and an upload over OMNIGATE_MAX_UPLOAD_BYTES, not a connection error", async () => {
    const gw = await gateway();
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.auth.authorization.slice("Bearer ".length), maxRetries: 0, fetch: tricklingFetch().fetch });
    const chatError = await client.chat.completions.create({ model: "llm", messages: [{ role: "user", content: "x".repeat(BIG) }] }).catch((e: unknown) => e);
    expect(chatError).toBeInstanceOf(APIError);
    expect([(chatError as APIError).status, (chatError as APIError).code]).toEqual([413, "payload_too_large"]);
    const file = await toFile(Buffer.alloc(BIG, 1), "long.wav", { type: "audio/wav" });
    const uploadError = await client.audio.transcriptions.create({ model: "llm", file }).catch((e: unknown) => e);
    expect(uploadError).toBeInstanceOf(APIError);
    expect((uploadError as APIError).status).toBe(413);
    expect((uploadError as APIError).message).toContain("OMNIGATE_MAX_UPLOAD_BYTES");
  });
});
