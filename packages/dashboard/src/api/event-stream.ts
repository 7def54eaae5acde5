import type { QueryClient } from "@tanstack/react-query";
import { createParser } from "eventsource-parser";
import type { GatewayEvent, Snapshot } from "@omnigate/shared/events";
import { errorOf } from "./client.js";
import { applyEvents, setSnapshot } from "./live-state.js";
import { signOut } from "./session.js";

export type StreamStatus = "connecting" | "live" | "reconnecting";

/** Events are applied to the cache in batches at most this often: one render for many events. */
const BATCH_MS = 100;
const RETRY_MS = 2_000;

/**
 * Follows GET /api/events with the admin key in a header (EventSource cannot send one, so this is
 * fetch plus an SSE parser). Each connection starts with a snapshot; after a drop it reconnects with
 * Last-Event-ID and the new snapshot replaces what the cache held. A 401 ends the session.
 */
export class EventStream {
  #status: StreamStatus = "connecting";
  readonly #statusListeners = new Set<() => void>();
  #abort: AbortController | null = null;
  #lastEventId: string | undefined;
  #pending: GatewayEvent[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #firstSnapshot: Promise<Snapshot>;
  #resolveFirst!: (s: Snapshot) => void;
  #rejectFirst!: (e: unknown) => void;

  constructor(
    private readonly client: QueryClient,
    private readonly key: string,
  ) {
    this.#firstSnapshot = new Promise((resolve, reject) => {
      this.#resolveFirst = resolve;
      this.#rejectFirst = reject;
    });
    // Nobody may be waiting for it (a page that shows only stats): not an unhandled rejection.
    this.#firstSnapshot.catch(() => {});
  }

  /** Connects (again, after close()); safe to call twice. */
  start(): void {
    if (this.#abort) return;
    this.#abort = new AbortController();
    void this.#run(this.#abort.signal);
  }

  /** The state as of the first snapshot: what the queries start from. */
  snapshot(): Promise<Snapshot> {
    return this.#firstSnapshot;
  }

  get status(): StreamStatus {
    return this.#status;
  }

  onStatus(listener: () => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  close(): void {
    this.#abort?.abort();
    this.#abort = null;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
  }

  #setStatus(status: StreamStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    for (const l of this.#statusListeners) l();
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#follow(signal);
      } catch (err) {
        if (signal.aborted) return;
        if ((err as { status?: number }).status === 401) {
          this.#rejectFirst(err);
          signOut((err as Error).message);
          return;
        }
      }
      if (signal.aborted) return;
      this.#setStatus("reconnecting");
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  async #follow(signal: AbortSignal): Promise<void> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}`, accept: "text/event-stream" };
    if (this.#lastEventId !== undefined) headers["last-event-id"] = this.#lastEventId;
    const res = await fetch("/api/events", { headers, signal, credentials: "omit", cache: "no-store" });
    if (!res.ok || !res.body) throw await errorOf(res);
    const parser = createParser({
      onEvent: (message) => {
        if (message.id !== undefined) this.#lastEventId = message.id;
        this.#receive(JSON.parse(message.data) as GatewayEvent);
      },
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      parser.feed(value);
    }
  }

  #receive(event: GatewayEvent): void {
    if (event.type === "snapshot") {
      // A snapshot supersedes whatever was waiting, and the page should show it at once.
      this.#pending = [];
      setSnapshot(this.client, event);
      this.#resolveFirst(event);
      this.#setStatus("live");
      return;
    }
    this.#pending.push(event);
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      const batch = this.#pending;
      this.#pending = [];
      applyEvents(this.client, batch);
    }, BATCH_MS);
  }
}
