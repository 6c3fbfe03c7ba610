/**
 * DtsEstimator: decode times for H.264 received over RTP, which carries presentation times only.
 * Pure.
 *
 * Frames arrive in decode order. With B-frames their presentation times are out of order, but
 * the set of decode times of a run of frames is the set of their presentation times, sorted,
 * moved back by the reorder delay. So: hold `reorder` frames; when one more comes, the oldest
 * frame's DTS is the smallest presentation time not yet used, minus reorder × frame duration
 * (the smallest gap seen between sorted presentation times). Then DTS ≤ PTS and DTS increases
 * strictly for any stream whose reorder depth is at most `reorder` (x264's default B-pyramid has
 * 2). reorder = 0 (Baseline profile, which has no B-frames) makes DTS = PTS without delay.
 * Times are extended (unwrapped) RTP ticks.
 */

export interface DtsFrame<T> {
  item: T;
  pts: number;
  dts: number;
}

export class DtsEstimator<T> {
  private readonly queue: { item: T; pts: number }[] = [];
  /** Presentation times of queued frames, ascending. */
  private readonly sorted: number[] = [];
  private frameTicks = 0;
  private lastPopped: number | null = null;
  private lastDts: number | null = null;

  constructor(readonly reorder: number) {}

  /** push adds the next frame in decode order; returns the frames whose DTS is known now. */
  push(pts: number, item: T): DtsFrame<T>[] {
    this.queue.push({ item, pts });
    let i = this.sorted.length;
    while (i > 0 && (this.sorted[i - 1] ?? -Infinity) > pts) i--;
    this.sorted.splice(i, 0, pts);
    const out: DtsFrame<T>[] = [];
    while (this.queue.length > this.reorder) out.push(this.pop());
    return out;
  }

  /** flush gives the held frames (end of stream or a reset). */
  flush(): DtsFrame<T>[] {
    const out: DtsFrame<T>[] = [];
    while (this.queue.length > 0) out.push(this.pop());
    this.lastPopped = null;
    return out;
  }

  /** reset drops the held frames (after a loss the next keyframe starts over). */
  reset(): void {
    this.queue.length = 0;
    this.sorted.length = 0;
    this.lastPopped = null;
    this.lastDts = null;
  }

  private pop(): DtsFrame<T> {
    // The frame duration: the smallest positive gap between sorted presentation times known.
    let prev: number | undefined;
    for (const pts of this.sorted) {
      if (prev !== undefined) this.gap(pts - prev);
      prev = pts;
    }
    const f = this.queue.shift()!;
    const smallest = this.sorted.shift()!;
    if (this.lastPopped !== null) this.gap(smallest - this.lastPopped);
    this.lastPopped = smallest;
    let dts = smallest - this.reorder * this.frameTicks;
    if (this.lastDts !== null && dts <= this.lastDts) dts = this.lastDts + 1;
    if (dts > f.pts) dts = f.pts;
    this.lastDts = dts;
    return { item: f.item, pts: f.pts, dts };
  }

  private gap(d: number): void {
    if (d > 0 && (this.frameTicks === 0 || d < this.frameTicks)) this.frameTicks = d;
  }
}
