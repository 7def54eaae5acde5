import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestHandler } from "express";
import { endpointOf, type EndpointSpec } from "@omnigate/shared/endpoints";
import { ClientGoneError } from "@omnigate/server-kit/read-body";
import { errorResponder } from "@omnigate/server-kit/respond";
import { requestIdOf } from "@omnigate/server-kit/request-id";
import type { ApiError } from "@omnigate/shared/errors";
import type { Capability } from "@omnigate/shared/runtimes";
import { ShuttingDownError } from "../errors/api-error.js";
import type { Logger } from "../logger.js";
import { GatewayMetrics } from "../metrics/gateway-metrics.js";
import type { StatsWindow } from "../metrics/stats-window.js";
import type { NodeEntry, NodeRegistry } from "../nodes/node-registry.js";
import { WaitQueues } from "../scheduling/queue.js";
import type { PlacementLookup } from "../scheduling/readiness.js";
import type { ModelLookup } from "../store/model-store.js";
import type { ClusterBus, ClusterMessage } from "../store/store-contract.js";
import { OutlierDetector } from "../scheduling/scheduler-outlier.js";
import { Scheduler, type Lease } from "../scheduling/scheduler.js";
import type { AgentConnector } from "../tls/agent-connector.js";
import { AgentPools } from "./agent-pools.js";
import { BodyBudget } from "./body-budget.js";
import { Forwarder, agentAddress } from "./forward.js";
import type { ProxyConfig } from "./proxy-env.js";
import { parseJsonRequest, parseMultipartRequest, type BodyLimits } from "./parse-request.js";
import { ProxyExchange } from "./upstream-attempt.js";

export interface DataPlaneDeps {
  readonly models: ModelLookup;
  readonly nodes: NodeRegistry;
  readonly placement: PlacementLookup;
  readonly config: ProxyConfig;
  readonly logger: Logger;
  /** The credential check (client key or admin key): an ApiError (401/403) refuses the request. */
  readonly authorize: (req: IncomingMessage) => ApiError | undefined;
  /** Where ejections are told to (and heard from) the other gateways; unset = kept to this gateway. */
  readonly ejections?: Pick<ClusterBus, "publish" | "on" | "off">;
  /** Opens connections to https agents (mutual TLS). */
  readonly agentConnector: Pick<AgentConnector, "connect">;
  /** For /metrics: the gateway's own certificates and when they expire (Unix ms). */
  readonly certificateExpiries?: () => Iterable<[string, number]>;
  /** The in-memory window behind GET /api/stats; told of every answered request. */
  readonly stats?: StatsWindow;
}

export interface DataPlane {
  /**
   * The one entrance of inference: the gateway's HTTP server offers every request here first, and
   * hands it to the Express app only when this returns false (Express's routing and request
   * decoration cost more per request than the whole proxy hop):
   * `createServer((req, res) => dataPlane.handle(req, res) || app(req, res))`.
   * Serves a POST to one of the nine endpoints (after `authorize`) and returns true.
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

/**
 * The OpenAI data plane (issue 5): each endpoint reads just enough of the body to route it (model,
 * stream), checks readiness, takes a slot from the scheduler (or waits in the bounded per-model
 * queue) and forwards the original bytes to the chosen agent, failing over before the first byte.
 */
export function createDataPlane(deps: DataPlaneDeps): DataPlane {
  const { config, nodes, models } = deps;
  const log = deps.logger.child({ component: "proxy" });
  const debug = log.isLevelEnabled("debug");
  let closing = false;

  const queues = new WaitQueues<Lease>({ max: config.OMNIGATE_QUEUE_MAX, timeoutMs: config.OMNIGATE_QUEUE_TIMEOUT_MS });
  const ejectionTimers = new Set<NodeJS.Timeout>();
  const outliers = new OutlierDetector({
    failures: config.OMNIGATE_OUTLIER_FAILURES,
    baseEjectionMs: config.OMNIGATE_OUTLIER_BASE_EJECTION_MS,
    maxEjectionMs: config.OMNIGATE_OUTLIER_MAX_EJECTION_MS,
    onEject: (node, until, failures, last) => {
      log.warn({ node: node.runtimeId, until: new Date(until).toISOString(), failures, ejections: node.ejections }, "node ejected");
      metrics.ejection(node.runtimeId);
      nodes.markEjected(node, `${failures} failed requests in a row (last: ${last})`);
      deps.ejections?.publish({ kind: "eject", node: node.runtimeId, until });
      wakeAt(node, until);
    },
  });
  // Requests waiting for a slot may use the node again once its cool-down ends.
  const wakeAt = (node: NodeEntry, until: number) => {
    const timer = setTimeout(() => {
      ejectionTimers.delete(timer);
      nodes.ejectionEnded(node);
      queues.drainAll();
    }, until - Date.now() + 1);
    timer.unref();
    ejectionTimers.add(timer);
  };
  // Another gateway ejected a node: what fails for it likely fails here too (engine down, box overloaded).
  const onMessage = (message: ClusterMessage) => {
    if (message.kind !== "eject") return;
    const node = nodes.get(message.node);
    if (!node || (node.ejectedUntil ?? 0) >= message.until || message.until <= Date.now()) return;
    node.ejectedUntil = message.until;
    log.info({ node: node.runtimeId, until: new Date(message.until).toISOString() }, "node ejected by another gateway");
    nodes.markEjected(node, "failed requests in a row through another gateway");
    wakeAt(node, message.until);
  };
  deps.ejections?.on("message", onMessage);
  const scheduler = new Scheduler({ isEjected: outliers.isEjected, onSlotFreed: (model) => queues.drain(model) });
  const pools = new AgentPools({
    connections: config.OMNIGATE_PROXY_CONNECTIONS,
    connectTimeoutMs: config.OMNIGATE_PROXY_CONNECT_TIMEOUT_MS,
    connectTls: deps.agentConnector.connect,
  });
  const metrics = new GatewayMetrics({
    nodes,
    certificateExpiries: deps.certificateExpiries ?? (() => []),
    inFlight: () => scheduler.entries(),
    queueDepths: () => queues.depths(),
  });
  const stats = deps.stats;
  // The endpoint a request is recorded under is its capability (the series' label).
  if (stats) metrics.requests.observe((_model, endpoint, status, durationS, _ttfbS, ttftS) => stats.record(endpoint as Capability, status, durationS * 1000, ttftS === undefined ? undefined : ttftS * 1000));
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
  const respond = errorResponder({ log, limits: { who: "the gateway", ...limits } });

  // A node registered, reported or went offline: waiters re-check, pools of vanished agents close.
  // Only an address that changed (or a node forgotten) rescans the nodes: a fleet of thousands
  // heartbeats a thousand times a second, and registers all at once after a gateway restart. A new
  // node needs nothing here: its pool opens on its first request.
  const urls = new Map<string, string>();
  const onChange = (entry: NodeEntry): void => {
    queues.drainAll();
    const url = entry.registration.agent_url;
    const known = urls.get(entry.runtimeId);
    if (known === url && urls.size === nodes.size) return;
    urls.set(entry.runtimeId, url);
    if (known === undefined && urls.size === nodes.size) return;
    urls.clear();
    const origins = new Set<string>();
    for (const n of nodes.list()) {
      urls.set(n.runtimeId, n.registration.agent_url);
      origins.add(agentAddress(n).origin);
    }
    pools.retain(origins);
  };
  nodes.on("change", onChange);
  // A removed node's certificate is revoked: requests in flight to it end now, not when they finish.
  const onDeleted = (node: NodeEntry): void => pools.drop(agentAddress(node).origin);
  nodes.on("deleted", onDeleted);

  const clientGone = new ClientGoneError();

  /** One authorized request to `spec`'s endpoint, its X-Request-Id set. */
  async function serve(spec: EndpointSpec, id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const x = new ProxyExchange(id, res);
    // The body stays in memory until the request ends (a failover re-sends it): counted until then.
    const account = bodies.account();
    res.on("close", () => {
      account.release();
      if (!res.writableFinished) {
        x.clientGone = true;
        x.upstream?.abort(clientGone);
        x.cancelWait?.(clientGone);
      }
      metrics.requests.finish(x, spec.capability, res);
      if (debug) log.debug({ request_id: x.id, model: x.model, endpoint: spec.path, status: res.statusCode, ms: Math.round(performance.now() - x.started) }, "request done");
    });
    if (closing) return respond(res, new ShuttingDownError());
    try {
      const parsed = spec.body === "json" ? await parseJsonRequest(req, spec, limits, account) : await parseMultipartRequest(req, res, spec, limits, account);
      // Only registered names become a metrics label: a hostile name never does.
      if (models.get(parsed.model)) x.model = parsed.model;
      await forwarder.forward(x, spec, parsed);
    } catch (err) {
      if (x.clientGone || err instanceof ClientGoneError) return;
      respond(res, err);
    }
  }

  const authorize = deps.authorize;
  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    const spec = endpointOf(req.method, req.url);
    if (!spec) return false;
    // Every answer carries the id, a refusal too: the client and both logs can name the request.
    const id = requestIdOf(req);
    res.setHeader("X-Request-Id", id);
    const denied = authorize(req);
    if (denied) {
      // The body is not wanted: the answer drops it, bounded (a lingering close).
      respond(res, denied);
      return true;
    }
    void serve(spec, id, req, res);
    return true;
  }

  let closed: Promise<void> | undefined;
  return {
    handle,
    metrics: metrics.handler,
    inFlight: (runtimeId, model) => scheduler.inFlight(runtimeId, model),
    wake: () => queues.drainAll(),
    close() {
      closed ??= (async () => {
        // Order: refuse new requests → refuse the waiting ones → let running ones finish (bounded).
        closing = true;
        nodes.off("change", onChange);
        deps.ejections?.off("message", onMessage);
        nodes.off("deleted", onDeleted);
        for (const t of ejectionTimers) clearTimeout(t);
        ejectionTimers.clear();
        queues.close(new ShuttingDownError());
        await pools.close(CLOSE_GRACE_MS);
      })();
      return closed;
    },
  };
}
