import type { RequestHandler } from "express";
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { RequestMetrics, scrapeHandler } from "@omnigate/server-kit/request-metrics";
import type { NodeRegistry } from "../nodes/node-registry.js";
import { registerTlsMetrics, type TlsMetricsSources } from "./tls-metrics.js";

/** Where scrape-time gauges read from: nothing on the request path updates them. */
export interface MetricsSources extends TlsMetricsSources {
  readonly nodes: NodeRegistry;
  /** (runtime_id, model, requests in flight) */
  inFlight(): Iterable<[string, string, number]>;
  /** (model, requests waiting) */
  queueDepths(): Iterable<[string, number]>;
}

/**
 * The gateway's Prometheus metrics, in a registry of its own (two gateways in one test process do
 * not collide). Labels are bounded: `model` is a registered model name or "" for requests that
 * named none (a hostile 10 KB name never becomes a label), `endpoint` a capability.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  /** The data-plane request metrics, the one place a request's figures go (the agent's have the same names but the prefix). */
  readonly requests: RequestMetrics;
  readonly #upstreamFailures: Counter<"node" | "reason">;
  readonly #failovers: Counter<"model">;
  readonly #ejections: Counter<"node">;
  /** Requests each node answered: counted here per request, read by the counter at scrape time. */
  readonly #answeredBy = new Map<string, number>();

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new RequestMetrics(this.registry, "omnigate", "", { firstToken: true });
    registerTlsMetrics(this.registry, sources);
    this.#upstreamFailures = new Counter({
      name: "omnigate_upstream_failures_total",
      help: "Forwarding failures by node and reason (refused, reset, timeout, http_5xx, unavailable, stream, tls, error).",
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
    const answeredBy = this.#answeredBy;
    new Counter({
      name: "omnigate_node_requests_total",
      help: "Requests each node answered (its answer, or a stream it started), by node.",
      labelNames: ["node"],
      registers,
      collect() {
        this.reset();
        for (const [node, n] of answeredBy) this.inc({ node }, n);
      },
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

  /** A node answered a request (the attempt that reached the client). */
  nodeAnswered(node: string): void {
    this.#answeredBy.set(node, (this.#answeredBy.get(node) ?? 0) + 1);
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
  readonly handler: RequestHandler = scrapeHandler(this.registry);
}
