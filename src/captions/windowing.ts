/**
 * SlidingWindowTranscriber runs a recogniser over a live PCM stream in overlapping windows
 * (every stepMs, at most lengthMs long) and turns its output into interim and final cues.
 *
 * De-duplication is by construction: a window always starts at the end of the last final
 * cue ("committed" time), so text that was finalised is never shown to the recogniser
 * again, and a phrase still being spoken stays whole inside the next window. A phrase is
 * final once it ends at least tailGuardMs before the window's end (speech has paused), or
 * when the uncommitted audio would no longer fit in one window (long run-on speech: it is
 * cut there). When a window shows that a pause has begun, the next window runs as soon as
 * the pause is tailGuardMs long (by the recogniser's timestamps, or by the audio going
 * quiet after interim text) rather than a whole step later (earlyFinal). A text guard
 * drops echoes of the previous final cue at the window's start (recogniser timestamps are
 * coarse).
 */
import { PCM_SAMPLES_PER_MS, type PcmTranscriber, type Recogniser, type RecognisedSegment, type TranscriberSink } from './types.js';

export interface WindowOptions {
  stepMs: number;
  lengthMs: number;
  language: string;
  /** A phrase ending this close to the window's end may still be going on; it stays interim. */
  tailGuardMs?: number;
  /** Shortest window worth recognising. */
  minWindowMs?: number;
  /** Windows whose new audio is quieter than this RMS (0..1) are skipped as silence. */
  silenceRms?: number;
  /** Prefix of cue ids (unique per session). */
  idPrefix?: string;
  /**
   * When a window shows a phrase that ended before the window's end (a pause has begun),
   * run the next window as soon as the tail guard has passed after it, instead of at the
   * next step: the phrase becomes final up to one step earlier. Only while the recogniser
   * keeps up (its last window took under EARLY_MAX_STEP_SHARE of a step). Likewise when
   * interim text is pending and the last tailGuardMs of audio are quiet (below silenceRms):
   * one window right away. Default true.
   */
  earlyFinal?: boolean;
}

export type { WindowStats, TranscriberSink } from './types.js';

export const DEFAULT_TAIL_GUARD_MS = 800;
export const DEFAULT_MIN_WINDOW_MS = 1000;
/** About -50 dBFS: below this a window is treated as silence and not recognised. */
export const DEFAULT_SILENCE_RMS = 0.003;
/** A phrase ending at least this long before the window's end counts as a pause that has begun. */
export const PAUSE_HINT_MS = 200;
/** Early windows only while the last window's recognition took less than this share of a step. */
export const EARLY_MAX_STEP_SHARE = 2 / 3;
/** Audio discontinuities longer than this flush pending text and restart the buffer. */
const MAX_TIMELINE_GAP_MS = 500;
/** A final cue closer than this to the previous one with the same text is an echo. */
const ECHO_WINDOW_MS = 1500;
/** Whole-segment annotations whisper emits for non-speech: [BLANK_AUDIO], (music), *laughs*. */
const NON_SPEECH_RE = /^\s*(\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|♪+)\s*$/;

/** normalizeText folds case, punctuation and spaces so repeats compare equal. */
export function normalizeText(s: string): string {
  return s.toLowerCase().replace(/[\p{P}\p{S}\s]+/gu, ' ').trim();
}

export class SlidingWindowTranscriber implements PcmTranscriber {
  private readonly opts: Required<WindowOptions>;
  /** Buffered samples, bufStartMs is the stream time of buf[0]. */
  private buf = new Float32Array(0);
  private bufLen = 0;
  private bufStartMs = NaN;
  /** Everything before this stream time is final (or discarded silence). */
  private committedMs = NaN;
  /** End of the last window given to the recogniser. */
  private processedUntilMs = NaN;
  private lastRunEndMs = NaN;
  /** Stream time at which a pending pause will have lasted tailGuardMs (NaN: none pending). */
  private pauseDueMs = NaN;
  /** Recognition time of the last window (early windows only while it is small). */
  private lastInferMs = 0;
  /** The interim text a quiet-tail window was already run for (one such window per text). */
  private quietTriedFor = '';
  private busy = false;
  private closed = false;
  private flushing = false;
  private seq = 0;
  private lastInterim = '';
  private lastFinal: { norm: string; endMs: number } | undefined;
  /** [stream ms at chunk end, wall ms it arrived], for caption delay. */
  private arrivals: [number, number][] = [];
  private idle: Promise<void> = Promise.resolve();
  private idleResolve: (() => void) | undefined;

  constructor(
    private readonly recogniser: Recogniser,
    opts: WindowOptions,
    private readonly sink: TranscriberSink,
    private readonly now: () => number = Date.now,
  ) {
    if (opts.stepMs <= 0 || opts.lengthMs < opts.stepMs) throw new Error('captions: need 0 < stepMs <= lengthMs');
    this.opts = {
      tailGuardMs: DEFAULT_TAIL_GUARD_MS, minWindowMs: DEFAULT_MIN_WINDOW_MS, silenceRms: DEFAULT_SILENCE_RMS, idPrefix: 'c', earlyFinal: true,
      ...opts,
    };
    // Capacity: one window plus the audio that may arrive during one slow recognition.
    this.buf = new Float32Array(Math.ceil((opts.lengthMs + 2 * opts.stepMs) * PCM_SAMPLES_PER_MS));
  }

  /** capacitySamples is the size of the audio buffer (bounded: one window plus two steps). */
  get capacitySamples(): number {
    return this.buf.length;
  }

  /** endMs is the stream time just past the buffered audio. */
  get endMs(): number {
    return this.bufStartMs + this.bufLen / PCM_SAMPLES_PER_MS;
  }

  /** push appends 16 kHz mono samples whose first sample is at stream time startMs. */
  push(samples: Float32Array, startMs: number): void {
    if (this.closed || samples.length === 0) return;
    if (Number.isNaN(this.bufStartMs)) {
      this.bufStartMs = startMs;
      this.committedMs = this.processedUntilMs = this.lastRunEndMs = startMs;
    } else if (Math.abs(startMs - this.endMs) > MAX_TIMELINE_GAP_MS) {
      // The timeline jumped (publisher restarted, lost audio): start over from here.
      this.bufLen = 0;
      this.bufStartMs = startMs;
      this.committedMs = this.processedUntilMs = this.lastRunEndMs = startMs;
      this.lastInterim = '';
      this.pauseDueMs = NaN;
    }
    this.append(samples);
    this.arrivals.push([this.endMs, this.now()]);
    while (this.arrivals.length > 1 && (this.arrivals[0]?.[0] ?? Infinity) < this.committedMs - this.opts.lengthMs) this.arrivals.shift();
    this.maybeRun();
  }

  /** flush recognises what is left (stream end) and finalises everything; resolves when done. */
  async flush(): Promise<void> {
    this.flushing = true;
    while (this.busy) await this.idle;
    if (this.closed || Number.isNaN(this.bufStartMs)) return;
    const we = this.endMs;
    if (we - this.committedMs >= this.opts.minWindowMs) await this.runWindow(we, true);
    this.closed = true;
  }

  /** close stops without recognising the rest. */
  close(): void {
    this.closed = true;
  }

  /** waitIdle resolves when no recognition is running. */
  waitIdle(): Promise<void> {
    return this.busy ? this.idle : Promise.resolve();
  }

  /** ready: a window only ever waits for the one recognition running now. */
  ready(): Promise<void> {
    return this.waitIdle();
  }

  private append(samples: Float32Array): void {
    // Keep only what a future window can use: from the committed point or one window back.
    const keepFromMs = Math.max(this.committedMs, this.endMs + samples.length / PCM_SAMPLES_PER_MS - this.opts.lengthMs);
    const drop = Math.max(0, Math.min(this.bufLen, Math.floor((keepFromMs - this.bufStartMs) * PCM_SAMPLES_PER_MS)));
    if (drop > 0) {
      this.buf.copyWithin(0, drop, this.bufLen);
      this.bufLen -= drop;
      this.bufStartMs += drop / PCM_SAMPLES_PER_MS;
    }
    if (this.bufLen + samples.length > this.buf.length) {
      const grown = new Float32Array(Math.max(this.buf.length * 2, this.bufLen + samples.length));
      grown.set(this.buf.subarray(0, this.bufLen));
      this.buf = grown;
    }
    this.buf.set(samples, this.bufLen);
    this.bufLen += samples.length;
  }

  private maybeRun(): void {
    if (this.busy || this.closed || this.flushing) return;
    const we = this.endMs;
    // A step has passed, or a pending pause has lasted the tail guard (early finalisation).
    if (we - this.lastRunEndMs < this.opts.stepMs && !(we >= this.pauseDueMs) && !this.quietAfterInterim(we)) return;
    this.busy = true;
    this.idle = new Promise((r) => (this.idleResolve = r));
    void this.runWindow(we, false).finally(() => {
      this.busy = false;
      this.idleResolve?.();
      this.maybeRun();
    });
  }

  /**
   * quietAfterInterim: interim text is pending and the last tailGuardMs of audio are quiet
   * (below silenceRms): the speaker has paused since the last window, so a window now can
   * make the phrase final. Once per interim text, and only while the recogniser keeps up.
   */
  private quietAfterInterim(we: number): boolean {
    const { earlyFinal, tailGuardMs, stepMs, silenceRms } = this.opts;
    if (!earlyFinal || this.lastInterim === '' || this.quietTriedFor === this.lastInterim) return false;
    if (this.lastInferMs >= stepMs * EARLY_MAX_STEP_SHARE || we - this.lastRunEndMs < tailGuardMs) return false;
    if (this.rms(we - tailGuardMs, we) >= silenceRms) return false;
    this.quietTriedFor = this.lastInterim;
    return true;
  }

  private rms(fromMs: number, toMs: number): number {
    const a = Math.max(0, Math.floor((fromMs - this.bufStartMs) * PCM_SAMPLES_PER_MS));
    const b = Math.min(this.bufLen, Math.floor((toMs - this.bufStartMs) * PCM_SAMPLES_PER_MS));
    let sum = 0;
    for (const v of this.buf.subarray(a, Math.max(a, b))) sum += v * v;
    return b > a ? Math.sqrt(sum / (b - a)) : 0;
  }

  private async runWindow(we: number, final: boolean): Promise<void> {
    const { lengthMs, stepMs, tailGuardMs, minWindowMs } = this.opts;
    const ws = Math.max(this.committedMs, we - lengthMs, this.bufStartMs);
    this.lastRunEndMs = we;
    this.pauseDueMs = NaN;
    if (ws > this.processedUntilMs) this.sink.onDropped?.(ws - this.processedUntilMs);
    const newFrom = Math.max(ws, this.processedUntilMs);
    this.processedUntilMs = Math.max(this.processedUntilMs, we);
    if (we - ws < minWindowMs) return;
    if (this.lastInterim === '' && this.rms(newFrom, we) < this.opts.silenceRms && this.rms(ws, we) < this.opts.silenceRms) {
      this.committedMs = Math.max(this.committedMs, we - tailGuardMs);
      return;
    }
    const a = Math.floor((ws - this.bufStartMs) * PCM_SAMPLES_PER_MS);
    const b = Math.floor((we - this.bufStartMs) * PCM_SAMPLES_PER_MS);
    const pcm = this.buf.slice(a, b);
    const t0 = this.now();
    let segments: RecognisedSegment[];
    try {
      segments = await this.recogniser.recognise({ pcm, language: this.opts.language, startMs: ws });
    } catch (err) {
      this.sink.onError?.(err);
      return;
    }
    const inferMs = this.now() - t0;
    this.lastInferMs = inferMs;
    this.sink.onWindow?.({ audioMs: we - ws, inferMs });
    if (this.closed && !final) return;

    const abs = segments
      .filter((s) => s.text.trim() !== '' && !NON_SPEECH_RE.test(s.text))
      .map((s) => ({ text: s.text.trim(), startMs: ws + Math.max(0, s.startMs), endMs: Math.min(we, ws + Math.max(s.startMs, s.endMs)) }))
      .filter((s) => !this.isEcho(s));

    // Which phrases are final: those followed by a pause; all of them if the uncommitted
    // audio would outgrow the next window, or at the end of the stream.
    let nFinal = 0;
    while ((abs[nFinal]?.endMs ?? Infinity) <= we - tailGuardMs) nFinal++;
    const mustReach = we + stepMs - lengthMs;
    let nextCommit = nFinal > 0 ? this.commitPoint(abs, nFinal, we) : this.committedMs;
    if (final || nextCommit < mustReach) {
      nFinal = abs.length;
      nextCommit = we;
    }
    for (const phrase of abs.slice(0, nFinal)) this.publishFinal(phrase);
    if (abs.length === 0) nextCommit = Math.max(nextCommit, we - tailGuardMs);
    this.committedMs = Math.max(this.committedMs, nextCommit);

    const rest = abs.slice(nFinal);
    const firstRest = rest[0];
    // The first unfinished phrase already ended before the window's end: once the tail
    // guard has passed after it, the next window can make it final (see maybeRun).
    if (this.opts.earlyFinal && !final && firstRest !== undefined && firstRest.endMs <= we - PAUSE_HINT_MS && inferMs < stepMs * EARLY_MAX_STEP_SHARE) {
      this.pauseDueMs = firstRest.endMs + tailGuardMs;
    }
    const interim = rest.map((s) => s.text).join(' ');
    if (interim !== this.lastInterim) {
      this.lastInterim = interim;
      if (interim && firstRest) this.sink.onCue({ type: 'interim', id: this.nextId(), text: interim, startMs: Math.round(firstRest.startMs), endMs: Math.round(we), lang: this.opts.language });
    }
  }

  /** commitPoint is where the next window starts after finalising abs[0..n). */
  private commitPoint(abs: { startMs: number; endMs: number }[], n: number, we: number): number {
    const last = abs[n - 1];
    if (last === undefined) throw new RangeError(`commitPoint: no phrase at ${n - 1}`);
    const end = last.endMs;
    const next = abs[n];
    // Split the gap to the next phrase (or to the window's end) so coarse timestamps do
    // not cut a word off either side.
    return next ? Math.max(end, (end + next.startMs) / 2) : end + Math.min(this.opts.tailGuardMs, we - end) / 2;
  }

  private isEcho(s: { text: string; startMs: number }): boolean {
    const last = this.lastFinal;
    if (!last || s.startMs > last.endMs + ECHO_WINDOW_MS) return false;
    const norm = normalizeText(s.text);
    return norm === '' || last.norm === norm || last.norm.endsWith(norm);
  }

  private nextId(): string {
    return `${this.opts.idPrefix}${this.seq + 1}`;
  }

  private publishFinal(s: { text: string; startMs: number; endMs: number }): void {
    this.seq++;
    this.lastFinal = { norm: normalizeText(s.text), endMs: s.endMs };
    this.lastInterim = '';
    this.sink.onCue({ type: 'final', id: `${this.opts.idPrefix}${this.seq}`, text: s.text, startMs: Math.round(s.startMs), endMs: Math.round(s.endMs), lang: this.opts.language });
    // Delay: from when the phrase's last audio arrived to now.
    while (this.arrivals.length > 1 && (this.arrivals[1]?.[0] ?? Infinity) <= s.endMs) this.arrivals.shift();
    const hit = this.arrivals.find(([t]) => t >= s.endMs);
    if (hit) this.sink.onDelay?.(this.now() - hit[1]);
  }
}
