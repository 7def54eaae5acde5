import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Router, type RequestHandler } from "express";
import type { GatewayConfig } from "../config.js";
import { ApiError } from "../errors/api-error.js";
import type { Logger } from "../logger.js";
import { GatewayMetrics } from "../metrics/gateway-metrics.js";
import type { NodeEntry, NodeRegistry } from "../nodes/node-registry.js";
import { WaitQueues } from "../routing/queue.js";
import type { ModelLookup, PlacementLookup } from "../routing/readiness.js";
import { OutlierDetector } from "../routing/scheduler-outlier.js";
import { Scheduler, type Lease } from "../routing/scheduler.js";
import { AgentPools } from "./agent-pools.js";
import { BodyBudget } from "./body-budget.js";
import { ENDPOINTS, type EndpointSpec } from "./endpoints.js";
import { Forwarder, agentAddress } from "./forward.js";
import { parseJsonRequest, parseMultipartRequest, type BodyLimits } from "./parse-request.js";
import { ClientGoneError } from "./read-body.js";
import { respondError } from "./respond-error.js";
import type { ProxyExchange } from "./upstream-attempt.js";

export interface DataPlaneDeps {
  readonly models: ModelLookup;
  readonly nodes: NodeRegistry;
  readonly placement: PlacementLookup;
  readonly config: GatewayConfig;
  readonly logger: Logger;
  /**
   * The credential check for `handle()`, where no Express middleware runs first: an ApiError
   * (401/403) refuses the request. Without it `handle()` serves nothing. The Express `router`
   * relies on the app's auth middleware instead.
   */
  readonly authorize?: (req: IncomingMessage) => ApiError | undefined;
}

export interface DataPlane {
  /** Mounted at the app root behind client API-key auth: serves the OpenAI inference endpoints. */
  readonly router: Router;
  /**
   * The same endpoints without Express (its routing and request decoration cost more per request
   * than the whole proxy hop), for the HTTP server to try before the app:
   * `createServer((req, res) => dataPlane.handle(req, res) || app(req, res))`.
   * Serves a POST to one of the nine endpoints (after `authorize`) and returns true; returns false
   * for anything else, and always when no `authorize` was given.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** `GET /metrics` (Prometheus text); the app decides where and behind what to mount it. */
  readonly metrics: RequestHandler;
  /** Requests this gateway has in flight on the node for the model (placement retires idle replicas). */
  inFlight(runtimeId: string, model: string): number;
  /** Waiting requests re-check readiness (the placement changed). */
  wake(): void;
  /** Ends pooled connections and waiting requests. */
  close(): Promise<void>;
}

/** How long close() lets running requests finish before cutting them. */
const CLOSE_GRACE_MS = 5_000;

// A client's id is kept when it is a plain token; anything else (or none) gets a fresh UUID.
const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
}

class ShuttingDownError extends ApiError {
  override name = "ShuttingDownError";
  constructor() {
    super("shutting_down", "The gateway is shutting down. Retry in a few seconds.", null, { "Retry-After": "5" });
  }
}

/**
 * The OpenAI data plane (issue 5): each endpoint reads just enough of the body to route it (model,
 * stream), checks readiness, takes a slot from the scheduler (or waits in the bounded per-model
 * queue) and forwards the original bytes to the chosen agent, failing over before the first byte.
 */
export function createDataPlane(deps: DataPlaneDeps): DataPlane {
  const { config, nodes, models } = deps;
  const log = deps.logger.child({ component: "proxy" });
  let closing = false;

  const queues = new WaitQueues<Lease>({ max: config.OMNIGATE_QUEUE_MAX, timeoutMs: config.OMNIGATE_QUEUE_TIMEOUT_MS });
  const ejectionTimers = new Set<NodeJS.Timeout>();
  const outliers = new OutlierDetector({
    failures: config.OMNIGATE_OUTLIER_FAILURES,
    baseEjectionMs: config.OMNIGATE_OUTLIER_BASE_EJECTION_MS,
    maxEjectionMs: config.OMNIGATE_OUTLIER_MAX_EJECTION_MS,
    onEject: (node, until, failures) => {
      log.warn({ node: node.runtimeId, until: new Date(until).toISOString(), failures, ejections: node.ejections }, "node ejected");
      metrics.ejection(node.runtimeId);
      // Requests waiting for a slot may use the node again once its cool-down ends.
      const timer = setTimeout(() => {
        ejectionTimers.delete(timer);
        queues.drainAll();
      }, until - Date.now() + 1);
      timer.unref();
      ejectionTimers.add(timer);
    },
  });
  const scheduler = new Scheduler({ isEjected: outliers.isEjected, onSlotFreed: (model) => queues.drain(model) });
  const pools = new AgentPools({
    connections: config.OMNIGATE_PROXY_CONNECTIONS,
    connectTimeoutMs: config.OMNIGATE_PROXY_CONNECT_TIMEOUT_MS,
  });
  const metrics = new GatewayMetrics({
    nodes,
    inFlight: () => scheduler.entries(),
    queueDepths: () => queues.depths(),
  });
  const forwarder = new Forwarder({
    models,
    nodes,
    placement: deps.placement,
    scheduler,
    queues,
    outliers,
    pools,
    metrics,
    log,
    maxAttempts: config.OMNIGATE_PROXY_MAX_ATTEMPTS,
    timeouts: { firstByteMs: config.OMNIGATE_PROXY_FIRST_BYTE_TIMEOUT_MS, idleMs: config.OMNIGATE_PROXY_IDLE_TIMEOUT_MS },
  });
  const limits: BodyLimits = { maxBodyBytes: config.OMNIGATE_MAX_BODY_BYTES, maxUploadBytes: config.OMNIGATE_MAX_UPLOAD_BYTES };
  const bodies = new BodyBudget(config.OMNIGATE_MAX_BUFFERED_BYTES);

  // A node registered, reported or went offline: waiters re-check, pools of vanished agents close.
  // Pools are re-checked only when some node's address changed (a registration), not on every
  // heartbeat: that scan is O(nodes), and a fleet of thousands heartbeats a thousand times a second.
  const origins = new Map<string, string>();
  const onChange = (entry: NodeEntry): void => {
    queues.drainAll();
    const origin = agentAddress(entry).origin;
    if (origins.get(entry.runtimeId) === origin && origins.size === nodes.size) return;
    origins.clear();
    for (const n of nodes.list()) origins.set(n.runtimeId, agentAddress(n).origin);
    pools.retain(new Set(origins.values()));
  };
  nodes.on("change", onChange);

  const clientGone = new ClientGoneError();

  /** One request to `spec`'s endpoint; `fail` answers an error when nothing was sent yet. */
  async function serve(spec: EndpointSpec, req: IncomingMessage, res: ServerResponse, fail: (err: unknown) => void): Promise<void> {
    const x: ProxyExchange = {
      id: requestIdOf(req),
      res,
      started: performance.now(),
      clientGone: false,
      firstByteAt: undefined,
      firstTokenAt: undefined,
      abortUpstream: undefined,
      cancelWait: undefined,
    };
    let model = "";
    // The body stays in memory until the request ends (a failover re-sends it): counted until then.
    const account = bodies.account();
    res.setHeader("X-Request-Id", x.id);
    res.on("close", () => {
      account.release();
      if (!res.writableFinished) {
        x.clientGone = true;
        x.abortUpstream?.(clientGone);
        x.cancelWait?.(clientGone);
      }
      const status = x.clientGone && !res.headersSent ? 499 : res.statusCode;
      const now = performance.now();
      const since = (t: number | undefined) => (t === undefined ? undefined : (t - x.started) / 1000);
      metrics.request(model, spec.capability, status, (now - x.started) / 1000, since(x.firstByteAt), since(x.firstTokenAt));
      log.debug({ request_id: x.id, model, endpoint: spec.path, status, ms: Math.round(now - x.started) }, "request done");
    });
    if (closing) return fail(new ShuttingDownError());
    try {
      const options = { ...limits, account };
      const parsed = spec.body === "json" ? await parseJsonRequest(req, spec, options) : await parseMultipartRequest(req, res, spec, options);
      // Only registered names become a metrics label: a hostile name never does.
      if (models.get(parsed.model)) model = parsed.model;
      await forwarder.forward(x, spec, parsed);
    } catch (err) {
      if (x.clientGone || err instanceof ClientGoneError) return;
      fail(err);
    }
  }

  const router = Router();
  for (const spec of ENDPOINTS) router.post(spec.path, (req, res, next) => void serve(spec, req, res, next));

  const byPath = new Map(ENDPOINTS.map((spec) => [spec.path, spec]));
  const authorize = deps.authorize;
  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (!authorize || req.method !== "POST" || !req.url) return false;
    const q = req.url.indexOf("?");
    const spec = byPath.get(q < 0 ? req.url : req.url.slice(0, q));
    if (!spec) return false;
    const fail = (err: unknown): void => respondError(res, err, log);
    const denied = authorize(req);
    if (denied) {
      // The body is not wanted: drop it so the connection stays usable for the next request.
      req.resume();
      fail(denied);
      return true;
    }
    void serve(spec, req, res, fail);
    return true;
  }

  let closed: Promise<void> | undefined;
  return {
    router,
    handle,
    metrics: metrics.handler,
    inFlight: (runtimeId, model) => scheduler.inFlight(runtimeId, model),
    wake: () => queues.drainAll(),
    close() {
      closed ??= (async () => {
        // Order: refuse new requests → refuse the waiting ones → let running ones finish (bounded).
        closing = true;
        nodes.off("change", onChange);
        for (const t of ejectionTimers) clearTimeout(t);
        ejectionTimers.clear();
        queues.close(new ShuttingDownError());
        await pools.close(CLOSE_GRACE_MS);
      })();
      return closed;
    },
  };
}
