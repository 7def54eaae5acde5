/** Splits a process's output into lines, forwards each, and keeps the last `max` for error messages. */
export class LineTail {
  private readonly lines: { stream: "stdout" | "stderr"; text: string }[] = [];
  private readonly partial = { stdout: "", stderr: "" };

  constructor(
    private readonly max: number,
    private readonly onLine: (stream: "stdout" | "stderr", line: string) => void = () => {},
  ) {}

  push(stream: "stdout" | "stderr", chunk: Buffer | string): void {
    const text = this.partial[stream] + chunk.toString();
    const parts = text.split(/\r?\n|\r/);
    // A single line longer than 64 KiB is cut rather than buffered without bound.
    this.partial[stream] = (parts.pop() ?? "").slice(-65_536);
    for (const line of parts) this.add(stream, line);
  }

  /** Flushes unterminated last lines (at process exit). */
  end(): void {
    for (const stream of ["stdout", "stderr"] as const) {
      if (this.partial[stream]) this.add(stream, this.partial[stream]);
      this.partial[stream] = "";
    }
  }

  /**
   * The last `n` non-empty lines, joined; stderr's when it has any (engines report errors there),
   * else stdout's.
   */
  last(n: number): string {
    const pick = (stream: "stdout" | "stderr") => this.lines.filter((l) => l.stream === stream).slice(-n).map((l) => l.text);
    const err = pick("stderr");
    return (err.length > 0 ? err : pick("stdout")).join("\n");
  }

  private add(stream: "stdout" | "stderr", line: string): void {
    const text = line.trimEnd();
    if (!text) return;
    this.onLine(stream, text);
    this.lines.push({ stream, text: text.slice(0, 1000) });
    if (this.lines.length > this.max) this.lines.shift();
  }
}
