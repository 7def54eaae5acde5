/** A byte range `[start, end)` of a file. */
export type ByteRange = readonly [start: number, end: number];

/**
 * Which bytes of a file are present: sorted, disjoint, non-adjacent `[start, end)` ranges. The
 * chunk map persists it; lanes add to it as their writes land; the hash follows its prefix.
 */
export class RangeSet {
  private ranges: Array<[number, number]> = [];

  constructor(ranges: Iterable<ByteRange> = []) {
    for (const [s, e] of ranges) this.add(s, e);
  }

  /** Marks `[start, end)` present, merging with neighbours. */
  add(start: number, end: number): void {
    if (end <= start) return;
    const out: Array<[number, number]> = [];
    let s = start;
    let e = end;
    let placed = false;
    for (const r of this.ranges) {
      if (r[1] < s) out.push(r);
      else if (r[0] > e) {
        if (!placed) out.push([s, e]);
        placed = true;
        out.push(r);
      } else {
        s = Math.min(s, r[0]);
        e = Math.max(e, r[1]);
      }
    }
    if (!placed) out.push([s, e]);
    this.ranges = out;
  }

  /** Bytes present in all. */
  get bytes(): number {
    return this.ranges.reduce((n, [s, e]) => n + e - s, 0);
  }

  /** Where the present prefix ends: every byte before it is present. */
  get prefix(): number {
    const first = this.ranges[0];
    return first && first[0] === 0 ? first[1] : 0;
  }

  /** The gaps in `[0, size)`, in file order. */
  missing(size: number): ByteRange[] {
    const out: ByteRange[] = [];
    let at = 0;
    for (const [s, e] of this.ranges) {
      if (s >= size) break;
      if (s > at) out.push([at, s]);
      at = Math.max(at, e);
    }
    if (at < size) out.push([at, size]);
    return out;
  }

  /** What is present within `[0, limit)`: a file shorter than its map cannot hold the rest. */
  clip(limit: number): RangeSet {
    return new RangeSet(this.ranges.filter(([s]) => s < limit).map(([s, e]) => [s, Math.min(e, limit)] as const));
  }

  toJSON(): ByteRange[] {
    return this.ranges.map(([s, e]) => [s, e] as const);
  }
}
