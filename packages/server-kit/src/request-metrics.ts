import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, type Metric, type Registry } from "prom-client";
import { LATENCY_BUCKETS, requestMetricDefinitions, type RequestMetricDefinition } from "@omnigate/shared/metrics";

const BOUNDS = LATENCY_BUCKETS;

/** Observations of one latency in LATENCY_BUCKETS, as plain counts (Prometheus reads them cumulated). */
export class LatencyHistogram {
  /** Observations per bucket, not cumulated; one past the last bound is counted in `count` only. */
  readonly buckets = new Float64Array(BOUNDS.length);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < BOUNDS.length && seconds > BOUNDS[i]!) i++;
    if (i < BOUNDS.length) this.buckets[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

/** What one model answered on one endpoint: requests by HTTP status, and their latencies. */
export class RequestSeries {
  readonly statuses = new Map<number, number>();
  readonly duration = new LatencyHistogram();
  readonly ttfb = new LatencyHistogram();
  readonly ttft = new LatencyHistogram();

  constructor(
    readonly model: string,
    readonly endpoint: string,
  ) {}

  record(status: number, durationS: number, ttfbS: number | undefined, ttftS: number | undefined): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    this.duration.observe(durationS);
    if (ttfbS !== undefined) this.ttfb.observe(ttfbS);
    if (ttftS !== undefined) this.ttft.observe(ttftS);
  }
}

/** One data-plane request as its metrics see it, from its arrival to the close of its answer. */
export class RequestTiming {
  /** performance.now() at arrival. */
  readonly started = performance.now();
  /** The model label: a name the app serves (a hostile name never becomes a label), else "". */
  model = "";
  /** performance.now() when the first body byte went out; unset for an answer sent whole at its end. */
  firstByteAt: number | undefined = undefined;
  /** performance.now() of the first token (a stream's first data event), where the app sees tokens. */
  firstTokenAt: number | undefined = undefined;
}

type Latency = "duration" | "ttfb" | "ttft";

/**
 * A histogram prom-client's registry renders at scrape time from the series, in the text its own
 * Histogram renders (`_bucket{le,model,endpoint}`, `_sum`, `_count`): what `get()` returns is the
 * registry's whole contract with a metric.
 */
class SeriesHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly name: string;
  readonly help: string;

  constructor(
    definition: RequestMetricDefinition<string>,
    private readonly latency: Latency,
    private readonly series: () => Iterable<RequestSeries>,
  ) {
    this.name = definition.name;
    this.help = definition.help;
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { metricName: string; labels: Record<string, string | number>; value: number }[] }> {
    const values = [];
    for (const s of this.series()) {
      const h = s[this.latency];
      // As prom-client's: a series shows once it has an observation.
      if (h.count === 0) continue;
      const labels = { model: s.model, endpoint: s.endpoint };
      let cumulated = 0;
      for (let i = 0; i < BOUNDS.length; i++) {
        cumulated += h.buckets[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: BOUNDS[i]!, ...labels }, value: cumulated });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { le: "+Inf", ...labels }, value: h.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: h.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: h.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The series are the data: `registry.resetMetrics()` leaves them. */
  reset(): void {}
}

/** Another reader of each request's figures as they are recorded; times in seconds. */
export type RequestObserver = (model: string, endpoint: string, status: number, durationS: number, ttfbS: number | undefined, ttftS: number | undefined) => void;

/**
 * The data-plane request metrics both apps keep, under their prefix ("omnigate" on the gateway,
 * "omnigate_agent" on an agent): answered requests by model, endpoint and status, and the time to
 * the last byte, to the first byte and (where the app sees tokens) to the first token.
 *
 * `record` is the one place a request's figures go: it updates the request's series (one per model
 * and endpoint, made once), a few additions, nothing else on the request's path. Everything that
 * reads request figures reads the series (Prometheus at scrape time, `series()`) or is told of each
 * request there (`observe`: a rolling window of recent figures).
 */
export class RequestMetrics {
  readonly #byModel = new Map<string, Map<string, RequestSeries>>();
  readonly #observers: RequestObserver[] = [];

  /** `where` names the process in the help text (" at the agent", or ""). */
  constructor(registry: Registry, prefix: string, where: string, options: { readonly firstToken: boolean }) {
    const defs = requestMetricDefinitions(prefix, where);
    const all = () => this.series();
    new Counter({
      ...defs.requests,
      labelNames: [...defs.requests.labelNames],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of all()) for (const [status, n] of s.statuses) this.inc({ model: s.model, endpoint: s.endpoint, status: String(status) }, n);
      },
    });
    const histograms: [RequestMetricDefinition<string>, Latency][] = [
      [defs.duration, "duration"],
      [defs.ttfb, "ttfb"],
      ...(options.firstToken ? [[defs.ttft, "ttft"] as [RequestMetricDefinition<string>, Latency]] : []),
    ];
    for (const [definition, latency] of histograms) registry.registerMetric(new SeriesHistogram(definition, latency, all) as unknown as Metric);
  }

  /** The series of one model on one endpoint, made on first use (labels are bounded by the callers). */
  seriesOf(model: string, endpoint: string): RequestSeries {
    let byEndpoint = this.#byModel.get(model);
    if (!byEndpoint) this.#byModel.set(model, (byEndpoint = new Map()));
    let series = byEndpoint.get(endpoint);
    if (!series) byEndpoint.set(endpoint, (series = new RequestSeries(model, endpoint)));
    return series;
  }

  /**
   * A request whose answer closed: its status (499 when the client went away before one began), and
   * its times since arrival; an answer sent whole by its end had its first byte at the end.
   */
  finish(timing: RequestTiming, endpoint: string, res: ServerResponse): void {
    const now = performance.now();
    const firstByte = timing.firstByteAt ?? (res.writableFinished ? now : undefined);
    const since = (t: number | undefined) => (t === undefined ? undefined : (t - timing.started) / 1000);
    this.record(timing.model, endpoint, res.headersSent ? res.statusCode : 499, (now - timing.started) / 1000, since(firstByte), since(timing.firstTokenAt));
  }

  /** One answered request; times in seconds, undefined when the answer never got that far. */
  record(model: string, endpoint: string, status: number, durationS: number, ttfbS?: number, ttftS?: number): void {
    this.seriesOf(model, endpoint).record(status, durationS, ttfbS, ttftS);
    for (const observer of this.#observers) observer(model, endpoint, status, durationS, ttfbS, ttftS);
  }

  /** Tells `observer` of every request recorded from now on (it runs on every request: keep it cheap). */
  observe(observer: RequestObserver): void {
    this.#observers.push(observer);
  }

  /** Every series so far. */
  *series(): IterableIterator<RequestSeries> {
    for (const byEndpoint of this.#byModel.values()) yield* byEndpoint.values();
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
