import type { GatewayEvent } from "@omnigate/shared/events";

export interface PublishOptions {
  /**
   * Events under one key (a model's progress on a node) go out at most once per coalescing
   * interval: the first at once, later ones held back, the newest sent when the interval ends.
   */
  readonly coalesce?: string;
  /** With `coalesce`: send at once and drop the one held back (a state change outdates progress). */
  readonly urgent?: boolean;
  /** With `coalesce`: this key's interval, when it is not the bus's (a big event, sent less often). */
  readonly intervalMs?: number;
}

/**
 * Where each owner of state (node registry, model store, key store, outlier detection) tells
 * what changed. The gateway's EventBus is one; a store shared by several gateways can feed the same
 * sink from its change notifications.
 */
export interface EventSink {
  /** True while anyone listens: owners may skip working out events nobody would get. */
  readonly active: boolean;
  publish(event: LazyEvent, options?: PublishOptions): void;
}

/**
 * An event, or a function that makes it when it is sent (undefined: nothing to send any more). A
 * coalesced event that is costly to build is then built once per interval, from the state then.
 */
export type LazyEvent = GatewayEvent | (() => GatewayEvent | undefined);

export const NO_EVENTS: EventSink = { active: false, publish() {} };

/** An event as sent: its id and its Server-Sent Events frame, serialised once for every client. */
export interface PublishedEvent {
  readonly id: number;
  readonly event: GatewayEvent;
  readonly frame: string;
}

export type EventListener = (published: PublishedEvent) => void;

/** Default coalescing interval: four progress updates a second per key is live enough for a bar. */
export const COALESCE_MS = 250;

/**
 * The gateway's live event stream: numbers events, coalesces progress, and hands each event to
 * every subscriber in publication order. Events published while the bus is handing one out (a tap
 * that derives `model.status` from a node event) are queued behind it, so every subscriber sees
 * the same order as the ids. With no subscriber, events are dropped: nobody could get them, and
 * the next subscriber starts from a snapshot.
 */
export class EventBus implements EventSink {
  /** Subscriber → what ends it when the bus closes. */
  readonly #subscribers = new Map<EventListener, () => void>();
  readonly #taps = new Set<(event: GatewayEvent, options: PublishOptions) => void>();
  /** Coalescing windows open now: key → the event held back for the window's end, if any. */
  readonly #windows = new Map<string, { held: LazyEvent | null; timer: NodeJS.Timeout }>();
  readonly #queue: Array<[LazyEvent, PublishOptions]> = [];
  readonly #coalesceMs: number;
  #seq = 0;
  #dispatching = false;

  constructor(options: { coalesceMs?: number } = {}) {
    this.#coalesceMs = options.coalesceMs ?? COALESCE_MS;
  }

  get active(): boolean {
    return this.#subscribers.size > 0;
  }

  /** The id of the newest event sent: what a snapshot taken now is consistent with. */
  get lastId(): number {
    return this.#seq;
  }

  publish(event: LazyEvent, options: PublishOptions = {}): void {
    if (!this.active) return;
    const key = options.coalesce;
    if (key === undefined) return this.#enqueue(event, options);
    const window = this.#windows.get(key);
    if (window && !options.urgent) {
      window.held = event;
      return;
    }
    if (window) clearTimeout(window.timer);
    this.#openWindow(key, options.intervalMs ?? this.#coalesceMs);
    this.#enqueue(event, options);
  }

  /** Every event from now on, in order; `onClose` when the bus closes. Returns the unsubscribe function. */
  subscribe(listener: EventListener, onClose: () => void = () => {}): () => void {
    this.#subscribers.set(listener, onClose);
    return () => {
      this.#subscribers.delete(listener);
      if (!this.active) this.#clearWindows();
    };
  }

  /** Sees each event before subscribers do, without counting as one (derived events). */
  tap(listener: (event: GatewayEvent, options: PublishOptions) => void): void {
    this.#taps.add(listener);
  }

  /** Ends every subscription (shutdown): streams close instead of holding the drain open. */
  close(): void {
    const closers = [...this.#subscribers.values()];
    this.#subscribers.clear();
    this.#clearWindows();
    for (const onClose of closers) onClose();
  }

  #openWindow(key: string, intervalMs: number): void {
    const timer = setTimeout(() => {
      const window = this.#windows.get(key);
      if (!window?.held) {
        this.#windows.delete(key);
        return;
      }
      const held = window.held;
      // The held event goes out now and opens the next window.
      this.#openWindow(key, intervalMs);
      this.#enqueue(held, { coalesce: key, intervalMs });
    }, intervalMs);
    timer.unref();
    this.#windows.set(key, { held: null, timer });
  }

  #clearWindows(): void {
    for (const window of this.#windows.values()) clearTimeout(window.timer);
    this.#windows.clear();
  }

  #enqueue(event: LazyEvent, options: PublishOptions): void {
    this.#queue.push([event, options]);
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      for (let next = this.#queue.shift(); next; next = this.#queue.shift()) this.#dispatch(...next);
    } finally {
      this.#dispatching = false;
    }
  }

  #dispatch(lazy: LazyEvent, options: PublishOptions): void {
    const event = typeof lazy === "function" ? lazy() : lazy;
    if (!event) return;
    const id = ++this.#seq;
    const published: PublishedEvent = { id, event, frame: sseFrame(id, event.type, JSON.stringify(event)) };
    for (const subscriber of this.#subscribers.keys()) subscriber(published);
    for (const tap of this.#taps) tap(event, options);
  }
}

/** One Server-Sent Events message. JSON has no raw newline, so `data` is one line. */
export function sseFrame(id: number, type: string, data: string): string {
  return `id: ${id}\nevent: ${type}\ndata: ${data}\n\n`;
}
