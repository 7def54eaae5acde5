import type { RequestHandler } from "express";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { NodeRegistry } from "../nodes/node-registry.js";

/** Where scrape-time gauges read from: nothing on the request path updates them. */
export interface MetricsSources {
  readonly nodes: NodeRegistry;
  /** (runtime_id, model, requests in flight) */
  inFlight(): Iterable<[string, string, number]>;
  /** (model, requests waiting) */
  queueDepths(): Iterable<[string, number]>;
}

// Seconds; from a cached embedding (ms) to a CPU image generation (minutes).
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * The gateway's Prometheus metrics, in a registry of its own (two gateways in one test process do
 * not collide). Labels are bounded: `model` is a registered model name or "" for requests that
 * named none (a hostile 10 KB name never becomes a label), `endpoint` a capability.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<"model" | "endpoint" | "status">;
  readonly #duration: Histogram<"model" | "endpoint">;
  readonly #ttft: Histogram<"model" | "endpoint">;
  readonly #upstreamFailures: Counter<"node" | "reason">;
  readonly #failovers: Counter<"model">;
  readonly #ejections: Counter<"node">;
  readonly #nodeRequests: Counter<"node">;
  readonly #nodeChildren = new Map<string, Counter.Internal>();
  /** Labelled children by joined label values: the hot path skips prom-client's label hashing. */
  readonly #requestChildren = new Map<string, Counter.Internal>();
  readonly #durationChildren = new Map<string, Histogram.Internal<"model" | "endpoint">>();
  readonly #ttftChildren = new Map<string, Histogram.Internal<"model" | "endpoint">>();

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#requests = new Counter({
      name: "omnigate_requests_total",
      help: "Data-plane requests answered, by model, endpoint (capability) and HTTP status.",
      labelNames: ["model", "endpoint", "status"],
      registers,
    });
    this.#duration = new Histogram({
      name: "omnigate_request_duration_seconds",
      help: "Time from request arrival to the last byte of the answer.",
      labelNames: ["model", "endpoint"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#ttft = new Histogram({
      name: "omnigate_time_to_first_byte_seconds",
      help: "Time from request arrival to the first body byte sent back (time to first token when streaming).",
      labelNames: ["model", "endpoint"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#upstreamFailures = new Counter({
      name: "omnigate_upstream_failures_total",
      help: "Forwarding failures by node and reason (refused, reset, timeout, http_5xx, stream).",
      labelNames: ["node", "reason"],
      registers,
    });
    this.#failovers = new Counter({
      name: "omnigate_failovers_total",
      help: "Requests re-sent to another node after a failure before the first byte.",
      labelNames: ["model"],
      registers,
    });
    this.#ejections = new Counter({
      name: "omnigate_node_ejections_total",
      help: "Outlier-detection ejections by node.",
      labelNames: ["node"],
      registers,
    });
    this.#nodeRequests = new Counter({
      name: "omnigate_node_requests_total",
      help: "Requests each node answered (its answer, or a stream it started), by node.",
      labelNames: ["node"],
      registers,
    });
    new Gauge({
      name: "omnigate_in_flight_requests",
      help: "Requests this gateway has in flight, by node and model.",
      labelNames: ["node", "model"],
      registers,
      collect() {
        this.reset();
        for (const [node, model, n] of sources.inFlight()) this.set({ node, model }, n);
      },
    });
    new Gauge({
      name: "omnigate_queue_depth",
      help: "Requests waiting for a free slot, by model.",
      labelNames: ["model"],
      registers,
      collect() {
        this.reset();
        for (const [model, n] of sources.queueDepths()) this.set({ model }, n);
      },
    });
    new Gauge({
      name: "omnigate_node_up",
      help: "1 when the node is online (heartbeats arrive), else 0.",
      labelNames: ["node", "hostname"],
      registers,
      collect() {
        this.reset();
        for (const n of sources.nodes.list()) {
          this.set({ node: n.runtimeId, hostname: n.registration.hostname }, sources.nodes.isOnline(n) ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: "omnigate_node_ejected",
      help: "1 while outlier detection keeps traffic off the node.",
      labelNames: ["node"],
      registers,
      collect() {
        this.reset();
        for (const n of sources.nodes.list()) this.set({ node: n.runtimeId }, sources.nodes.isEjected(n) ? 1 : 0);
      },
    });
    new Gauge({
      name: "omnigate_node_ready_models",
      help: "Models the node reports ready (0 when it is offline).",
      labelNames: ["node"],
      registers,
      collect() {
        this.reset();
        for (const n of sources.nodes.list()) {
          let ready = 0;
          if (sources.nodes.isOnline(n)) for (const m of n.models.values()) if (m.state === "ready") ready++;
          this.set({ node: n.runtimeId }, ready);
        }
      },
    });
    new Gauge({
      name: "omnigate_model_state",
      help: "1 for the state each online node reports for each model it is assigned.",
      labelNames: ["node", "model", "state"],
      registers,
      collect() {
        this.reset();
        for (const n of sources.nodes.online()) {
          for (const m of n.models.values()) this.set({ node: n.runtimeId, model: m.name, state: m.state }, 1);
        }
      },
    });
  }

  /** One answered request. `ttftS` is undefined when no body byte went out. */
  request(model: string, endpoint: string, status: number, durationS: number, ttftS: number | undefined): void {
    const key = `${model}\u0000${endpoint}`;
    const statusKey = `${key}\u0000${status}`;
    let counter = this.#requestChildren.get(statusKey);
    if (!counter) this.#requestChildren.set(statusKey, (counter = this.#requests.labels(model, endpoint, String(status))));
    counter.inc();
    let duration = this.#durationChildren.get(key);
    if (!duration) this.#durationChildren.set(key, (duration = this.#duration.labels(model, endpoint)));
    duration.observe(durationS);
    if (ttftS !== undefined) {
      let ttft = this.#ttftChildren.get(key);
      if (!ttft) this.#ttftChildren.set(key, (ttft = this.#ttft.labels(model, endpoint)));
      ttft.observe(ttftS);
    }
  }

  /** A node answered a request (the attempt that reached the client). */
  nodeAnswered(node: string): void {
    let child = this.#nodeChildren.get(node);
    if (!child) this.#nodeChildren.set(node, (child = this.#nodeRequests.labels(node)));
    child.inc();
  }

  upstreamFailure(node: string, reason: string): void {
    this.#upstreamFailures.inc({ node, reason });
  }

  failover(model: string): void {
    this.#failovers.inc({ model });
  }

  ejection(node: string): void {
    this.#ejections.inc({ node });
  }

  /** `GET /metrics` in the Prometheus text format. */
  readonly handler: RequestHandler = (_req, res, next) => {
    this.registry
      .metrics()
      .then((text) => {
        res.setHeader("Content-Type", this.registry.contentType);
        res.end(text);
      })
      .catch(next);
  };
}
