import type { ApiKeyView } from "@omnigate/shared/admin";
import type { GatewayEvent } from "@omnigate/shared/events";
import type { ModelListEntry } from "@omnigate/shared/models";
import type { NodeView } from "@omnigate/shared/node-protocol";

export type StreamStatus = "connecting" | "live" | "reconnecting";

/** What the page tells the event worker: the admin key to follow the stream with. */
export interface StartStream {
  readonly key: string;
}

/**
 * What the event worker tells the page. A snapshot comes as `snapshot-nodes` parts (nodes in host
 * order) closed by `snapshot`: each message is one task for the page to take in, and a fleet of
 * thousands in one message would be one long task.
 */
export type FromEventWorker =
  | { readonly type: "status"; readonly status: StreamStatus }
  | { readonly type: "snapshot-nodes"; readonly nodes: NodeView[] }
  | { readonly type: "snapshot"; readonly models: ModelListEntry[]; readonly keys: ApiKeyView[] }
  | { readonly type: "events"; readonly events: GatewayEvent[] }
  | { readonly type: "unauthorized"; readonly message: string };
