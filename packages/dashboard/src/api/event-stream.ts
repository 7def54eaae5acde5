import type { QueryClient } from "@tanstack/react-query";
import type { Snapshot } from "@omnigate/shared/events";
import type { NodeView } from "@omnigate/shared/node-protocol";
import { ApiError } from "./api-error.js";
import type { FromEventWorker, StartStream, StreamStatus } from "./event-messages.js";
import { applyEvents, setSnapshot } from "./live-state.js";
import { signOut } from "./session.js";

export type { StreamStatus } from "./event-messages.js";

/**
 * Follows GET /api/events through a worker (event-worker.ts: fetch with the admin key in a header,
 * which EventSource cannot send, an SSE parser, reconnection with Last-Event-ID) and keeps the query
 * cache current from what it posts: each snapshot replaces what the cache held, batches of events
 * are applied to it. A 401 ends the session.
 */
export class EventStream {
  #status: StreamStatus = "connecting";
  readonly #statusListeners = new Set<() => void>();
  #worker: Worker | null = null;
  /** The parts of the snapshot being received. */
  #snapshotNodes: NodeView[][] = [];
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
    if (this.#worker) return;
    this.#snapshotNodes = [];
    this.#worker = new Worker(new URL("./event-worker.ts", import.meta.url), { type: "module", name: "omnigate events" });
    this.#worker.addEventListener("message", (e: MessageEvent<FromEventWorker>) => this.#receive(e.data));
    this.#worker.postMessage({ key: this.key } satisfies StartStream);
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
    this.#worker?.terminate();
    this.#worker = null;
  }

  #setStatus(status: StreamStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    for (const l of this.#statusListeners) l();
  }

  #receive(message: FromEventWorker): void {
    switch (message.type) {
      case "status":
        return this.#setStatus(message.status);
      case "snapshot-nodes":
        this.#snapshotNodes.push(message.nodes);
        return;
      case "snapshot": {
        const snapshot = { nodes: this.#snapshotNodes.flat(), models: message.models, keys: message.keys };
        this.#snapshotNodes = [];
        setSnapshot(this.client, snapshot);
        this.#resolveFirst(snapshot);
        return;
      }
      case "events":
        return applyEvents(this.client, message.events);
      case "unauthorized": {
        this.close();
        const error = new ApiError(message.message, 401);
        this.#rejectFirst(error);
        signOut(error.message);
        return;
      }
    }
  }
}
