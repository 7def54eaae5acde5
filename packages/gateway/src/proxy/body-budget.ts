import { ApiError } from "@omnigate/shared/errors";

/** Seconds a client should wait when the gateway holds too many bodies: they drain in milliseconds. */
const RETRY_AFTER_S = 1;

export class BodyBudgetError extends ApiError {
  override name = "BodyBudgetError";
  constructor(max: number) {
    super(
      "queue_full",
      `The gateway is holding ${Math.round(max / 1024 / 1024)} MiB of request bodies, its limit (OMNIGATE_MAX_BUFFERED_BYTES). Retry in ${RETRY_AFTER_S} s.`,
      null,
      { "Retry-After": String(RETRY_AFTER_S) },
    );
  }
}

/** One request's share of the budget; `release()` is idempotent. */
export interface BodyAccount {
  /** The budget's size, for the error message. */
  readonly max: number;
  /** Counts `bytes` more; false (and nothing counted) when that would pass the budget. */
  take(bytes: number): boolean;
  release(): void;
}

/**
 * The bytes of request bodies held in memory across all requests. Each body is kept until its
 * request ends (a failover re-sends it), so per-request limits alone would let enough concurrent
 * uploads exhaust memory; this bound makes the total finite.
 */
export class BodyBudget {
  #held = 0;

  constructor(readonly max: number) {}

  get held(): number {
    return this.#held;
  }

  account(): BodyAccount {
    let mine = 0;
    return {
      max: this.max,
      take: (bytes) => {
        if (this.#held + bytes > this.max) return false;
        this.#held += bytes;
        mine += bytes;
        return true;
      },
      release: () => {
        this.#held -= mine;
        mine = 0;
      },
    };
  }
}
