import express, { type ErrorRequestHandler, type RequestHandler } from "express";
import { ApiError } from "@omnigate/shared/errors";
import { errorResponder, notFound, sendApiError } from "@omnigate/server-kit/respond";
import type { AgentDeleteResponse } from "@omnigate/shared/node-protocol";
import { ModelName } from "@omnigate/shared/validation";
import type { Logger } from "../logger.js";
import type { DeleteResult } from "../reconciler/reconciler.js";
import type { NodeSecretAuth } from "./auth.js";

export interface AgentAppDeps {
  readonly logger: Logger;
  readonly auth: NodeSecretAuth;
  /** `DELETE /api/models/{name}`: stop the engine, remove the cache entries (the reconciler). */
  deleteModel(name: string): Promise<DeleteResult>;
  /** What `/healthz` shows besides liveness. */
  health(): { runtime_id: string; registered: boolean };
  /**
   * `GET /metrics` (Prometheus text): behind the node secret, or the optional scrape token's digest
   * (`scrapeTokenDigest(OMNIGATE_AGENT_METRICS_TOKEN)`) so a Prometheus need not hold the secret.
   */
  readonly metrics?: { readonly handler: RequestHandler; readonly scrapeToken?: Buffer };
}

/**
 * The agent's HTTP API besides inference (the listener hands the nine inference endpoints to the
 * data plane before the app sees them). Only the gateway calls it (node secret), except `/healthz`.
 */
export function createAgentApp(deps: AgentAppDeps): express.Express {
  const log = deps.logger.child({ component: "agent-api" });
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok", ...deps.health() });
  });

  // Before the node-secret middleware: the scrape token is accepted here and nowhere else.
  if (deps.metrics) app.get("/metrics", deps.auth.middleware(deps.metrics.scrapeToken), deps.metrics.handler);

  app.use(deps.auth.middleware());

  // Names may contain '/': the wildcard takes every segment (the gateway may also send it as %2F).
  app.delete("/api/models/*name", async (req, res) => {
    const segments = (req.params as { name: string | string[] }).name;
    const name = Array.isArray(segments) ? segments.join("/") : segments;
    const parsed = ModelName.safeParse(name);
    if (!parsed.success) {
      sendApiError(res, new ApiError("invalid_request", `Invalid model name: ${parsed.error.issues[0]?.message ?? "bad name"}.`, "name"));
      return;
    }
    const result = await deps.deleteModel(parsed.data);
    if (result.error) {
      log.error({ model: parsed.data, error: result.error }, "delete incomplete");
      sendApiError(res, new ApiError("internal_error", `Model '${parsed.data}' stopped, but ${result.error}. The agent retries with its next heartbeat.`));
      return;
    }
    const body: AgentDeleteResponse = { name: parsed.data, deleted: result.deleted };
    res.json(body);
  });

  // Nothing else: an OpenAI-shaped 404, and every error through the agent's one error responder.
  const respond = errorResponder({ log, limits: { who: "this node" } });
  app.use((req, res) => respond(res, notFound(req.method, req.path, "The node agent serves only the gateway.")));
  const onError: ErrorRequestHandler = (err, _req, res, _next) => respond(res, err);
  app.use(onError);
  return app;
}
