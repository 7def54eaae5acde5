import type { GatewayStats, Percentiles, StatsBucket } from "@omnigate/shared/events";
import type { Capability } from "@omnigate/shared/runtimes";

/**
 * Latency histograms use log-spaced bins: 8 per doubling (each bin 9% wider than the one before, so
 * a percentile read from a bin's middle is within ±4.5%), from 50 µs to 50 µs × 2^26 (about an
 * hour); anything beyond lands in the last bin.
 */
const BINS_PER_DOUBLING = 8;
const SMALLEST_MS = 0.05;
const BINS = 26 * BINS_PER_DOUBLING;

function binOf(ms: number): number {
  if (!(ms > SMALLEST_MS)) return 0;
  return Math.min(BINS - 1, Math.floor(Math.log2(ms / SMALLEST_MS) * BINS_PER_DOUBLING));
}

/** The geometric middle of a bin. */
function binValue(bin: number): number {
  return SMALLEST_MS * 2 ** ((bin + 0.5) / BINS_PER_DOUBLING);
}

/** The capabilities whose answers are tokens: time to first token is theirs. */
const TOKEN_CAPABILITIES: ReadonlySet<Capability> = new Set(["chat", "completion"]);

class Slice {
  start = -1;
  requests = 0;
  errors = 0;
  readonly latency = new Uint32Array(BINS);
  readonly ttft = new Uint32Array(BINS);
  ttftCount = 0;

  reset(start: number): void {
    this.start = start;
    this.requests = 0;
    this.errors = 0;
    this.latency.fill(0);
    this.ttft.fill(0);
    this.ttftCount = 0;
  }
}

export interface StatsWindowOptions {
  readonly windowMs?: number;
  readonly bucketMs?: number;
  readonly now?: () => number;
}

/**
 * The gateway's own request figures over the last 15 minutes, in memory: a ring of 10-second slices,
 * each a request count, an error count and two latency histograms. Recording is a few array writes
 * (it runs on every request); reading merges the slices. Nothing is kept past the window, so memory
 * is fixed (about 150 KB) whatever the traffic.
 */
export class StatsWindow {
  readonly #slices: Slice[];
  readonly #bucketMs: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #startedAt: number;

  constructor(options: StatsWindowOptions = {}) {
    this.#bucketMs = options.bucketMs ?? 10_000;
    this.#windowMs = options.windowMs ?? 15 * 60_000;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
    this.#slices = Array.from({ length: Math.ceil(this.#windowMs / this.#bucketMs) }, () => new Slice());
  }

  /** One answered request: its status, how long it took and, when it streamed tokens, the first one's time. */
  record(capability: Capability, status: number, durationMs: number, firstByteMs: number | undefined): void {
    const slice = this.#slice(this.#now());
    slice.requests++;
    if (status >= 500) slice.errors++;
    slice.latency[binOf(durationMs)]!++;
    if (firstByteMs !== undefined && status < 400 && TOKEN_CAPABILITIES.has(capability)) {
      slice.ttft[binOf(firstByteMs)]!++;
      slice.ttftCount++;
    }
  }

  summary(): GatewayStats {
    const now = this.#now();
    const current = Math.floor(now / this.#bucketMs);
    const count = this.#slices.length;
    const latency = new Uint32Array(BINS);
    const ttft = new Uint32Array(BINS);
    let requests = 0;
    let errors = 0;
    const series: StatsBucket[] = [];
    for (let index = current - count + 1; index <= current; index++) {
      const slice = this.#slices[((index % count) + count) % count]!;
      const start = index * this.#bucketMs;
      if (slice.start !== start) {
        series.push({ start, requests: 0, errors: 0, latency: NONE, ttft: NONE });
        continue;
      }
      requests += slice.requests;
      errors += slice.errors;
      add(latency, slice.latency);
      add(ttft, slice.ttft);
      series.push({
        start,
        requests: slice.requests,
        errors: slice.errors,
        latency: percentiles(slice.latency, slice.requests),
        ttft: percentiles(slice.ttft, slice.ttftCount),
      });
    }
    const ttftCount = ttft.reduce((a, b) => a + b, 0);
    // A gateway younger than the window has seen traffic only since it started.
    const spanMs = Math.max(1_000, Math.min(this.#windowMs, now - this.#startedAt));
    return {
      window_s: Math.round(this.#windowMs / 1000),
      bucket_s: Math.round(this.#bucketMs / 1000),
      now,
      requests,
      errors,
      requests_per_s: requests / (spanMs / 1000),
      error_rate: requests === 0 ? 0 : errors / requests,
      latency: percentiles(latency, requests),
      ttft: percentiles(ttft, ttftCount),
      series,
    };
  }

  #slice(now: number): Slice {
    const index = Math.floor(now / this.#bucketMs);
    const slice = this.#slices[index % this.#slices.length]!;
    const start = index * this.#bucketMs;
    if (slice.start !== start) slice.reset(start);
    return slice;
  }
}

const NONE: Percentiles = { p50_ms: null, p99_ms: null };

function add(into: Uint32Array, from: Uint32Array): void {
  for (let i = 0; i < BINS; i++) into[i]! += from[i]!;
}

function percentiles(bins: Uint32Array, count: number): Percentiles {
  if (count === 0) return NONE;
  return { p50_ms: quantile(bins, count, 0.5), p99_ms: quantile(bins, count, 0.99) };
}

/** The value below which `q` of the samples fall, read from the bin it lands in. */
function quantile(bins: Uint32Array, count: number, q: number): number {
  const rank = Math.ceil(q * count);
  let seen = 0;
  for (let bin = 0; bin < BINS; bin++) {
    seen += bins[bin]!;
    if (seen >= rank) return Math.round(binValue(bin) * 100) / 100;
  }
  return Math.round(binValue(BINS - 1) * 100) / 100;
}
