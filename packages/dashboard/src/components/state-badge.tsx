import type { ModelState } from "@omnigate/shared/models";

/** A model's state on a node, in words with a colour (the words carry it; the colour helps). */
export function StateBadge({ state }: { state: ModelState | "online" | "offline" | "ejected" | "cordoned" | "draining" | "leaving" }) {
  return <span className={`badge badge-${state}`}>{state}</span>;
}
