import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, Histogram, type Registry } from "prom-client";
import { LabelledChildren, requestMetricDefinitions } from "@omnigate/shared/metrics";

/**
 * The data-plane request metrics both apps keep, under their prefix ("omnigate" on the gateway,
 * "omnigate_agent" on an agent): answered requests by model, endpoint and status, and the time to
 * the last byte, to the first byte and (where the app sees tokens) to the first token. Labelled
 * children are resolved once per label set, not per request.
 */
export class RequestMetrics {
  readonly #requests: LabelledChildren<Counter.Internal>;
  readonly #duration: LabelledChildren<Histogram.Internal<"model" | "endpoint">>;
  readonly #ttfb: LabelledChildren<Histogram.Internal<"model" | "endpoint">>;
  readonly #ttft: LabelledChildren<Histogram.Internal<"model" | "endpoint">> | undefined;

  /** `where` names the process in the help text (" at the agent", or ""). */
  constructor(registry: Registry, prefix: string, where: string, options: { readonly firstToken: boolean }) {
    const registers = [registry];
    const defs = requestMetricDefinitions(prefix, where);
    const requests = new Counter({ ...defs.requests, labelNames: [...defs.requests.labelNames], registers });
    const duration = new Histogram({ ...defs.duration, labelNames: [...defs.duration.labelNames], registers });
    const ttfb = new Histogram({ ...defs.ttfb, labelNames: [...defs.ttfb.labelNames], registers });
    this.#requests = new LabelledChildren((...l) => requests.labels(...l));
    this.#duration = new LabelledChildren((...l) => duration.labels(...l));
    this.#ttfb = new LabelledChildren((...l) => ttfb.labels(...l));
    if (options.firstToken) {
      const ttft = new Histogram({ ...defs.ttft, labelNames: [...defs.ttft.labelNames], registers });
      this.#ttft = new LabelledChildren((...l) => ttft.labels(...l));
    }
  }

  /** One answered request; times in seconds, undefined when the answer never got that far. */
  record(model: string, endpoint: string, status: number, durationS: number, ttfbS?: number, ttftS?: number): void {
    this.#requests.get(model, endpoint, String(status)).inc();
    this.#duration.get(model, endpoint).observe(durationS);
    if (ttfbS !== undefined) this.#ttfb.get(model, endpoint).observe(ttfbS);
    if (ttftS !== undefined) this.#ttft?.get(model, endpoint).observe(ttftS);
  }
}

/** `GET /metrics` of `registry` in the Prometheus text format (a handler Express mounts as is). */
export function scrapeHandler(registry: Registry): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  return (_req, res, next) => {
    registry
      .metrics()
      .then((text) => {
        res.setHeader("Content-Type", registry.contentType);
        res.end(text);
      })
      .catch(next);
  };
}
