import { setTimeout as sleep } from "node:timers/promises";
import type { GatewayEvent } from "@omnigate/shared/events";
import type { ModelListEntry } from "@omnigate/shared/models";
import { describeNode, shortId } from "./format.js";
import type { AdminClient } from "./admin-client.js";
import { EventStreamError } from "./event-stream.js";

/** Where progress goes: a terminal gets one live line, anything else plain lines on change. */
export interface ProgressOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly out: ProgressOutput;
  /** Pause before reconnecting to a stream that broke (the gateway restarting). */
  readonly reconnectMs?: number;
}

export type WaitOutcome = { ok: true; entry: ModelListEntry; message: string } | { ok: false; message: string };

/**
 * Follows the gateway's event stream until some node reports the model ready (ok) or every node
 * reports it failed, it is deleted, or the timeout passes (not ok). Each change shows as it
 * happens. A broken stream (the gateway restarting) is shown and reconnected; the snapshot a
 * reconnect starts with says where things stand.
 */
export async function waitForModel(client: AdminClient, name: string, options: WaitOptions): Promise<WaitOutcome> {
  const printer = options.out.isTTY ? new LiveLine(options.out) : new ChangeLines(options.out);
  const timedOut = {
    ok: false as const,
    message: `Timed out after ${Math.round(options.timeoutMs / 1000)} s waiting for '${name}'. Nodes keep working on it; check with 'omnigate models ls'.`,
  };
  const signal = AbortSignal.timeout(options.timeoutMs);
  let lastEventId: string | undefined;
  try {
    for (;;) {
      try {
        for await (const { id, event } of client.events({ signal, lastEventId })) {
          lastEventId = id ?? lastEventId;
          const entry = entryOf(name, event);
          if (entry === "deleted") return { ok: false, message: `The model '${name}' does not exist (it was deleted). List models with 'omnigate models ls'.` };
          if (!entry) continue;
          printer.show(name, entry);
          const verdict = settle(entry);
          if (verdict) return verdict;
        }
        printer.note(`${name}: the gateway closed the event stream (reconnecting)`);
      } catch (err) {
        if (signal.aborted) return timedOut;
        // Gone or not allowed will not fix itself; anything else (unreachable, 5xx) may.
        const status = err instanceof EventStreamError ? err.status : undefined;
        if (status === 401 || status === 403) return { ok: false, message: (err as Error).message };
        printer.note(`${name}: ${(err as Error).message} (reconnecting)`);
      }
      await sleep(options.reconnectMs ?? 1_000, undefined, { signal }).catch(() => {});
      if (signal.aborted) return timedOut;
    }
  } finally {
    printer.end();
  }
}

/** What an event says about the model: its entry, "deleted", or nothing. */
function entryOf(name: string, event: GatewayEvent): ModelListEntry | "deleted" | undefined {
  switch (event.type) {
    case "snapshot":
      return event.models.find((m) => m.id === name) ?? "deleted";
    case "model.status":
      return event.model.id === name ? event.model : undefined;
    case "model.deleted":
      return event.name === name ? "deleted" : undefined;
    default:
      return undefined;
  }
}

function settle(entry: ModelListEntry): WaitOutcome | null {
  const ready = entry.nodes.filter((n) => n.ready);
  if (entry.ready && ready.length > 0) {
    return { ok: true, entry, message: `${entry.id} is ready on ${ready.length} of ${entry.nodes.length} node(s): ${ready.map((n) => shortId(n.runtime_id)).join(", ")}` };
  }
  if (entry.nodes.length > 0 && entry.nodes.every((n) => n.state === "failed")) {
    const reasons = entry.nodes.map((n) => `${shortId(n.runtime_id)}: ${n.error ?? "unknown error"}`).join("; ");
    return { ok: false, message: `${entry.id} failed on every node (${reasons}).` };
  }
  return null;
}

function summary(name: string, entry: ModelListEntry): string {
  if (entry.nodes.length === 0) {
    const why = entry.placement_errors[0];
    return why ? `${name}: not placed yet: ${why}` : `${name}: waiting for an online node that runs ${entry.runtime}`;
  }
  return `${name}: ${entry.nodes.map((n) => `${shortId(n.runtime_id)} ${describeNode(n)}`).join(" · ")}`;
}

/** A terminal: the same line rewritten in place. */
class LiveLine {
  #drawn = false;
  constructor(private readonly out: ProgressOutput) {}

  show(name: string, entry: ModelListEntry): void {
    this.#draw(summary(name, entry));
  }

  note(text: string): void {
    this.#draw(text);
  }

  end(): void {
    if (this.#drawn) this.out.write("\n");
    this.#drawn = false;
  }

  #draw(text: string): void {
    const width = Math.max(20, (this.out.columns ?? 80) - 1);
    const line = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    this.out.write(`\r\x1b[2K${line}`);
    this.#drawn = true;
  }
}

/** A pipe or log: one line per node whenever what it reports changes (downloads in 10% steps). */
class ChangeLines {
  readonly #last = new Map<string, string>();
  #lastWaiting = "";
  #lastNote = "";
  constructor(private readonly out: ProgressOutput) {}

  show(name: string, entry: ModelListEntry): void {
    if (entry.nodes.length === 0) {
      // Not placed yet: shown again only when the reason changes.
      const waiting = summary(name, entry);
      if (waiting !== this.#lastWaiting) this.out.write(`${waiting}\n`);
      this.#lastWaiting = waiting;
    }
    for (const node of entry.nodes) {
      const step = node.state === "downloading" && node.progress ? `downloading:${Math.floor(node.progress.percent / 10)}` : `${node.state}:${node.error ?? ""}`;
      if (this.#last.get(node.runtime_id) === step) continue;
      this.#last.set(node.runtime_id, step);
      this.out.write(`${name}: ${shortId(node.runtime_id)} ${describeNode(node)}\n`);
    }
  }

  note(text: string): void {
    if (text === this.#lastNote) return;
    this.#lastNote = text;
    this.out.write(`${text}\n`);
  }

  end(): void {}
}
