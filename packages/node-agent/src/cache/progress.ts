import type { DownloadProgress } from "@omnigate/shared/models";

/**
 * Sums the bytes present of every file of one pull and reports `{bytes, total, rate, percent}`.
 * Throttled: the heartbeat carries it, so a report at most every `intervalMs` (plus the final one)
 * is plenty and keeps a 1 GB/s download from calling back 16 000 times a second.
 */
export class ProgressTracker {
  private readonly perFile = new Map<string, number>();
  private bytes = 0;
  private lastEmit = 0;
  private lastEmitted = -1;
  /** (time, bytes) samples over the last `windowMs`, for the rate. */
  private samples: Array<[number, number]> = [];

  constructor(
    readonly total: number,
    private readonly onProgress: ((p: DownloadProgress) => void) | undefined,
    private readonly intervalMs = 500,
    private readonly windowMs = 5_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A file's bytes present changed by `delta` (negative when a download starts over). */
  add(file: string, delta: number): void {
    this.perFile.set(file, (this.perFile.get(file) ?? 0) + delta);
    this.bytes += delta;
    this.maybeEmit(false);
  }

  /** A file's bytes present is now `bytes` (waiting on another process's download, or done). */
  set(file: string, bytes: number): void {
    this.add(file, bytes - (this.perFile.get(file) ?? 0));
  }

  /** Starts the rate window now: bytes found already cached are not "downloaded per second". */
  markBaseline(): void {
    this.samples = [[this.now(), this.bytes]];
  }

  snapshot(): DownloadProgress {
    const t = this.now();
    this.samples.push([t, this.bytes]);
    while (this.samples.length > 2 && t - this.samples[0]![0] > this.windowMs) this.samples.shift();
    const [t0, b0] = this.samples[0]!;
    const rate = t - t0 > 0 ? Math.max(0, ((this.bytes - b0) / (t - t0)) * 1000) : 0;
    const bytes = Math.max(0, Math.min(this.bytes, this.total));
    const percent = this.total > 0 ? Math.floor((bytes / this.total) * 1000) / 10 : 100;
    return { bytes, total: this.total, rate: Math.round(rate), percent };
  }

  /** The final report: always sent, once. */
  finish(): void {
    this.maybeEmit(true);
  }

  private maybeEmit(force: boolean): void {
    if (!this.onProgress) return;
    const t = this.now();
    if (!force && t - this.lastEmit < this.intervalMs) return;
    if (force && this.lastEmitted === this.bytes) return;
    this.lastEmit = t;
    this.lastEmitted = this.bytes;
    this.onProgress(this.snapshot());
  }
}
