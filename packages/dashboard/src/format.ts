export { formatBytes } from "@omnigate/shared/format";

/** GPU memory: 23.5 GiB, 512 MiB. */
export function formatMib(mib: number): string {
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${Math.round(mib)} MiB`;
}

/** 2 h 5 min, 3 min 20 s, 45 s. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** How long ago a Unix-ms time was: "12 s ago". */
export function formatAge(unixMs: number, now = Date.now()): string {
  return `${formatDuration((now - unixMs) / 1000)} ago`;
}

/** Latencies: 850 µs, 12.3 ms, 4.2 s; "—" when there is no sample. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms === 0) return "0 ms";
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction > 0 && fraction < 0.001 ? 2 : 1)}%`;
}

/** Runtime ids are UUIDs; eight characters tell a fleet's nodes apart. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}
