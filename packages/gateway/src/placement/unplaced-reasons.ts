import type { PlacementInput, PlacementModel, PlacementNode, Replica } from "./placement-types.js";

/** How many nodes a reason names before it counts the rest. */
const NAMED = 3;

/** "18.4 GiB", "512 MiB". */
export function formatMib(mib: number): string {
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${Math.round(mib)} MiB`;
}

/**
 * Why `missing` replicas of the model found no node, in words an operator can act on:
 * "needs 18.4 GiB; no eligible node has that free: gpu-07 has 12.1 GiB free, gpu-03 is cordoned,
 * 5 nodes lack label zone=eu". Built only for unplaced models, so it may scan every node.
 */
export function describeUnplaced(
  input: PlacementInput,
  model: PlacementModel,
  missing: number,
  replicas: readonly Replica[],
  committed: ReadonlyMap<string, number>,
): string[] {
  const holding = new Set(replicas.filter((r) => r.role === "serving").map((r) => r.node));
  const standing = new Map<string, string[]>();
  const lacking = new Map<string, number>();
  const tooSmall: Array<{ node: PlacementNode; free: number }> = [];
  let noRuntime = 0;
  let need: number | undefined;
  for (const node of input.nodes) {
    if (holding.has(node.id)) continue;
    if (!node.runtimes.has(model.runtime)) {
      noRuntime++;
      continue;
    }
    const missingLabel = Object.keys(model.selector)
      .sort()
      .find((k) => node.labels[k] !== model.selector[k]);
    if (missingLabel !== undefined) {
      const pair = `${missingLabel}=${model.selector[missingLabel]}`;
      lacking.set(pair, (lacking.get(pair) ?? 0) + 1);
      continue;
    }
    const mib = input.needMib(model, node);
    need ??= mib;
    if (node.standing !== "schedulable") {
      const what = node.standing === "lost" ? "offline" : node.standing;
      standing.set(what, [...(standing.get(what) ?? []), node.label]);
      continue;
    }
    if (node.capacityMib !== null) tooSmall.push({ node, free: Math.max(0, node.capacityMib - (committed.get(node.id) ?? 0)) });
  }
  const parts: string[] = [];
  tooSmall.sort((a, b) => b.free - a.free || (a.node.label < b.node.label ? -1 : 1));
  parts.push(...tooSmall.slice(0, NAMED).map((t) => `${t.node.label} has ${formatMib(t.free)} free`));
  if (tooSmall.length > NAMED) parts.push(`${tooSmall.length - NAMED} more nodes have less`);
  for (const [what, names] of [...standing].sort()) parts.push(`${named(names)} ${names.length === 1 ? "is" : "are"} ${what}`);
  for (const [pair, n] of [...lacking].sort()) parts.push(`${n} node${n === 1 ? "" : "s"} lack${n === 1 ? "s" : ""} label ${pair}`);
  if (noRuntime > 0) parts.push(`${noRuntime} node${noRuntime === 1 ? "" : "s"} cannot run ${model.runtime}`);
  const count = missing === 1 ? "" : ` on each of ${missing} more nodes`;
  if (input.nodes.length === 0) return [`no node is registered: start a node agent that can run ${model.runtime}`];
  const needs = need === undefined ? "" : `needs ${formatMib(need)}${count}; `;
  return [`${needs}no eligible node has that free: ${parts.join(", ") || "every eligible node already holds a replica"}`];
}

function named(names: readonly string[]): string {
  const sorted = [...names].sort();
  return sorted.length <= NAMED ? sorted.join(", ") : `${sorted.slice(0, NAMED).join(", ")} and ${sorted.length - NAMED} more`;
}
