import { describe, expect, it } from "vitest";
import { ChunkQueue } from "./chunk-queue.js";
import { RangeSet, type ByteRange } from "./range-set.js";

describe("RangeSet", () => {
  it("merges overlapping and adjacent ranges, whatever the order they land in", () => {
    const s = new RangeSet();
    s.add(10, 20);
    s.add(30, 40);
    s.add(20, 30);
    s.add(50, 60);
    s.add(0, 5);
    s.add(55, 70);
    expect(s.toJSON()).toEqual([[0, 5], [10, 40], [50, 70]]);
    expect(s.bytes).toBe(5 + 30 + 20);
    expect(s.prefix).toBe(5);
    s.add(5, 10);
    expect(s.prefix).toBe(40);
  });

  it("lists the gaps of a file and clips to a shorter file", () => {
    const s = new RangeSet([[0, 10], [20, 30]]);
    expect(s.missing(50)).toEqual([[10, 20], [30, 50]]);
    expect(new RangeSet().missing(7)).toEqual([[0, 7]]);
    expect(new RangeSet([[0, 7]]).missing(7)).toEqual([]);
    expect(s.clip(25).toJSON()).toEqual([[0, 10], [20, 25]]);
    expect(s.clip(15).toJSON()).toEqual([[0, 10]]);
  });
});

describe("ChunkQueue", () => {
  const drain = (q: ChunkQueue): ByteRange[] => {
    const out: ByteRange[] = [];
    for (let r = q.next(); r; r = q.next()) out.push(r);
    return out;
  };
  const MiB = 1 << 20;

  it("hands out every missing byte once, lowest first, each piece at most a chunk", () => {
    const missing: ByteRange[] = [[0, 100 * MiB], [120 * MiB, 130 * MiB + 5]];
    const pieces = drain(new ChunkQueue(missing, 16 * MiB));
    for (let i = 1; i < pieces.length; i++) expect(pieces[i]![0]).toBeGreaterThanOrEqual(pieces[i - 1]![1]);
    expect(pieces.every(([s, e]) => e - s <= 16 * MiB && e > s)).toBe(true);
    const covered = new RangeSet(pieces);
    expect(covered.toJSON()).toEqual(missing);
  });

  it("counts what it has left to hand out", () => {
    const q = new ChunkQueue([[0, 64 * MiB + 1]], 16 * MiB);
    expect(q.pending).toBe(5);
    q.next();
    expect(q.pending).toBe(4);
  });
});
