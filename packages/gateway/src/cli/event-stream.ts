import { EventSourceParserStream } from "eventsource-parser/stream";
import { OpenAIErrorBody } from "@omnigate/shared/errors";
import { GatewayEvent } from "@omnigate/shared/events";

/** One event from GET /api/events with the id to resume after. */
export interface StreamedEvent {
  readonly id: string | undefined;
  readonly event: GatewayEvent;
}

/** The stream could not be opened: the status (undefined when the gateway was not reached) and why. */
export class EventStreamError extends Error {
  override name = "EventStreamError";
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * Follows the gateway's event stream (starting with its snapshot) until it ends or `signal` aborts.
 * Sends `Last-Event-ID` when resuming, as an EventSource would.
 */
export async function* followEvents(
  url: string,
  adminKey: string,
  options: { signal: AbortSignal; lastEventId?: string },
): AsyncGenerator<StreamedEvent> {
  let res: Response;
  try {
    res = await fetch(`${url}/api/events`, {
      headers: {
        authorization: `Bearer ${adminKey}`,
        accept: "text/event-stream",
        ...(options.lastEventId === undefined ? {} : { "last-event-id": options.lastEventId }),
      },
      signal: options.signal,
    });
  } catch (err) {
    if (options.signal.aborted) throw err;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new EventStreamError(`Cannot reach the gateway at ${url} (${cause?.code ?? cause?.message ?? (err as Error).message}).`);
  }
  if (!res.ok || !res.body) {
    const parsed = OpenAIErrorBody.safeParse(await res.json().catch(() => null));
    throw new EventStreamError(parsed.success ? parsed.data.error.message : `The gateway answered ${res.status} to GET /api/events.`, res.status);
  }
  const messages = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  for await (const message of messages) {
    const parsed = GatewayEvent.safeParse(JSON.parse(message.data));
    // An event type this CLI does not know (a newer gateway) is skipped, not fatal.
    if (parsed.success) yield { id: message.id, event: parsed.data };
  }
}
