import { useWindowVirtualizer, type Virtualizer } from "@tanstack/react-virtual";
import { memo, useDeferredValue, useEffect, useMemo, useRef, useState } from "react";
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
  // The cached list is already in host order; unfiltered, it is shown as is (no copy per batch).
  const shown = useMemo(() => (!query && filter === "all" ? (nodes.data ?? []) : (nodes.data ?? []).filter((n) => matches(n, query, filter))), [nodes.data, query, filter]);
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

/** A card's height before it is measured: header, then the tallest column (GPUs, labels, models). */
function estimateHeight(node: NodeView): number {
  return 110 + Math.max(node.gpus.length * 46, node.models.length * 30, 60);
}

/**
 * Sizes come from the ResizeObserver that watches each card, never from reading offsetHeight as a
 * card mounts: that read forces a layout of the page per card, which during a fast scroll through
 * thousands of nodes is what makes frames long. Until its first observation a card counts as
 * estimated.
 */
function measureWithoutReflow(element: Element, entry: ResizeObserverEntry | undefined, instance: Virtualizer<Window, Element>): number {
  const box = entry?.borderBoxSize?.[0];
  if (box) return Math.round(box.blockSize);
  const index = instance.indexFromElement(element);
  return instance.measurementsCache[index]?.size ?? instance.options.estimateSize(index);
}

/** One card in its place. Kept apart so that scrolling, which moves every row, re-renders none whose node and place are the same. */
const NodeRow = memo(function NodeRow({ node, index, top, count, measure }: { node: NodeView; index: number; top: number; count: number; measure: (el: Element | null) => void }) {
  return (
    <li data-index={index} ref={measure} className="node-row" style={{ transform: `translateY(${top}px)` }} aria-setsize={count} aria-posinset={index + 1}>
      <NodeCard node={node} />
    </li>
  );
});

function NodeList({ nodes }: { nodes: NodeView[] }) {
  const list = useRef<HTMLUListElement>(null);
  const [offset, setOffset] = useState(0);
  // Read after the first frame, when layout is done: in a layout effect it would force the page's
  // first layout into the task that renders it.
  useEffect(() => setOffset(list.current?.offsetTop ?? 0), []);
  const virtualizer = useWindowVirtualizer({
    count: nodes.length,
    estimateSize: (i) => estimateHeight(nodes[i]!),
    // Cards are tall: two beyond each edge cover a wheel step, and each is one more to build per jump.
    overscan: 2,
    scrollMargin: offset,
    getItemKey: (i) => nodes[i]!.runtime_id,
    measureElement: measureWithoutReflow,
    // Not rendered inside the scroll event: the rows below follow at their own pace.
    useFlushSync: false,
  });
  // A jump through the list brings a screenful of new cards. React builds them as a transition, in
  // slices with the main thread free between them (for input, events and paint), while the cards
  // already there stay; a long task per jump is what made scrolling a large fleet stutter.
  const items = useDeferredValue(virtualizer.getVirtualItems());
  return (
    <ul ref={list} className="node-list" aria-label="Nodes" style={{ height: virtualizer.getTotalSize() }}>
      {items.map((item) => {
        // The deferred rows may predate a change of filter: an index past the end is skipped.
        const node = nodes[item.index];
        return node ? (
          <NodeRow key={node.runtime_id} node={node} index={item.index} top={item.start - virtualizer.options.scrollMargin} count={nodes.length} measure={virtualizer.measureElement} />
        ) : null;
      })}
    </ul>
  );
}
