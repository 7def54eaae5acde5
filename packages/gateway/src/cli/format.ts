import { formatBytes } from "@omnigate/shared/format";
import type { DownloadProgress, ModelNodeView } from "@omnigate/shared/models";

/** Left-aligned columns, two spaces apart; the header row first. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

export function formatProgress(p: DownloadProgress): string {
  const rate = p.rate > 0 ? `, ${formatBytes(p.rate)}/s` : "";
  return `${p.percent.toFixed(1)}% (${formatBytes(p.bytes)} / ${formatBytes(p.total)}${rate})`;
}

/** "ready", "downloading 43.0% (…)", "failed: reason". */
export function describeNode(node: Pick<ModelNodeView, "state" | "progress" | "error" | "offline">): string {
  if (node.offline) return "node offline";
  if (node.state === "downloading" && node.progress) return `downloading ${formatProgress(node.progress)}`;
  if (node.state === "failed") return `failed: ${node.error ?? "unknown error"}`;
  return node.state;
}

/** Runtime ids are UUIDs; eight characters tell a fleet's nodes apart. */
export function shortId(runtimeId: string): string {
  return runtimeId.slice(0, 8);
}

export function formatAge(unixMs: number, now: number = Date.now()): string {
  const s = Math.max(0, Math.round((now - unixMs) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

export function formatDate(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}
