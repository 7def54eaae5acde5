import type { RequestHandler } from "express";
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { NodeModelStatus } from "@omnigate/shared/models";
import type { EngineHealth } from "@omnigate/shared/node-protocol";
import { RequestMetrics, scrapeHandler } from "@omnigate/server-kit/request-metrics";

/** What the agent's scrape-time gauges read: the reconciler's statuses and the engines' health. */
export interface AgentMetricsSources {
  statuses(): readonly NodeModelStatus[];
  engines(): readonly EngineHealth[];
}

/**
 * The node agent's Prometheus metrics. Pushed by the code that knows (`recordDownloadBytes` from
 * the cache, `requests` by the listener and the data plane); model states, in-flight counts and
 * engine health are read from `bind()`'s sources at scrape time, so nothing on a hot path updates
 * them. Labels are bounded: a request's `model` label is a name the agent holds, else "".
 */
export class AgentMetrics {
  readonly registry = new Registry();
  /** The data-plane request metrics (the gateway's have the same names but the prefix). */
  readonly requests: RequestMetrics;
  readonly #downloadBytes: Counter<"repo">;
  #sources: AgentMetricsSources | undefined;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    // Arrow functions below read the sources bound later.
    const sources = (): AgentMetricsSources | undefined => this.#sources;
    this.requests = new RequestMetrics(this.registry, "omnigate_agent", " at the agent", { firstToken: false });
    this.#downloadBytes = new Counter({
      name: "omnigate_agent_download_bytes_total",
      help: "Bytes downloaded from the Hugging Face Hub into the cache, by repository.",
      labelNames: ["repo"],
      registers,
    });
    new Gauge({
      name: "omnigate_agent_model_state",
      help: "1 for each assigned model's current state.",
      labelNames: ["model", "state"],
      registers,
      collect() {
        this.reset();
        for (const s of sources()?.statuses() ?? []) this.set({ model: s.name, state: s.state }, 1);
      },
    });
    new Gauge({
      name: "omnigate_agent_in_flight_requests",
      help: "Requests the agent has in flight per model.",
      labelNames: ["model"],
      registers,
      collect() {
        this.reset();
        for (const s of sources()?.statuses() ?? []) this.set({ model: s.name }, s.in_flight);
      },
    });
    new Gauge({
      name: "omnigate_agent_model_capacity",
      help: "Requests the model's engine runs at once (llama.cpp slots).",
      labelNames: ["model"],
      registers,
      collect() {
        this.reset();
        for (const s of sources()?.statuses() ?? []) this.set({ model: s.name }, s.capacity);
      },
    });
    new Gauge({
      name: "omnigate_agent_model_ready",
      help: "1 when the model is ready to serve on this node, else 0.",
      labelNames: ["model"],
      registers,
      collect() {
        this.reset();
        for (const s of sources()?.statuses() ?? []) this.set({ model: s.name }, s.state === "ready" ? 1 : 0);
      },
    });
    new Gauge({
      name: "omnigate_agent_engine_up",
      help: "1 while the model's engine process is up.",
      labelNames: ["model", "runtime"],
      registers,
      collect() {
        this.reset();
        for (const e of sources()?.engines() ?? []) this.set({ model: e.model, runtime: e.runtime }, e.up ? 1 : 0);
      },
    });
    new Gauge({
      name: "omnigate_agent_engine_restarts",
      help: "Restarts of the model's engine since it was first started.",
      labelNames: ["model", "runtime"],
      registers,
      collect() {
        this.reset();
        for (const e of sources()?.engines() ?? []) this.set({ model: e.model, runtime: e.runtime }, e.restarts);
      },
    });
  }

  /** Where model states and engine health come from (the agent wires its reconciler and model server). */
  bind(sources: AgentMetricsSources): void {
    this.#sources = sources;
  }

  /** Bytes written into the cache by a download of the Hub repository `repo` (per chunk or per file). */
  recordDownloadBytes(bytes: number, repo = ""): void {
    if (bytes > 0) this.#downloadBytes.inc({ repo }, bytes);
  }

  /** `GET /metrics` in the Prometheus text format. */
  readonly handler: RequestHandler = scrapeHandler(this.registry);
}

/** The agent process's metrics (one registry per process). */
export const agentMetrics = new AgentMetrics();

/** For the cache: bytes downloaded into it. */
export function recordDownloadBytes(bytes: number, repo = ""): void {
  agentMetrics.recordDownloadBytes(bytes, repo);
}

/** For the agent app: `app.get("/metrics", metricsHandler)`. */
export const metricsHandler: RequestHandler = agentMetrics.handler;
