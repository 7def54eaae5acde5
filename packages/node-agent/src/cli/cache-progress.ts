import type { DownloadProgress } from "@omnigate/shared/models";
import { formatBytes } from "../cache/cache-errors.js";

export interface ProgressOutput {
  update(p: DownloadProgress): void;
  /** Ends the bar's line (TTY) before other output. */
  done(): void;
}

function describe(p: DownloadProgress): string {
  const rate = p.rate > 0 ? `, ${formatBytes(p.rate)}/s` : "";
  const eta = p.rate > 0 && p.bytes < p.total ? `, ${Math.ceil((p.total - p.bytes) / p.rate)} s left` : "";
  return `${p.percent.toFixed(1)}% (${formatBytes(p.bytes)} of ${formatBytes(p.total)}${rate}${eta})`;
}

/**
 * A redrawn bar on a terminal; plain lines otherwise (logs, CI), at most one per `lineEveryMs` so
 * a long pull does not flood a log file.
 */
export function progressOutput(label: string, stream: NodeJS.WriteStream, lineEveryMs = 2_000): ProgressOutput {
  let last = 0;
  let drawn = false;
  if (stream.isTTY) {
    return {
      update(p) {
        const width = 30;
        const filled = Math.round((p.percent / 100) * width);
        stream.write(`\r${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${describe(p)}\x1b[K`);
        drawn = true;
      },
      done() {
        if (drawn) stream.write("\n");
        drawn = false;
      },
    };
  }
  return {
    update(p) {
      const now = Date.now();
      if (now - last < lineEveryMs && p.percent < 100) return;
      last = now;
      stream.write(`${label}: ${describe(p)}\n`);
    },
    done() {},
  };
}
