// A client of GET /api/events for tests: the production stream reader (the CLI's), every event kept
// in order, and a wait for the next one that matches.
import type { GatewayEvent } from "@omnigate/shared/events";
import { followEvents, type StreamedEvent } from "../src/cli/event-stream.js";

export class EventTap {
  readonly events: StreamedEvent[] = [];
  readonly #abort = new AbortController();
  readonly done: Promise<void>;
  #cursor = 0;
  #wake: (() => void) | null = null;
  error: unknown;

  constructor(url: string, adminKey: string, lastEventId?: string) {
    this.done = (async () => {
      try {
        for await (const e of followEvents(url, adminKey, { signal: this.#abort.signal, ...(lastEventId ? { lastEventId } : {}) })) {
          this.events.push(e);
          this.#wake?.();
        }
      } catch (err) {
        if (!this.#abort.signal.aborted) this.error = err;
      } finally {
        this.#wake?.();
      }
    })();
  }

  /** The next event (after the ones already taken) that matches, skipping the others. */
  async next<T extends GatewayEvent["type"]>(
    type: T,
    match: (e: Extract<GatewayEvent, { type: T }>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<Extract<GatewayEvent, { type: T }> & { id: string | undefined }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#cursor < this.events.length) {
        const { id, event } = this.events[this.#cursor++]!;
        if (event.type === type && match(event as Extract<GatewayEvent, { type: T }>)) return { ...(event as Extract<GatewayEvent, { type: T }>), id };
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.error) {
        const seen = this.events.map((e) => e.event.type).join(", ");
        throw new Error(`no ${type} event within ${timeoutMs} ms (seen: ${seen})${this.error ? `; stream failed: ${String(this.error)}` : ""}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  /** The events of a type seen so far (taken or not). */
  all<T extends GatewayEvent["type"]>(type: T): Array<Extract<GatewayEvent, { type: T }>> {
    return this.events.filter((e) => e.event.type === type).map((e) => e.event as Extract<GatewayEvent, { type: T }>);
  }

  close(): Promise<void> {
    this.#abort.abort();
    return this.done;
  }
}
