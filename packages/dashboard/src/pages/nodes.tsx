import { useWindowVirtualizer } from "@tanstack/react-virtual";
import { useDeferredValue, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { NodeView } from "@omnigate/shared/node-protocol";
import { useNodes } from "../api/live.js";
import { ErrorNote } from "../components/error-note.js";
import { NodeCard } from "./node-card.js";
import { PageTitle } from "./page-title.js";

type Filter = "all" | "online" | "offline" | "ejected";

function matches(node: NodeView, text: string, filter: Filter): boolean {
  if (filter === "online" && !node.online) return false;
  if (filter === "offline" && node.online) return false;
  if (filter === "ejected" && node.ejected_until === null) return false;
  if (!text) return true;
  const haystack = `${node.hostname} ${node.runtime_id} ${node.supported_runtimes.join(" ")} ${Object.entries(node.labels).map(([k, v]) => `${k}=${v}`).join(" ")} ${node.models.map((m) => m.name).join(" ")}`;
  return haystack.toLowerCase().includes(text);
}

/**
 * Every node with its GPUs, runtimes, labels and models. The list is virtualised: only the cards on
 * screen exist in the page, so a fleet of thousands scrolls as one of ten.
 */
export function Nodes() {
  const nodes = useNodes();
  const [text, setText] = useState("");
  const [filter, setFilter] = useState<Filter>("all");
  // Typing stays responsive on a large fleet: the list follows a moment later.
  const query = useDeferredValue(text.trim().toLowerCase());
  const shown = useMemo(
    () => (nodes.data ?? []).filter((n) => matches(n, query, filter)).sort((a, b) => a.hostname.localeCompare(b.hostname) || a.runtime_id.localeCompare(b.runtime_id)),
    [nodes.data, query, filter],
  );
  const total = nodes.data?.length ?? 0;
  const online = nodes.data?.filter((n) => n.online).length ?? 0;

  return (
    <>
      <PageTitle title="Nodes" />
      <ErrorNote error={nodes.error} />
      <form className="toolbar" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Find
          <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="host, id, label, runtime, model" />
        </label>
        <label>
          Show
          <select value={filter} onChange={(e) => setFilter(e.target.value as Filter)}>
            <option value="all">all nodes</option>
            <option value="online">online</option>
            <option value="offline">offline</option>
            <option value="ejected">ejected</option>
          </select>
        </label>
      </form>
      <p aria-live="polite">
        {nodes.isPending ? "Loading…" : `${online} of ${total} online${shown.length !== total ? `; ${shown.length} shown` : ""}`}
        {total === 0 && !nodes.isPending ? ". No node has registered yet: start an agent with OMNIGATE_GATEWAY_URL pointing at this gateway." : ""}
      </p>
      <NodeList nodes={shown} />
    </>
  );
}

function NodeList({ nodes }: { nodes: NodeView[] }) {
  const list = useRef<HTMLUListElement>(null);
  const [offset, setOffset] = useState(0);
  useLayoutEffect(() => setOffset(list.current?.offsetTop ?? 0), []);
  const virtualizer = useWindowVirtualizer({
    count: nodes.length,
    estimateSize: () => 190,
    overscan: 4,
    scrollMargin: offset,
    getItemKey: (i) => nodes[i]!.runtime_id,
  });
  const items = virtualizer.getVirtualItems();
  return (
    <ul ref={list} className="node-list" aria-label="Nodes" style={{ height: virtualizer.getTotalSize() }}>
      {items.map((item) => {
        const node = nodes[item.index]!;
        return (
          <li
            key={item.key}
            data-index={item.index}
            ref={virtualizer.measureElement}
            className="node-row"
            style={{ transform: `translateY(${item.start - virtualizer.options.scrollMargin}px)` }}
            aria-setsize={nodes.length}
            aria-posinset={item.index + 1}
          >
            <NodeCard node={node} />
          </li>
        );
      })}
    </ul>
  );
}
