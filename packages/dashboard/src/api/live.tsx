import { useQuery, useQueryClient, type UseQueryResult } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from "react";
import type { ApiKeyView } from "@omnigate/shared/admin";
import type { GatewayStats } from "@omnigate/shared/events";
import type { ModelListEntry } from "@omnigate/shared/models";
import type { NodeView } from "@omnigate/shared/node-protocol";
import { callJson } from "./client.js";
import { EventStream, type StreamStatus } from "./event-stream.js";
import { QUERY_KEYS } from "./live-state.js";

const StreamContext = createContext<EventStream | null>(null);

/**
 * Opens the event stream for the signed-in key; the pages below read the state it keeps current.
 * Mount it keyed by the admin key: another key is another stream and another cache.
 */
export function LiveProvider({ adminKey, children }: { adminKey: string; children: ReactNode }) {
  const client = useQueryClient();
  const [stream] = useState(() => new EventStream(client, adminKey));
  useEffect(() => {
    stream.start();
    return () => {
      stream.close();
      // Another key's state must not show for a moment after signing in again.
      client.clear();
    };
  }, [client, stream]);
  return <StreamContext.Provider value={stream}>{children}</StreamContext.Provider>;
}

function useStream(): EventStream {
  const stream = useContext(StreamContext);
  if (!stream) throw new Error("useStream outside LiveProvider");
  return stream;
}

export function useStreamStatus(): StreamStatus {
  const stream = useStream();
  return useSyncExternalStore(
    (onChange) => stream.onStatus(onChange),
    () => stream.status,
  );
}

/** A list the event stream keeps current: it starts from the stream's snapshot, never refetched. */
function useLiveList<T>(key: readonly string[], pick: (s: Awaited<ReturnType<EventStream["snapshot"]>>) => T[]): UseQueryResult<T[]> {
  const stream = useStream();
  return useQuery({ queryKey: key, queryFn: async () => pick(await stream.snapshot()), staleTime: Infinity, gcTime: Infinity });
}

export const useNodes = (): UseQueryResult<NodeView[]> => useLiveList(QUERY_KEYS.nodes, (s) => s.nodes);
export const useModels = (): UseQueryResult<ModelListEntry[]> => useLiveList(QUERY_KEYS.models, (s) => s.models);
export const useKeys = (): UseQueryResult<ApiKeyView[]> => useLiveList(QUERY_KEYS.keys, (s) => s.keys);

/** The gateway's request figures; they change with every request, so they are polled, not streamed. */
export function useStats(): UseQueryResult<GatewayStats> {
  return useQuery({
    queryKey: QUERY_KEYS.stats,
    queryFn: ({ signal }) => callJson<GatewayStats>("/api/stats", { signal }),
    refetchInterval: 5_000,
  });
}
