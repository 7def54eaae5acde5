import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../logger.js";
import type { DeleteResult } from "../reconciler/reconciler.js";
import { createAgentApp } from "./agent-app.js";
import { NodeSecretAuth, scrapeTokenDigest } from "./auth.js";
import { AgentMetrics } from "./metrics.js";
import type { AgentDataPlane } from "./data-plane.js";
import { createAgentServer } from "./listener.js";

const SECRET = "ogn_node-secret-for-tests-0123456789";
let server: Server;
let base: string;
let auth: NodeSecretAuth;
let deleted: string[];
let answer: DeleteResult;

beforeEach(async () => {
  auth = new NodeSecretAuth();
  deleted = [];
  answer = { deleted: true };
  // Stands in for the engines: answers which endpoint it was handed (the real one is tested with them).
  const dataPlane: AgentDataPlane = {
    serve: (spec, req, res) => {
      req.resume();
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ served: spec.capability }));
    },
  };
  const app = createAgentApp({
    logger: createLogger("silent"),
    auth,
    deleteModel: async (name) => {
      deleted.push(name);
      return answer;
    },
    health: () => ({ runtime_id: "rid", registered: auth.hasSecret }),
  });
  server = createAgentServer({ app, auth, dataPlane, requests: new AgentMetrics({ defaultMetrics: false }).requests }).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

interface ErrorJson {
  error: { message: string; code: string; type: string; param: string | null };
}
const errorOf = async (res: Response) => ((await res.json()) as ErrorJson).error;

const call = (path: string, init: RequestInit = {}, secret: string | null = SECRET) =>
  fetch(`${base}${path}`, { ...init, headers: { ...(secret ? { authorization: `Bearer ${secret}` } : {}), ...(init.headers ?? {}) } });

describe("agent API", () => {
  it("answers /healthz without credentials", async () => {
    const res = await call("/healthz", {}, null);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", runtime_id: "rid", registered: false });
  });

  it("refuses everything else before registration, without credentials, and with a wrong secret", async () => {
    const before = await call("/api/models/a", { method: "DELETE" });
    expect(before.status).toBe(401);
    expect((await errorOf(before)).message).toMatch(/not registered/);
    auth.setSecret(SECRET);
    const missing = await call("/v1/embeddings", { method: "POST" }, null);
    expect(missing.status).toBe(401);
    expect(await errorOf(missing)).toMatchObject({ code: "missing_api_key", type: "authentication_error" });
    const wrong = await call("/v1/embeddings", { method: "POST" }, `${SECRET}x`);
    expect(wrong.status).toBe(401);
    expect((await errorOf(wrong)).code).toBe("invalid_api_key");
    // A forgotten node (secret cleared) accepts nothing again.
    auth.setSecret(null);
    expect((await call("/v1/embeddings", { method: "POST" })).status).toBe(401);
    expect(deleted).toEqual([]);
  });

  it("hands the nine endpoints to the data plane behind the node secret, and nothing else", async () => {
    auth.setSecret(SECRET);
    const res = await call("/v1/embeddings?x=1", { method: "POST", body: "{}" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ served: "embedding" });
    // Not one of the nine exact paths: the app's, which knows no such route.
    const slash = await call("/v1/embeddings/", { method: "POST", body: "{}" });
    expect(slash.status).toBe(404);
    expect((await errorOf(slash)).code).toBe("not_found");
    expect((await call("/v1/embeddings")).status).toBe(404);
  });

  it("deletes models whose names contain '/', raw or percent-encoded", async () => {
    auth.setSecret(SECRET);
    const raw = await call("/api/models/org/name-1", { method: "DELETE" });
    expect(raw.status).toBe(200);
    expect(await raw.json()).toEqual({ name: "org/name-1", deleted: true });
    answer = { deleted: false };
    const encoded = await call(`/api/models/${encodeURIComponent("org/name-2")}`, { method: "DELETE" });
    expect(await encoded.json()).toEqual({ name: "org/name-2", deleted: false });
    expect(deleted).toEqual(["org/name-1", "org/name-2"]);
  });

  it("answers 400 for a name that is not a model name, 500 when the cache could not be cleaned", async () => {
    auth.setSecret(SECRET);
    const bad = await call(`/api/models/${encodeURIComponent("a b")}`, { method: "DELETE" });
    expect(bad.status).toBe(400);
    expect(await errorOf(bad)).toMatchObject({ code: "invalid_request", param: "name" });
    answer = { deleted: true, error: "EACCES" };
    const failed = await call("/api/models/m", { method: "DELETE" });
    expect(failed.status).toBe(500);
    expect((await errorOf(failed)).message).toMatch(/EACCES/);
  });

  it("answers unknown endpoints with an OpenAI-shaped 404", async () => {
    auth.setSecret(SECRET);
    const res = await call("/nope");
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toMatchObject({ code: "not_found", type: "not_found_error" });
  });
});

describe("agent API /metrics", () => {
  const TOKEN = "scrape-token-for-tests-0123456789";

  async function metricsApp(scrapeToken: string | undefined): Promise<{ url: string; close: () => Promise<void> }> {
    const metricsAuth = new NodeSecretAuth();
    metricsAuth.setSecret(SECRET);
    const app = createAgentApp({
      logger: createLogger("silent"),
      auth: metricsAuth,
      deleteModel: async () => ({ deleted: true }),
      health: () => ({ runtime_id: "rid", registered: true }),
      metrics: { handler: (_req, res) => void res.type("text/plain").send("m 1\n"), scrapeToken: scrapeTokenDigest(scrapeToken) },
    });
    const s = createAgentServer({ app, auth: metricsAuth, requests: new AgentMetrics({ defaultMetrics: false }).requests }).listen(0, "127.0.0.1");
    await new Promise((r) => s.once("listening", r));
    return {
      url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/metrics`,
      close: async () => {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      },
    };
  }
  const scrape = (url: string, bearer?: string) => fetch(url, bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {});

  it("takes the node secret, or the scrape token when one is configured", async () => {
    const app = await metricsApp(TOKEN);
    try {
      expect(await (await scrape(app.url, SECRET)).text()).toBe("m 1\n");
      expect((await scrape(app.url, TOKEN)).status).toBe(200);
      const none = await scrape(app.url);
      expect(none.status).toBe(401);
      expect((await errorOf(none)).code).toBe("missing_api_key");
      expect((await errorOf(await scrape(app.url, `${TOKEN}x`))).code).toBe("invalid_api_key");
    } finally {
      await app.close();
    }
  });

  it("takes only the node secret when no scrape token is configured", async () => {
    const app = await metricsApp(undefined);
    try {
      expect((await scrape(app.url, SECRET)).status).toBe(200);
      expect((await scrape(app.url, TOKEN)).status).toBe(401);
    } finally {
      await app.close();
    }
  });
});
