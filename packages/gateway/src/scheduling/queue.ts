import { ApiError } from "@omnigate/shared/errors";

/** Seconds a client should wait after a full queue: a burst, so soon. */
export const QUEUE_FULL_RETRY_AFTER_S = 1;
/** Seconds a client should wait after its wait timed out: the fleet is saturated. */
export const QUEUE_TIMEOUT_RETRY_AFTER_S = 5;

export class QueueFullError extends ApiError {
  override name = "QueueFullError";
  constructor(
    readonly model: string,
    max: number,
  ) {
    super(
      "queue_full",
      `Every node serving '${model}' is at capacity and ${max} requests are already waiting. Retry in ${QUEUE_FULL_RETRY_AFTER_S} s, or add nodes.`,
      "model",
      { "Retry-After": String(QUEUE_FULL_RETRY_AFTER_S) },
    );
  }
}

export class QueueTimeoutError extends ApiError {
  override name = "QueueTimeoutError";
  constructor(
    readonly model: string,
    waitedMs: number,
  ) {
    super(
      "queue_timeout",
      `Every node serving '${model}' stayed at capacity for ${waitedMs} ms while this request waited. Retry in ${QUEUE_TIMEOUT_RETRY_AFTER_S} s, or add nodes.`,
      "model",
      { "Retry-After": String(QUEUE_TIMEOUT_RETRY_AFTER_S) },
    );
  }
}

/**
 * One try at getting a slot: the value when it got one, `undefined` to wait (on), or an error to
 * end the wait with (the model was deleted meanwhile). `fromQueue` is false for the arrival's own
 * first try (it may use what the caller resolved just before) and true when a drain retries it.
 */
export type TryAcquire<T> = (fromQueue: boolean) => T | undefined | Error;

export interface AcquireOptions {
  /** The waiter excludes some nodes (a failover), so it may find no slot where others would. */
  readonly narrowed?: boolean;
  /** Called once the request waits, with a function that ends the wait (client went away). */
  readonly onWait?: (cancel: (reason: unknown) => void) => void;
}

interface Waiter<T> {
  readonly tryAcquire: TryAcquire<T>;
  /** A waiter that excludes nodes (a failover) may fail where others would succeed: try past it. */
  readonly narrowed: boolean;
  readonly resolve: (value: T) => void;
  readonly reject: (err: unknown) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Bounded per-model FIFO of requests waiting for a slot. Waiters are served in arrival order: when a
 * slot frees (`drain(model)`) or the fleet changes (`drainAll()`), each waiter from the head tries
 * again, and the drain stops at the first plain waiter that still finds no slot.
 */
export class WaitQueues<T> {
  readonly #queues = new Map<string, Waiter<T>[]>();
  readonly #max: number;
  readonly #timeoutMs: number;
  readonly #onDepth: ((model: string, depth: number) => void) | undefined;

  constructor(options: { max: number; timeoutMs: number; onDepth?: (model: string, depth: number) => void }) {
    this.#max = options.max;
    this.#timeoutMs = options.timeoutMs;
    this.#onDepth = options.onDepth;
  }

  depth(model: string): number {
    return this.#queues.get(model)?.length ?? 0;
  }

  /**
   * A slot now if nobody waits and `tryAcquire` finds one (no promise, no timer: the hot path);
   * otherwise waits in line. An error from the first try is thrown as is; later the wait rejects
   * with QueueFullError, QueueTimeoutError, an error `tryAcquire` returned, or the cancel reason.
   */
  acquire(model: string, tryAcquire: TryAcquire<T>, options: AcquireOptions = {}): T | Promise<T> {
    const queue = this.#queues.get(model);
    // Arrivals go behind those already waiting, so a steady stream cannot starve them.
    if (!queue || queue.length === 0) {
      const now = tryAcquire(false);
      if (now instanceof Error) throw now;
      if (now !== undefined) return now;
    }
    if (this.depth(model) >= this.#max) throw new QueueFullError(model, this.#max);
    return this.#enqueue(model, tryAcquire, options);
  }

  #enqueue(model: string, tryAcquire: TryAcquire<T>, options: AcquireOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = { tryAcquire, narrowed: options.narrowed ?? false, resolve, reject, timer: undefined };
      const started = Date.now();
      waiter.timer = setTimeout(() => {
        this.#remove(model, waiter);
        reject(new QueueTimeoutError(model, Date.now() - started));
      }, this.#timeoutMs);
      let queue = this.#queues.get(model);
      if (!queue) this.#queues.set(model, (queue = []));
      queue.push(waiter);
      this.#onDepth?.(model, queue.length);
      options.onWait?.((reason) => {
        if (!this.#remove(model, waiter)) return;
        reject(reason);
      });
    });
  }

  /** Takes the waiter out of line; false if it already left (served, timed out, cancelled). */
  #remove(model: string, waiter: Waiter<T>): boolean {
    clearTimeout(waiter.timer);
    const queue = this.#queues.get(model);
    const i = queue ? queue.indexOf(waiter) : -1;
    if (!queue || i < 0) return false;
    queue.splice(i, 1);
    if (queue.length === 0) this.#queues.delete(model);
    this.#onDepth?.(model, queue.length);
    return true;
  }

  /** model → requests waiting, for the metrics. */
  *depths(): Iterable<[model: string, depth: number]> {
    for (const [model, queue] of this.#queues) yield [model, queue.length];
  }

  /** A slot of `model` freed: hand it to the waiters in order. */
  drain(model: string): void {
    const queue = this.#queues.get(model);
    if (!queue || queue.length === 0) return;
    for (const waiter of [...queue]) {
      let got: T | undefined | Error;
      try {
        got = waiter.tryAcquire(true);
      } catch (err) {
        got = err instanceof Error ? err : new Error(String(err));
      }
      if (got === undefined) {
        if (waiter.narrowed) continue;
        return;
      }
      this.#remove(model, waiter);
      if (got instanceof Error) waiter.reject(got);
      else waiter.resolve(got);
    }
  }

  /** Nodes came, went or changed state: every queue tries again. */
  drainAll(): void {
    for (const model of [...this.#queues.keys()]) this.drain(model);
  }

  /** Refuses every waiter (shutdown). */
  close(error: Error): void {
    for (const [model, queue] of [...this.#queues]) {
      for (const waiter of [...queue]) {
        this.#remove(model, waiter);
        waiter.reject(error);
      }
    }
  }
}
