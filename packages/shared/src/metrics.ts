/**
 * What the gateway's and the agent's data-plane request metrics have in common, as plain data and a
 * pure helper (no prom-client here: this package does no I/O and carries no metrics library). Both
 * apps count answered requests and time them to the last byte and to the first body byte with the
 * same labels and buckets, so a dashboard can put a gateway's figures next to its agents'.
 */

/** Seconds; from a cached embedding (ms) to a CPU image generation (minutes). */
export const LATENCY_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export interface RequestMetricDefinition<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly buckets?: number[];
}

/**
 * The request metrics under `prefix` ("omnigate" for the gateway, "omnigate_agent" for an
 * agent); `where` names the process in the help text (" at the agent", or "").
 */
export function requestMetricDefinitions(prefix: string, where: string): {
  readonly requests: RequestMetricDefinition<"model" | "endpoint" | "status">;
  readonly duration: RequestMetricDefinition<"model" | "endpoint">;
  readonly ttfb: RequestMetricDefinition<"model" | "endpoint">;
  readonly ttft: RequestMetricDefinition<"model" | "endpoint">;
} {
  return {
    requests: {
      name: `${prefix}_requests_total`,
      help: `Data-plane requests answered${where}, by model, endpoint (capability) and HTTP status.`,
      labelNames: ["model", "endpoint", "status"],
    },
    duration: {
      name: `${prefix}_request_duration_seconds`,
      help: `Time from request arrival${where} to the last byte of the answer.`,
      labelNames: ["model", "endpoint"],
      buckets: [...LATENCY_BUCKETS],
    },
    ttfb: {
      name: `${prefix}_time_to_first_byte_seconds`,
      help: `Time from request arrival${where} to the first body byte sent back.`,
      labelNames: ["model", "endpoint"],
      buckets: [...LATENCY_BUCKETS],
    },
    ttft: {
      name: `${prefix}_time_to_first_token_seconds`,
      help: `Time from request arrival${where} to the first token: a stream's first SSE data event (comments such as ': ping' do not count), else the first body byte.`,
      labelNames: ["model", "endpoint"],
      buckets: [...LATENCY_BUCKETS],
    },
  };
}
