/**
 * Parser for ffmpeg's `-progress` output: blocks of `key=value` lines, each block ending
 * with `progress=continue` or `progress=end`. A push parser: input may be split anywhere.
 */

/** FfmpegProgress is one progress block. */
export interface FfmpegProgress {
  /** Output time reached, microseconds (from out_time_us, else out_time_ms which ffmpeg also gives in µs). */
  outTimeUs?: number;
  frame?: number;
  fps?: number;
  /** e.g. 2.5 for "2.5x". */
  speed?: number;
  totalSize?: number;
  /** True on the final block (progress=end). */
  end: boolean;
  raw: Record<string, string>;
}

export class ProgressParser {
  private buffered = '';
  private block: Record<string, string> = {};

  constructor(private readonly onProgress: (p: FfmpegProgress) => void) {}

  push(chunk: Buffer | string): void {
    this.buffered += chunk.toString();
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl).trim();
      this.buffered = this.buffered.slice(nl + 1);
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      this.block[key] = value;
      if (key === 'progress') {
        this.onProgress(toProgress(this.block));
        this.block = {};
      }
    }
  }
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v === 'N/A') return undefined;
  const n = Number(v.replace(/x$/, ''));
  return Number.isFinite(n) ? n : undefined;
}

function toProgress(b: Record<string, string>): FfmpegProgress {
  return {
    outTimeUs: num(b.out_time_us) ?? num(b.out_time_ms),
    frame: num(b.frame),
    fps: num(b.fps),
    speed: num(b.speed),
    totalSize: num(b.total_size),
    end: b.progress === 'end',
    raw: b,
  };
}

/** progressFraction maps output time to 0..1 of `durationMs` (monotonic callers clamp themselves). */
export function progressFraction(p: FfmpegProgress, durationMs: number): number | undefined {
  if (p.end) return 1;
  if (p.outTimeUs === undefined || !(durationMs > 0)) return undefined;
  return Math.min(1, Math.max(0, p.outTimeUs / 1000 / durationMs));
}
