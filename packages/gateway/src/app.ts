import express, { type Express, type RequestHandler } from "express";
import { ApiError } from "@omnigate/shared/errors";
import { errorResponder, sendApiError } from "@omnigate/server-kit/respond";
import type { Dispatcher } from "undici";
import type { GatewayConfig } from "./config.js";
import type { Logger } from "./logger.js";
import type { NodeRegistry } from "./nodes/node-registry.js";
import type { ModelStore } from "./store/model-store.js";
import type { ApiKeyStore } from "./store/key-store.js";
import type { Authenticator } from "./auth/authenticator.js";
import type { NodeAdmin } from "./nodes/node-admin.js";
import type { PlacementController } from "./placement/placement-controller.js";
import type { NodeCertificates } from "./tls/node-certificates.js";
import { ADMIN_ONLY, CLIENT_OR_ADMIN, requireAuth } from "./auth/require-auth.js";
import { ShuttingDownError } from "./errors/api-error.js";
import { errorMiddleware, notFoundHandler } from "./errors/error-middleware.js";
import { modelRoutes } from "./models/model-routes.js";
import { nodeRoutes } from "./nodes/node-routes.js";
import { keyRoutes } from "./keys/key-routes.js";
import type { EventBus } from "./events/event-bus.js";
import { eventRoutes } from "./events/event-routes.js";
import type { StatsWindow } from "./metrics/stats-window.js";
import { toListEntry } from "./models/model-view.js";
import { dashboardRoutes } from "./dashboard/dashboard-routes.js";

export interface AppDeps {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly models: ModelStore;
  readonly keys: ApiKeyStore;
  readonly nodes: NodeRegistry;
  readonly placement: PlacementController;
  readonly admin: NodeAdmin;
  readonly auth: Authenticator;
  /** `GET /metrics` (Prometheus text), from the data plane. */
  readonly metrics: RequestHandler;
  /** Node certificates: issued at registration, renewed by heartbeats, revoked by a removal. */
  readonly nodeCertificates: NodeCertificates;
  /** The cluster CA, served to agents at first contact. */
  readonly clusterCa: { readonly certPem: string; readonly fingerprint: string; readonly notAfter: number };
  /** Calls agents (a model delete): mutual TLS to https ones. */
  readonly agentDispatcher: Dispatcher;
  /** The live event stream the stores and the node registry publish to. */
  readonly events: EventBus;
  /** The request figures behind GET /api/stats. */
  readonly stats: StatsWindow;
  /** The built dashboard served at /; undefined = none. */
  readonly dashboardDir: string | undefined;
  /** True once shutdown began: new requests get 503 shutting_down and the connection closes. */
  readonly isClosing?: () => boolean;
}

/** The gateway's HTTP app. Listens nowhere: main.ts / server.ts do that. */
export function createApp(deps: AppDeps): Express {
  const { config, logger } = deps;
  const app = express();
  app.disable("x-powered-by");
  // Proxies in front of the gateway report the client address; only trust loopback ones.
  app.set("trust proxy", "loopback");

  app.use(accessLog(logger.child({ component: "http" })));
  if (deps.isClosing) app.use(refuseWhileClosing(deps.isClosing));

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  // Only control-plane bodies are parsed here: the data plane reads /v1/* bodies itself, raw, to
  // forward the original bytes (a parser here would consume its stream).
  app.use("/api", requireJsonBody, express.json({ limit: config.OMNIGATE_MAX_BODY_BYTES }));

  app.use(
    modelRoutes({
      models: deps.models,
      nodes: deps.nodes,
      placement: deps.placement,
      auth: deps.auth,
      logger,
      nodeCallTimeoutMs: config.OMNIGATE_NODE_CALL_TIMEOUT_MS,
      agentDispatcher: deps.agentDispatcher,
    }),
  );
  app.use(
    nodeRoutes({
      nodes: deps.nodes,
      placement: deps.placement,
      admin: deps.admin,
      auth: deps.auth,
      logger,
      heartbeatIntervalMs: config.OMNIGATE_HEARTBEAT_INTERVAL_MS,
      certificates: deps.nodeCertificates,
      clusterCa: deps.clusterCa,
    }),
  );
  app.use(keyRoutes({ keys: deps.keys, auth: deps.auth, logger }));
  const admin = requireAuth(deps.auth, ADMIN_ONLY);
  app.use(
    eventRoutes({
      bus: deps.events,
      admin,
      logger,
      snapshot: () => ({
        nodes: deps.nodes.list().map((n) => deps.nodes.view(n)),
        models: deps.models.list().map((m) => toListEntry(m, deps.nodes, deps.placement)),
        keys: deps.keys.list(),
      }),
    }),
  );
  app.get("/api/stats", admin, (_req, res) => {
    res.json(deps.stats.summary());
  });
  // Prometheus text. It names models and nodes, as /v1/models does, so it takes the same
  // credentials: give the scraper a client key (`omnigate keys create prometheus`), not the admin key.
  app.get("/metrics", requireAuth(deps.auth, CLIENT_OR_ADMIN), deps.metrics);

  // Inference never reaches the app: the HTTP server hands the nine endpoints to the data plane
  // (server.ts). What else comes under /v1 (a wrong method or path) needs a credential too.
  app.use("/v1", requireAuth(deps.auth, CLIENT_OR_ADMIN));
  app.use(dashboardRoutes(deps.dashboardDir));

  const respond = errorResponder({ log: logger.child({ component: "http" }), limits: { who: "the gateway", maxBodyBytes: config.OMNIGATE_MAX_BODY_BYTES } });
  app.use(notFoundHandler(respond));
  app.use(errorMiddleware(respond));
  return app;
}

/** One debug line per request; never headers (they carry credentials). */
function accessLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    if (!log.isLevelEnabled("debug")) return next();
    const started = performance.now();
    res.once("finish", () => {
      log.debug({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(performance.now() - started) }, "request");
    });
    next();
  };
}

/** A control-plane body that is not JSON would otherwise surface as "field required" errors. */
const requireJsonBody: RequestHandler = (req, _res, next) => {
  const type = req.headers["content-type"];
  const length = req.headers["content-length"];
  const hasBody = (length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined;
  if (hasBody && (type === undefined || !/^application\/(.+\+)?json\b/i.test(type))) {
    return next(new ApiError("unsupported_media_type", `The admin and node API takes JSON bodies, not '${(type ?? "none").slice(0, 100)}'. Send Content-Type: application/json.`));
  }
  next();
};

function refuseWhileClosing(isClosing: () => boolean): RequestHandler {
  const closing = new ShuttingDownError();
  return (_req, res, next) => {
    if (!isClosing()) return next();
    sendApiError(res, closing);
  };
}
