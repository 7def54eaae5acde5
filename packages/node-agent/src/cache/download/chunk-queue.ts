import type { ByteRange } from "./range-set.js";

/** Pieces smaller than this are not worth a request of their own. */
const MIN_PIECE = 1 << 20;

/**
 * Hands out what is missing of a file as ranges of at most `chunkBytes`, lowest offset first: the
 * lanes then advance side by side, so the gap-free prefix the hash follows keeps growing instead of
 * waiting for the end. Near the end the pieces shrink to a lane's share of what is left, so no
 * lane is still on a whole chunk while the others sit idle.
 */
export class ChunkQueue {
  private readonly gaps: Array<[number, number]>;
  private left: number;

  constructor(
    missing: readonly ByteRange[],
    private readonly chunkBytes: number,
    private readonly lanes: number,
  ) {
    this.gaps = missing.map(([s, e]) => [s, e]);
    this.left = missing.reduce((n, [s, e]) => n + e - s, 0);
  }

  /** Pieces still to hand out, counting each gap's remainder as at least one. */
  get pending(): number {
    return this.gaps.reduce((n, [s, e]) => n + Math.ceil((e - s) / this.chunkBytes), 0);
  }

  next(): ByteRange | undefined {
    const gap = this.gaps[0];
    if (!gap) return undefined;
    const share = Math.ceil(this.left / this.lanes);
    const size = Math.min(this.chunkBytes, Math.max(MIN_PIECE, share));
    const [start, gapEnd] = gap;
    const end = Math.min(gapEnd, start + size);
    if (end >= gapEnd) this.gaps.shift();
    else gap[0] = end;
    this.left -= end - start;
    return [start, end];
  }
}
