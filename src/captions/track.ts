/**
 * CaptionTrack keeps one language's final cues of a live session (bounded) and renders
 * them as WebVTT: per HLS segment (with X-TIMESTAMP-MAP) or whole (for the recording).
 */
import { writeVtt, type VttCue } from '../formats/webvtt.js';
import type { CaptionCue } from './types.js';

export const DEFAULT_MAX_CUES = 5000;
/** Line length limits: Hangul/CJK glyphs are about twice as wide as Latin letters. */
export const MAX_LINE_CHARS_LATIN = 42;
export const MAX_LINE_CHARS_CJK = 20;

const WIDE_RE = /[\u1100-\u11ff\u3000-\u9fff\uac00-\ud7af\uff00-\uffef]/;

/** breakLines wraps cue text at spaces into lines that fit a caption box. */
export function breakLines(text: string): string {
  const words = text.trim().split(/\s+/);
  const max = WIDE_RE.test(text) ? MAX_LINE_CHARS_CJK : MAX_LINE_CHARS_LATIN;
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > max) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

export interface SegmentVttOptions {
  /**
   * Added to cue times when writing: maps the stream timeline (hub dts) onto the HLS
   * media timeline (e.g. the packager's TIMELINE_START_MS - first dts).
   */
  offsetMs?: number;
  /** MPEG-TS (90 kHz) time that LOCAL 00:00:00.000 maps to; 0 suits fMP4 renditions whose tfdt is media ms × 90. */
  mpegts?: number;
}

export class CaptionTrack {
  private readonly list: CaptionCue[] = [];
  private readonly listeners = new Set<(cue: CaptionCue) => void>();
  /** Cues dropped from the front because the track was full. */
  evicted = 0;

  constructor(readonly lang: string, private readonly maxCues = DEFAULT_MAX_CUES) {}

  /** add stores a final cue (interim cues are not stored) and notifies listeners of both. */
  add(cue: CaptionCue): void {
    if (cue.type === 'final') {
      // Keep the list sorted by start time; cues nearly always arrive in order.
      let i = this.list.length;
      while (i > 0 && (this.list[i - 1]?.startMs ?? -Infinity) > cue.startMs) i--;
      this.list.splice(i, 0, cue);
      if (this.list.length > this.maxCues) {
        this.list.shift();
        this.evicted++;
      }
    }
    for (const l of this.listeners) l(cue);
  }

  /** onCue registers a listener (e.g. the HLS packager) and returns its removal. */
  onCue(listener: (cue: CaptionCue) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get cues(): readonly CaptionCue[] {
    return this.list;
  }

  /** lastEndMs is the end of the latest final cue (NaN when empty). */
  get lastEndMs(): number {
    return this.list.length ? Math.max(...this.list.slice(-8).map((c) => c.endMs)) : NaN;
  }

  /** cuesBetween lists final cues overlapping [startMs, endMs) on the stream timeline. */
  cuesBetween(startMs: number, endMs: number): CaptionCue[] {
    return this.list.filter((c) => c.endMs > startMs && c.startMs < endMs);
  }

  /**
   * segmentVtt renders the cues overlapping one HLS segment [startMs, endMs) (stream
   * timeline) as a WebVTT segment. A cue spanning segments is repeated in each, as HLS
   * expects; players de-duplicate identical cues.
   */
  segmentVtt(startMs: number, endMs: number, opts: SegmentVttOptions = {}): string {
    const offset = opts.offsetMs ?? 0;
    return writeVtt({
      timestampMap: { mpegts: opts.mpegts ?? 0, localMs: 0 },
      cues: this.cuesBetween(startMs, endMs).map((c) => toVtt(c, offset)).filter((c) => c.startMs >= 0),
    });
  }

  /** toVtt renders the whole track; offsetMs maps stream time to the file's (e.g. minus the recording's first dts). */
  toVtt(offsetMs = 0): string {
    return writeVtt({ cues: this.list.map((c) => toVtt(c, offsetMs)).filter((c) => c.endMs > 0).map((c) => ({ ...c, startMs: Math.max(0, c.startMs) })) });
  }
}

function toVtt(c: CaptionCue, offsetMs: number): VttCue {
  return { id: c.id, startMs: c.startMs + offsetMs, endMs: Math.max(c.startMs, c.endMs) + offsetMs, text: breakLines(c.text) };
}
