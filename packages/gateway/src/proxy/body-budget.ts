import { ApiError } from "@omnigate/shared/errors";
import type { BodyAccount } from "@omnigate/server-kit/read-body";

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

  /** Whether `bytes` more fit; if so they are counted. */
  take(bytes: number): boolean {
    if (this.#held + bytes > this.max) return false;
    this.#held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#held -= bytes;
  }

  account(): HeldBody {
    return new HeldBody(this);
  }
}

/** One request's share of the budget, held until `release()` (idempotent). */
export class HeldBody implements BodyAccount {
  #mine = 0;

  constructor(private readonly budget: BodyBudget) {}

  take(bytes: number): boolean {
    if (!this.budget.take(bytes)) return false;
    this.#mine += bytes;
    return true;
  }

  refusal(): Error {
    return new BodyBudgetError(this.budget.max);
  }

  release(): void {
    this.budget.give(this.#mine);
    this.#mine = 0;
  }
}
