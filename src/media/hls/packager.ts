/**
 * HlsPackager turns one live stream (hub frames) into an LL-HLS rendition: an init segment,
 * partial segments (one moof+mdat each, built once) and media segments (the concatenation
 * of their parts), in a sliding window. It owns no timers and no sockets.
 */
import { randomBytes } from 'node:crypto';
import {
  initSegment, mediaFragment, SAMPLE_FLAGS_NON_SYNC, SAMPLE_FLAGS_SYNC, VIDEO_TIMESCALE,
  type Fmp4Sample, type Fmp4Track, type Fmp4TrackRun,
} from '../../formats/fmp4.js';
import type { AudioTrackInfo, MediaFrame, StreamSubscriber, VideoTrackInfo } from '../hub/types.js';
import type { MediaPlaylistModel, PlaylistSegment, RenditionReport } from './playlist.js';
import { AudioClock, msToTicks, TimestampUnwrapper } from './timeline.js';

/** Decode time given to the first sample of a packager, so early audio never goes negative. */
export const TIMELINE_START_MS = 10_000;
/** PART-HOLD-BACK in part targets unless configured (Apple's recommended minimum). */
export const DEFAULT_PART_HOLD_BACK_PARTS = 3;
/** Gap left on the timeline after a session ends, so a new session's early frames never overlap the old one. */
export const RESTART_GAP_MS = 1000;
/** Parts are listed for segments ending within this many target durations of the live edge. */
export const PART_LIST_TARGET_DURATIONS = 3;
/** Segments kept in memory after they leave the playlist, for clients that are a little behind. */
export const RETAINED_EXTRA_SEGMENTS = 2;
/** Samples per AAC frame. */
const AAC_FRAME_SAMPLES = 1024;
/** A segment is cut at the first keyframe at least this close to the target duration. */
const SEGMENT_CUT_TOLERANCE_MS = 1;
/** Frame duration assumed before two frames have been seen. */
const DEFAULT_FRAME_MS = 40;
/** Audio kept while waiting for video (memory bound when video stalls). */
const MAX_PENDING_AUDIO_FRAMES = 2000;
const VIDEO_TRACK_ID = 1;
const AUDIO_TRACK_ID = 2;

/** HlsInit is the init segment of one publishing session. */
export interface HlsInit {
  uri: string;
  bytes: Buffer;
  video?: VideoTrackInfo;
  audio?: AudioTrackInfo;
  /** CODECS attribute value. */
  codecs: string;
}

/** HlsPart is one partial segment. */
export interface HlsPart {
  /** Global part number within this packager; names the part's URI. */
  id: number;
  msn: number;
  /** Index within its segment (the _HLS_part number). */
  index: number;
  uri: string;
  durationMs: number;
  independent: boolean;
  bytes: Buffer;
}

/** HlsSegment is one media segment, complete or in progress. */
export interface HlsSegment {
  msn: number;
  uri: string;
  /** Start on the packager's timeline, ms. */
  startMs: number;
  durationMs: number;
  /** Wall-clock time of the first sample, epoch ms. */
  wallclock: number;
  /** Packager timeline minus publisher (dts) time in this segment's session: maps stream times (captions) onto it. */
  streamOffsetMs: number;
  discontinuity: boolean;
  init: HlsInit;
  parts: HlsPart[];
  /** The whole segment; set when it completes. */
  bytes?: Buffer;
  /** Video frames in the segment (for the frame rate). */
  videoFrames: number;
  complete: boolean;
}

export interface PackagerOptions {
  /** Rendition name, e.g. "source". */
  name: string;
  targetDurationSeconds: number;
  partTargetSeconds: number;
  windowSegments: number;
  /** Wall clock for EXT-X-PROGRAM-DATE-TIME (epoch ms). */
  now?: () => number;
  /** Tag that makes resource names unique per packager; random by default. */
  tag?: string;
  /** PART-HOLD-BACK as a multiple of the part target (default 3). */
  partHoldBackParts?: number;
}

interface PendingVideo {
  ms: number;
  ticks: number;
  cto: number;
  keyframe: boolean;
  data: Buffer;
  duration?: number;
}

interface PendingAudio {
  ms: number;
  ticks: number;
  data: Buffer;
}

interface Session {
  init: HlsInit;
  video?: VideoTrackInfo;
  audio?: AudioTrackInfo;
  /** First raw (unwrapped) dts seen; maps to baseMs on the packager timeline. */
  firstDts?: number;
  baseMs: number;
  wallAtBase?: number;
  unwrapVideo: TimestampUnwrapper;
  unwrapAudio: TimestampUnwrapper;
  audioClock?: AudioClock;
}

export type PackagerEvent = 'part' | 'segment' | 'end' | 'init';

/**
 * SequencePosition is where a rendition's media sequence stands, for a successor to carry it on
 * (a failover to another node, docs/scale-out.md): the next media sequence number and the
 * discontinuity sequence number of the newest segment.
 */
export interface SequencePosition {
  nextMsn: number;
  discontinuity: number;
}

/** HlsPackager packages one rendition; it is a StreamSubscriber. */
export class HlsPackager implements StreamSubscriber {
  readonly name: string;
  readonly targetMs: number;
  readonly partTargetMs: number;
  readonly windowSegments: number;
  readonly tag: string;
  readonly partHoldBackParts: number;
  private readonly now: () => number;

  /** Complete segments still in memory (window plus a few), oldest first. */
  readonly segments: HlsSegment[] = [];
  current: HlsSegment | undefined;
  ended = false;
  /** Changes whenever the playlist would change. */
  version = 0;
  /** Largest rounded segment duration seen, for EXT-X-TARGETDURATION. */
  private maxSegmentSeconds = 0;
  /** Longest part written, ms: PART-TARGET is raised to it if one frame alone outlasts the configured target. */
  private maxPartMs = 0;

  private session: Session | undefined;
  private sessionCount = 0;
  private nextMsn = 0;
  private nextPartId = 0;
  private fragmentSequence = 0;
  private discontinuitySequence = 0;
  private pendingDiscontinuity = false;
  /** The next session carries on another packager's sequence (continueSequence): it starts with a discontinuity. */
  private continued = false;
  private partStartMs = 0;
  private lastEndMs = TIMELINE_START_MS;
  private lastVideoTicks = -1;
  private frameMs = DEFAULT_FRAME_MS;
  private pendingVideo: PendingVideo[] = [];
  private pendingAudio: PendingAudio[] = [];
  private readonly byUri = new Map<string, HlsPart | HlsSegment | HlsInit>();
  private readonly listeners = new Set<(event: PackagerEvent) => void>();
  /** Bytes written, for the bandwidth estimate. */
  private peakBitsPerSecond = 0;

  constructor(opts: PackagerOptions) {
    this.name = opts.name;
    this.targetMs = Math.round(opts.targetDurationSeconds * 1000);
    this.partTargetMs = Math.round(opts.partTargetSeconds * 1000);
    this.windowSegments = opts.windowSegments;
    this.now = opts.now ?? Date.now;
    this.tag = opts.tag ?? randomBytes(4).toString('hex');
    this.partHoldBackParts = opts.partHoldBackParts ?? DEFAULT_PART_HOLD_BACK_PARTS;
  }

  /** onUpdate registers a listener called after every change; returns the remover. */
  onUpdate(listener: (event: PackagerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: PackagerEvent): void {
    this.version++;
    for (const l of this.listeners) l(event);
  }

  // ---- StreamSubscriber ----

  onTracks(video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined): void {
    const s = this.session;
    if (s && sameTrack(s.video, video) && sameTrack(s.audio, audio)) return;
    this.startSession(video, audio);
  }

  onFrame(frame: MediaFrame): void {
    const s = this.session;
    if (!s || this.ended) return;
    if (frame.kind === 'video') {
      if (!s.video) return;
      const dts = s.unwrapVideo.unwrap(frame.dts);
      this.onVideo(this.toTimeline(s, dts), this.toTimeline(s, dts + (frame.pts - frame.dts)), frame.keyframe, frame.data);
    } else {
      if (!s.audio || !s.audioClock) return;
      const dts = s.unwrapAudio.unwrap(frame.dts);
      this.onAudio(this.toTimeline(s, dts), frame.data);
    }
  }

  onEnd(): void {
    if (this.ended) return;
    this.finishSession();
    this.ended = true;
    this.emit('end');
  }

  // ---- sessions ----

  /**
   * wallClockOf, when set, gives the wall-clock time of a session's first dts (for
   * PROGRAM-DATE-TIME) instead of the arrival time: a live ABR rendition keeps its source's
   * timestamps and borrows the source's clock, so the variants' PDTs line up for players.
   */
  wallClockOf?: (dts: number) => number | undefined;

  /** wallclockAt is the wall-clock time a dts of the current session maps to, once it has media. */
  wallclockAt(dts: number): number | undefined {
    const s = this.session;
    if (!s || s.firstDts === undefined || s.wallAtBase === undefined) return undefined;
    return s.wallAtBase + (dts - s.firstDts);
  }

  /** startSession begins a publishing session (first, restart, or codec change): new init, discontinuity. */
  startSession(video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined): void {
    const previousInit = this.session?.init;
    if (this.session) this.finishSession();
    // An init segment no segment refers to (headers replaced before any media) is dropped.
    if (previousInit && !this.segments.some((x) => x.init === previousInit)) this.byUri.delete(previousInit.uri);
    const hadSegments = this.segments.length > 0;
    this.ended = false;
    this.sessionCount++;
    const tracks: Fmp4Track[] = [];
    if (video && (video.codec === 'avc' || video.codec === 'hevc')) {
      tracks.push({ kind: 'video', id: VIDEO_TRACK_ID, codec: video.codec, timescale: VIDEO_TIMESCALE, config: video.config, width: video.width, height: video.height });
    } else video = undefined;
    if (audio && audio.codec === 'aac') {
      tracks.push({ kind: 'audio', id: AUDIO_TRACK_ID, codec: 'aac', timescale: audio.sampleRate, config: audio.config, channels: audio.channels, sampleRate: audio.sampleRate });
    } else audio = undefined;
    if (tracks.length === 0) {
      this.session = undefined;
      return;
    }
    const init: HlsInit = {
      uri: `init-${this.tag}-${this.sessionCount}.mp4`,
      bytes: initSegment(tracks),
      video,
      audio,
      codecs: [video?.codecString, audio?.codecString].filter(Boolean).join(','),
    };
    this.byUri.set(init.uri, init);
    this.session = {
      init,
      video,
      audio,
      baseMs: hadSegments ? this.lastEndMs + RESTART_GAP_MS : this.lastEndMs,
      unwrapVideo: new TimestampUnwrapper(),
      unwrapAudio: new TimestampUnwrapper(),
      audioClock: audio ? new AudioClock(audio.sampleRate, AAC_FRAME_SAMPLES) : undefined,
    };
    this.pendingDiscontinuity = hadSegments || this.continued;
    this.continued = false;
    this.lastVideoTicks = -1;
    this.emit('init');
  }

  /** finishSession flushes what is pending and closes the open segment. */
  private finishSession(): void {
    const last = this.pendingVideo[this.pendingVideo.length - 1];
    if (last && last.duration === undefined) last.duration = Math.max(1, msToTicks(this.frameMs, VIDEO_TIMESCALE));
    if (this.current) {
      let endMs: number;
      if (this.session?.video) endMs = last ? last.ms + this.frameMs : this.partStartMs;
      else {
        const a = this.pendingAudio[this.pendingAudio.length - 1];
        endMs = a ? a.ms + (AAC_FRAME_SAMPLES * 1000) / (this.session?.audio?.sampleRate ?? 48000) : this.partStartMs;
      }
      this.flushPart(endMs);
      this.closeSegment();
    }
    this.pendingVideo = [];
    this.pendingAudio = [];
    this.session = undefined;
  }

  private toTimeline(s: Session, dts: number): number {
    if (s.firstDts === undefined) {
      s.firstDts = dts;
      s.wallAtBase = this.wallClockOf?.(dts) ?? this.now();
    }
    return dts - s.firstDts + s.baseMs;
  }

  // ---- cutting ----

  private onVideo(ms: number, ptsMs: number, keyframe: boolean, data: Buffer): void {
    let ticks = msToTicks(ms, VIDEO_TIMESCALE);
    if (ticks <= this.lastVideoTicks) ticks = this.lastVideoTicks + 1; // keep decode times increasing
    const prev = this.pendingVideo[this.pendingVideo.length - 1];
    if (prev) {
      prev.duration = ticks - prev.ticks;
      this.frameMs = Math.max(1, (ticks - prev.ticks) / (VIDEO_TIMESCALE / 1000));
    }
    this.lastVideoTicks = ticks;
    const frame: PendingVideo = { ms, ticks, cto: msToTicks(ptsMs, VIDEO_TIMESCALE) - msToTicks(ms, VIDEO_TIMESCALE), keyframe, data };
    if (!this.current) {
      if (!keyframe) return; // wait for a keyframe: every segment starts decodable
      this.openSegment(ms);
    } else {
      this.keepVideoPartWithinTarget(ticks);
      const first = this.pendingVideo[0];
      if (keyframe && ms - this.current.startMs >= this.targetMs - SEGMENT_CUT_TOLERANCE_MS) {
        this.flushPart(ms);
        this.closeSegment();
        this.openSegment(ms);
      } else if (first && ticks + msToTicks(this.frameMs, VIDEO_TIMESCALE) - first.ticks > this.partTargetTicks()) {
        // This frame would likely end past the target (its duration is known only with the next frame): cut before it.
        this.flushPart(ms);
      }
    }
    this.pendingVideo.push(frame);
  }

  private partTargetTicks(): number {
    return msToTicks(this.partTargetMs, VIDEO_TIMESCALE);
  }

  /**
   * keepVideoPartWithinTarget cuts the pending part before its last frame when a frame arriving at
   * `ticks` shows that last frame ends past the part target (a late frame: the cut before it
   * guessed its duration from the one before). A lone frame longer than the target stays one part.
   */
  private keepVideoPartWithinTarget(ticks: number): void {
    const first = this.pendingVideo[0];
    const last = this.pendingVideo[this.pendingVideo.length - 1];
    if (!first || !last || first === last || ticks - first.ticks <= this.partTargetTicks()) return;
    this.flushPart(last.ms, this.pendingVideo.length - 1);
  }

  private onAudio(ms: number, data: Buffer): void {
    const s = this.session!;
    const ticks = s.audioClock!.place(ms);
    const frame: PendingAudio = { ms, ticks, data };
    if (s.video) {
      if (!this.current || ms < this.current.startMs - this.frameMs) return; // before the first keyframe
      this.pendingAudio.push(frame);
      if (this.pendingAudio.length > MAX_PENDING_AUDIO_FRAMES) this.pendingAudio.shift();
      return;
    }
    // Audio-only: audio drives the cuts; every AAC frame is a sync sample.
    // A part's duration is its samples' (sample-exact, see flushPart), known before adding this frame.
    const first = this.pendingAudio[0];
    if (!this.current) this.openSegment(ms);
    else if (ms - this.current.startMs >= this.targetMs - SEGMENT_CUT_TOLERANCE_MS) {
      this.flushPart(ms);
      this.closeSegment();
      this.openSegment(ms);
    } else if (first && ((ticks + AAC_FRAME_SAMPLES - first.ticks) * 1000) / s.audio!.sampleRate > this.partTargetMs) {
      this.flushPart(ms);
    }
    this.pendingAudio.push(frame);
  }

  private openSegment(ms: number): void {
    const s = this.session!;
    const msn = this.nextMsn++;
    this.current = {
      msn,
      uri: `seg-${this.tag}-${msn}.m4s`,
      startMs: ms,
      durationMs: 0,
      wallclock: (s.wallAtBase ?? this.now()) + (ms - s.baseMs),
      streamOffsetMs: s.baseMs - (s.firstDts ?? 0),
      discontinuity: this.pendingDiscontinuity,
      init: s.init,
      parts: [],
      videoFrames: 0,
      complete: false,
    };
    this.pendingDiscontinuity = false;
    this.partStartMs = ms;
  }

  /**
   * flushPart writes the pending samples before `endMs` as one part of the open segment: the
   * first `videoFrames` pending video frames (all by default) and the audio before `endMs`.
   */
  private flushPart(endMs: number, videoFrames = this.pendingVideo.length): void {
    const seg = this.current;
    const s = this.session;
    if (!seg || !s) return;
    if (s.video && videoFrames === 0) return; // audio waits for the next video part
    const video = this.pendingVideo.splice(0, videoFrames);
    let n = 0;
    while ((this.pendingAudio[n]?.ms ?? Infinity) < endMs) n++;
    const audio = this.pendingAudio.splice(0, n);
    if (video.length === 0 && audio.length === 0) return;
    const runs: Fmp4TrackRun[] = [];
    const [firstVideo] = video;
    const [firstAudio] = audio;
    if (firstVideo) {
      runs.push({
        trackId: VIDEO_TRACK_ID,
        baseMediaDecodeTime: firstVideo.ticks,
        video: true,
        samples: video.map<Fmp4Sample>((f) => ({
          duration: f.duration ?? 1,
          flags: f.keyframe ? SAMPLE_FLAGS_SYNC : SAMPLE_FLAGS_NON_SYNC,
          compositionTimeOffset: f.cto,
          data: f.data,
        })),
      });
    }
    if (firstAudio) {
      runs.push({
        trackId: AUDIO_TRACK_ID,
        baseMediaDecodeTime: firstAudio.ticks,
        video: false,
        samples: audio.map<Fmp4Sample>((f, i) => ({
          duration: (audio[i + 1]?.ticks ?? f.ticks + AAC_FRAME_SAMPLES) - f.ticks,
          flags: 0,
          compositionTimeOffset: 0,
          data: f.data,
        })),
      });
    }
    // Part duration on the driving track's timeline (video when present).
    let durationMs: number;
    if (s.video) {
      durationMs = video.reduce((acc, f) => acc + (f.duration ?? 0), 0) / (VIDEO_TIMESCALE / 1000);
    } else {
      const rate = s.audio!.sampleRate;
      // Audio alone: the part is its one run's samples.
      durationMs = ((runs[0]?.samples ?? []).reduce((acc, smp) => acc + smp.duration, 0) * 1000) / rate;
    }
    const bytes = mediaFragment(++this.fragmentSequence, runs);
    const id = this.nextPartId++;
    const part: HlsPart = {
      id,
      msn: seg.msn,
      index: seg.parts.length,
      uri: `part-${this.tag}-${id}.m4s`,
      durationMs,
      independent: s.video ? (firstVideo?.keyframe ?? false) : true,
      bytes,
    };
    seg.parts.push(part);
    this.maxPartMs = Math.max(this.maxPartMs, durationMs);
    seg.durationMs += durationMs;
    seg.videoFrames += video.length;
    this.byUri.set(part.uri, part);
    this.partStartMs = endMs;
    this.emit('part');
  }

  private closeSegment(): void {
    const seg = this.current;
    this.current = undefined;
    if (!seg || seg.parts.length === 0) return;
    // One buffer for the whole segment; parts become views into it (memory is held once).
    seg.bytes = Buffer.concat(seg.parts.map((p) => p.bytes));
    let off = 0;
    for (const p of seg.parts) {
      p.bytes = seg.bytes.subarray(off, off + p.bytes.length);
      off += p.bytes.length;
    }
    seg.complete = true;
    this.lastEndMs = seg.startMs + seg.durationMs;
    this.maxSegmentSeconds = Math.max(this.maxSegmentSeconds, Math.round(seg.durationMs / 1000));
    if (seg.durationMs > 0) this.peakBitsPerSecond = Math.max(this.peakBitsPerSecond, (seg.bytes.length * 8 * 1000) / seg.durationMs);
    this.segments.push(seg);
    this.byUri.set(seg.uri, seg);
    this.evict();
    this.emit('segment');
  }

  /** evict frees segments beyond the window (plus a small grace) and their parts. */
  private evict(): void {
    const keep = this.windowSegments + RETAINED_EXTRA_SEGMENTS;
    while (this.segments.length > keep) {
      const old = this.segments.shift()!;
      this.noteEvicted(old);
      this.byUri.delete(old.uri);
      for (const p of old.parts) this.byUri.delete(p.uri);
      if (!this.segments.some((x) => x.init === old.init) && this.current?.init !== old.init && this.session?.init !== old.init) {
        this.byUri.delete(old.init.uri);
      }
    }
  }

  // ---- queries ----

  /** resource finds an init segment, segment or part by its URI name. */
  resource(name: string): { kind: 'init' | 'segment' | 'part'; bytes: Buffer } | undefined {
    const r = this.byUri.get(name);
    if (!r) return undefined;
    if ('codecs' in r) return { kind: 'init', bytes: r.bytes };
    if ('index' in r) return { kind: 'part', bytes: r.bytes };
    return r.bytes ? { kind: 'segment', bytes: r.bytes } : undefined;
  }

  /** The init segment of the current (or last) session. */
  get init(): HlsInit | undefined {
    return this.session?.init ?? this.current?.init ?? this.segments[this.segments.length - 1]?.init;
  }

  /** The part URI the next part will have (EXT-X-PRELOAD-HINT). */
  get nextPartUri(): string {
    return `part-${this.tag}-${this.nextPartId}.m4s`;
  }

  /** Whether the part named `name` is the next one to be written (a preload-hinted request). */
  isFuturePart(name: string): boolean {
    const m = /^part-([0-9a-f]+)-(\d+)\.m4s$/.exec(name);
    return !!m && m[1] === this.tag && Number(m[2]) >= this.nextPartId && Number(m[2]) <= this.nextPartId + 2;
  }

  /** Window segments (complete) shown in the playlist. */
  windowed(): HlsSegment[] {
    return this.segments.slice(-this.windowSegments);
  }

  /** sequencePosition says where this rendition's sequence stands (undefined before its first segment). */
  sequencePosition(): SequencePosition | undefined {
    const newest = this.current ?? this.segments.at(-1);
    if (!newest) return undefined;
    let discontinuity = this.discontinuitySequence;
    for (const seg of this.segments) if (seg.discontinuity) discontinuity++;
    if (this.current?.discontinuity) discontinuity++;
    return { nextMsn: this.nextMsn, discontinuity };
  }

  /**
   * continueSequence carries on another packager's sequence (the channel's previous primary, on
   * another node): the next session's first segment is numbered `nextMsn` or later and starts
   * with a discontinuity numbered after `discontinuity`. Call it before the session's tracks.
   */
  continueSequence(pos: SequencePosition): void {
    if (pos.nextMsn > this.nextMsn) this.nextMsn = pos.nextMsn;
    if (this.segments.length === 0 && !this.current) this.discontinuitySequence = Math.max(this.discontinuitySequence, pos.discontinuity);
    this.continued = true;
  }

  /** lastPosition is the MSN and part index of the newest part (the in-progress segment's, if any). */
  lastPosition(): { msn: number; part: number } | undefined {
    const cur = this.current;
    if (cur && cur.parts.length > 0) return { msn: cur.msn, part: cur.parts.length - 1 };
    const last = this.segments[this.segments.length - 1];
    if (last) return { msn: last.msn, part: last.parts.length - 1 };
    return undefined;
  }

  /** lastCompleteMsn is the MSN of the newest complete segment, or -1. */
  lastCompleteMsn(): number {
    return this.segments[this.segments.length - 1]?.msn ?? -1;
  }

  /** hasReached tells whether a blocking request for (msn[, part]) can be answered now. */
  hasReached(msn: number, part?: number): boolean {
    if (this.ended) return true;
    if (part === undefined) return this.lastCompleteMsn() >= msn;
    const pos = this.lastPosition();
    if (!pos) return false;
    return pos.msn > msn || (pos.msn === msn && pos.part >= part);
  }

  /**
   * partTargetSeconds is EXT-X-PART-INF's PART-TARGET: the configured target, raised to the
   * longest part if one ran longer (only a frame longer than the target does: parts are cut to fit).
   */
  partTargetSeconds(): number {
    return Math.max(this.partTargetMs, this.maxPartMs) / 1000;
  }

  /**
   * liveEdgeHasPart tells whether the playlist now ends with a part of the open segment (or the
   * stream has ended). Between a segment's close and the next one's first part it does not: a
   * blocking answer waits for that part, so the answer that closes segment N also lists part 0 of
   * N+1 (video.js, given a closed segment and a preload hint only, asks again for a URL it has
   * already loaded and loops on its cached answers).
   */
  liveEdgeHasPart(): boolean {
    return this.ended || (this.current !== undefined && this.current.parts.length > 0);
  }

  /** EXT-X-TARGETDURATION: the configured target, raised if a segment ran longer. */
  targetDurationSeconds(): number {
    return Math.max(Math.ceil(this.targetMs / 1000), this.maxSegmentSeconds);
  }

  /** Estimated peak bandwidth in bits per second (for BANDWIDTH). */
  bandwidth(): number {
    if (this.peakBitsPerSecond > 0) return Math.ceil(this.peakBitsPerSecond * 1.1);
    const cur = this.current;
    if (cur && cur.durationMs > 0) {
      const bytes = cur.parts.reduce((a, p) => a + p.bytes.length, 0);
      return Math.ceil(((bytes * 8 * 1000) / cur.durationMs) * 1.1);
    }
    return 0;
  }

  /** Average bandwidth in bits per second over the complete segments in the window (AVERAGE-BANDWIDTH); 0 before one. */
  averageBandwidth(): number {
    let bytes = 0;
    let ms = 0;
    for (const seg of this.windowed()) {
      if (!seg.bytes || !(seg.durationMs > 0)) continue;
      bytes += seg.bytes.length;
      ms += seg.durationMs;
    }
    return ms > 0 ? Math.ceil((bytes * 8 * 1000) / ms) : 0;
  }

  /** frameRate is the video frame rate of the newest complete segment (frames / duration). */
  frameRate(): number | undefined {
    if (!this.init?.video) return undefined;
    const last = this.segments[this.segments.length - 1];
    const fps = last && last.durationMs > 0 && last.videoFrames > 0 ? (last.videoFrames * 1000) / last.durationMs : 1000 / this.frameMs;
    return Math.round(fps * 1000) / 1000;
  }

  /** playlistModel builds the media playlist model; reports describe sibling renditions. */
  playlistModel(reports: RenditionReport[] = []): MediaPlaylistModel {
    const win = this.windowed();
    const target = this.targetDurationSeconds();
    const all: HlsSegment[] = this.current && this.current.parts.length > 0 ? [...win, this.current] : [...win];
    // Parts are listed for the segments ending within a few target durations of the live edge.
    const newest = all.at(-1);
    const edgeMs = newest ? newest.startMs + newest.durationMs : 0;
    const partHorizonMs = edgeMs - PART_LIST_TARGET_DURATIONS * target * 1000;
    const evictedDiscontinuities = this.countEvictedDiscontinuities(win[0]?.msn ?? this.current?.msn ?? 0);
    const segments: PlaylistSegment[] = all.map((seg) => ({
      msn: seg.msn,
      uri: seg.uri,
      durationSeconds: seg.durationMs / 1000,
      programDateTime: seg.wallclock,
      discontinuity: seg.discontinuity,
      mapUri: seg.init.uri,
      complete: seg.complete,
      parts:
        seg.startMs + seg.durationMs > partHorizonMs || !seg.complete
          ? seg.parts.map((p) => ({ uri: p.uri, durationSeconds: p.durationMs / 1000, independent: p.independent }))
          : undefined,
    }));
    const partTarget = this.partTargetSeconds();
    return {
      targetDurationSeconds: target,
      partTargetSeconds: partTarget,
      mediaSequence: all[0]?.msn ?? this.current?.msn ?? this.nextMsn,
      discontinuitySequence: evictedDiscontinuities,
      segments,
      holdBackSeconds: 3 * target,
      partHoldBackSeconds: Math.round(this.partHoldBackParts * partTarget * 1000) / 1000,
      canSkipUntilSeconds: 6 * target,
      preloadHintUri: this.ended || !this.session ? undefined : this.nextPartUri,
      ended: this.ended,
      renditionReports: reports,
    };
  }

  /** Discontinuity tags that have left the playlist (EXT-X-DISCONTINUITY-SEQUENCE). */
  private countEvictedDiscontinuities(firstMsn: number): number {
    return this.discontinuitySequence + this.segments.filter((s) => s.msn < firstMsn && s.discontinuity).length;
  }

  /** Memory held by segments and parts, bytes. */
  memoryBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.bytes?.length ?? 0;
    for (const p of this.current?.parts ?? []) n += p.bytes.length;
    return n;
  }

  /** counts for stats. */
  counts(): { segments: number; parts: number } {
    return { segments: this.windowed().length, parts: this.nextPartId };
  }

  /** Evicted segments' discontinuities must still be counted once they leave memory. */
  private noteEvicted(seg: HlsSegment): void {
    if (seg.discontinuity) this.discontinuitySequence++;
  }
}

function sameTrack(a: { config: Buffer } | undefined, b: { config: Buffer } | undefined): boolean {
  if (!a || !b) return a === b;
  return a.config.equals(b.config);
}
