import type { DownloadProgress as Progress } from "@omnigate/shared/models";
import { formatBytes, formatDuration } from "../format.js";

/** A download's bar with bytes, rate and time left (from the rate the node measured). */
export function DownloadProgress({ progress, label }: { progress: Progress; label: string }) {
  const left = progress.rate > 0 ? (progress.total - progress.bytes) / progress.rate : Number.NaN;
  return (
    <div className="download">
      <progress value={progress.bytes} max={progress.total || 1} aria-label={label} />
      <small>
        {progress.percent.toFixed(1)}% · {formatBytes(progress.bytes)} of {formatBytes(progress.total)}
        {progress.rate > 0 ? ` · ${formatBytes(progress.rate)}/s · ${formatDuration(left)} left` : ""}
      </small>
    </div>
  );
}
