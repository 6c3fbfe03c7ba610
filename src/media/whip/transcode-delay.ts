/**
 * TranscodeDelay measures how long audio spends inside the Opus→AAC transcoder: the wall time
 * from the moment the Opus packet holding a sample was written to ffmpeg until the AAC frame
 * ending at that sample came back. WHIP video goes to the hub as it arrives while audio takes
 * this detour, so this delay is how far audio trails video at the live edge; on a busy machine
 * it grows, and operators (and tests) need to see it rather than guess.
 *
 * Pure bookkeeping over sample counts and millisecond clocks the caller passes in.
 */

/** How many per-second buckets `recentMaxMs` looks back over. */
export const TRANSCODE_DELAY_WINDOW_SECONDS = 10;
/** Inputs remembered while waiting for their output (a stalled ffmpeg must not grow this). */
const MAX_PENDING_INPUTS = 1024;

export class TranscodeDelay {
  /** Written packets not yet covered by an output frame: [end sample, wall ms], oldest first. */
  private readonly pendingEnds: number[] = [];
  private readonly pendingWalls: number[] = [];
  private head = 0;
  /** Max delay per wall-clock second, ring indexed by second modulo the window. */
  private readonly bucketMax = new Float64Array(TRANSCODE_DELAY_WINDOW_SECONDS).fill(-1);
  private readonly bucketSecond = new Float64Array(TRANSCODE_DELAY_WINDOW_SECONDS).fill(-1);
  /** The delay of the newest output frame that could be matched, ms; -1 before the first. */
  lastMs = -1;
  maxMs = -1;

  /** input notes that the samples up to `endSample` (exclusive) were written at `wallMs`. */
  input(endSample: number, wallMs: number): void {
    if (this.pendingEnds.length - this.head >= MAX_PENDING_INPUTS) this.head++;
    this.pendingEnds.push(endSample);
    this.pendingWalls.push(wallMs);
    this.compact();
  }

  /** pendingCount is how many written packets wait for their output (bounded). */
  get pendingCount(): number {
    return this.pendingEnds.length - this.head;
  }

  private compact(): void {
    if (this.head > 256 && this.head * 2 > this.pendingEnds.length) {
      this.pendingEnds.splice(0, this.head);
      this.pendingWalls.splice(0, this.head);
      this.head = 0;
    }
  }

  /**
   * output notes an AAC frame ending at `endSample` that came back at `wallMs`; answers the delay
   * of the newest input it completes (ms), or undefined when it completes none (encoder priming).
   */
  output(endSample: number, wallMs: number): number | undefined {
    let wall: number | undefined;
    for (let end = this.pendingEnds[this.head]; end !== undefined && end <= endSample; end = this.pendingEnds[this.head]) {
      wall = this.pendingWalls[this.head];
      this.head++;
    }
    this.compact();
    if (wall === undefined) return undefined;
    const delay = Math.max(0, wallMs - wall);
    this.lastMs = delay;
    if (delay > this.maxMs) this.maxMs = delay;
    const second = Math.floor(wallMs / 1000);
    const i = second % TRANSCODE_DELAY_WINDOW_SECONDS;
    if (this.bucketSecond[i] !== second) {
      this.bucketSecond[i] = second;
      this.bucketMax[i] = delay;
    } else if (delay > (this.bucketMax[i] ?? -1)) this.bucketMax[i] = delay;
    return delay;
  }

  /** recentMaxMs is the largest delay seen in the last `seconds` whole seconds (at most the window); -1 if none. */
  recentMaxMs(nowMs: number, seconds = TRANSCODE_DELAY_WINDOW_SECONDS): number {
    const now = Math.floor(nowMs / 1000);
    const span = Math.min(seconds, TRANSCODE_DELAY_WINDOW_SECONDS);
    let max = -1;
    for (let i = 0; i < TRANSCODE_DELAY_WINDOW_SECONDS; i++) {
      const s = this.bucketSecond[i] ?? -1;
      const m = this.bucketMax[i] ?? -1;
      if (s >= 0 && now - s < span && m > max) max = m;
    }
    return max;
  }
}
