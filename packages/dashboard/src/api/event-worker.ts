// Follows GET /api/events off the page's main thread. At thousands of nodes a snapshot is megabytes
// of JSON and a model placed on every node sends an entry listing each of them: parsing those here
// leaves the page's thread free to scroll and paint.
import { createParser } from "eventsource-parser";
import type { GatewayEvent } from "@omnigate/shared/events";
import { errorOf } from "./api-error.js";
import type { FromEventWorker, StartStream } from "./event-messages.js";
import { byHost } from "./live-state.js";

/** Events go to the page in batches at most this often: one render there for many events. */
const BATCH_MS = 100;
const RETRY_MS = 2_000;
/** Nodes per snapshot part: a few ms for the page to take in on a slow machine. */
const NODES_PER_PART = 250;

const post = (message: FromEventWorker): void => (self as unknown as { postMessage(m: FromEventWorker): void }).postMessage(message);

let lastEventId: string | undefined;
let pending: GatewayEvent[] = [];
let flushTimer: ReturnType<typeof setTimeout> | undefined;

function receive(event: GatewayEvent): void {
  if (event.type === "snapshot") {
    // A snapshot supersedes whatever was waiting, and the page should show it at once.
    pending = [];
    const nodes = [...event.nodes].sort(byHost);
    for (let i = 0; i < nodes.length; i += NODES_PER_PART) post({ type: "snapshot-nodes", nodes: nodes.slice(i, i + NODES_PER_PART) });
    post({ type: "snapshot", models: event.models, keys: event.keys });
    post({ type: "status", status: "live" });
    return;
  }
  pending.push(event);
  flushTimer ??= setTimeout(() => {
    flushTimer = undefined;
    const events = pending;
    pending = [];
    if (events.length) post({ type: "events", events });
  }, BATCH_MS);
}

/** One connection, until it ends or fails. Each starts with a snapshot; Last-Event-ID resumes. */
async function follow(key: string): Promise<void> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, accept: "text/event-stream" };
  if (lastEventId !== undefined) headers["last-event-id"] = lastEventId;
  const res = await fetch("/api/events", { headers, credentials: "omit", cache: "no-store" });
  if (!res.ok || !res.body) throw await errorOf(res);
  const parser = createParser({
    onEvent: (message) => {
      if (message.id !== undefined) lastEventId = message.id;
      receive(JSON.parse(message.data) as GatewayEvent);
    },
  });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    parser.feed(value);
  }
}

/** Follows the stream until the key stops working (the page then ends the session). The page ends the worker to stop. */
async function run(key: string): Promise<void> {
  for (;;) {
    try {
      await follow(key);
    } catch (err) {
      if ((err as { status?: number }).status === 401) {
        post({ type: "unauthorized", message: (err as Error).message });
        return;
      }
    }
    post({ type: "status", status: "reconnecting" });
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
}

addEventListener("message", (e: MessageEvent<StartStream>) => void run(e.data.key), { once: true });
