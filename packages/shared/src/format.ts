/**
 * Sizes for people, the same in the CLI and the dashboard: "43.0 MB", "512 B" (decimal units with
 * one decimal, as download tools and the hub's pages show them).
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
