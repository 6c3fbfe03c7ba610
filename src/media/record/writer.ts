/**
 * RecordingWriter appends one recording as fragmented MP4 while the stream is live: an init
 * segment, then a moof+mdat fragment about every `fragmentMs`, written in order and
 * fdatasync'd at least every `fsyncIntervalMs`. A crash therefore loses at most the last
 * unsynced second or two; what is on disk is always a valid prefix (complete fragments,
 * then possibly one torn fragment the finaliser ignores).
 */
import { open, type FileHandle } from 'node:fs/promises';
import {
  initSegment, mediaFragment, SAMPLE_FLAGS_NON_SYNC, SAMPLE_FLAGS_SYNC, VIDEO_TIMESCALE,
  type Fmp4Sample, type Fmp4Track, type Fmp4TrackRun,
} from '../../formats/fmp4.js';
import type { AudioTrackInfo, MediaFrame, VideoTrackInfo } from '../hub/types.js';
import { AudioClock, msToTicks, TimestampUnwrapper } from '../hls/timeline.js';

export const VIDEO_TRACK_ID = 1;
export const AUDIO_TRACK_ID = 2;
/** Samples per AAC frame. */
const AAC_FRAME_SAMPLES = 1024;
/** Frame duration assumed for the last video frame before two frames were seen. */
const DEFAULT_FRAME_MS = 40;
/** Bytes queued for the disk past which the disk is too slow and the recording stops. */
export const DEFAULT_MAX_QUEUED_BYTES = 64 * 1024 * 1024;

export interface RecordingWriterOptions {
  /** The fragmented MP4 file to create (it must not exist). */
  file: string;
  video?: VideoTrackInfo;
  audio?: AudioTrackInfo;
  fragmentMs: number;
  fsyncIntervalMs: number;
  maxQueuedBytes?: number;
  /** Called once when writing fails (ENOSPC, EIO, too slow); no more frames are taken. */
  onError?(err: NodeJS.ErrnoException): void;
  /** Called with the size of each write that reached the file. */
  onWritten?(bytes: number): void;
}

interface PendingVideo {
  ticks: number;
  ms: number;
  cto: number;
  keyframe: boolean;
  data: Buffer;
  duration?: number;
}

interface PendingAudio {
  ticks: number;
  ms: number;
  data: Buffer;
}

/** recordableTracks keeps the tracks the recorder can write (AVC/HEVC video, AAC audio). */
export function recordableTracks(video?: VideoTrackInfo, audio?: AudioTrackInfo): { video?: VideoTrackInfo; audio?: AudioTrackInfo } {
  return {
    video: video && (video.codec === 'avc' || video.codec === 'hevc') ? video : undefined,
    audio: audio && audio.codec === 'aac' ? audio : undefined,
  };
}

export class RecordingWriter {
  readonly file: string;
  private readonly video?: VideoTrackInfo;
  private readonly audio?: AudioTrackInfo;
  private fh: FileHandle | undefined;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private queuedBytes = 0;
  private sequence = 0;
  private originMs: number | undefined;
  /** The raw (32-bit) timestamp of the first frame, for elapsedAt. */
  private originRaw: number | undefined;
  private readonly unwrapVideo = new TimestampUnwrapper();
  private readonly unwrapAudio = new TimestampUnwrapper();
  private readonly audioClock?: AudioClock;
  private pendingVideo: PendingVideo[] = [];
  private pendingAudio: PendingAudio[] = [];
  private lastVideoTicks = -1;
  private frameMs = DEFAULT_FRAME_MS;
  private fragmentStartMs = 0;
  /** Bytes that reached the file. */
  bytesWritten = 0;
  /** End of the media handed to the file so far, ms from the first keyframe. */
  durationMs = 0;
  /** The failure that stopped the writer, if any. */
  error: NodeJS.ErrnoException | undefined;
  private closed = false;

  private constructor(private readonly opts: RecordingWriterOptions) {
    this.file = opts.file;
    const t = recordableTracks(opts.video, opts.audio);
    this.video = t.video;
    this.audio = t.audio;
    if (this.audio) this.audioClock = new AudioClock(this.audio.sampleRate, AAC_FRAME_SAMPLES);
  }

  /** create opens the file (exclusively) and writes and syncs the init segment. */
  static async create(opts: RecordingWriterOptions): Promise<RecordingWriter> {
    const w = new RecordingWriter(opts);
    const tracks: Fmp4Track[] = [];
    if (w.video) tracks.push({ kind: 'video', id: VIDEO_TRACK_ID, codec: w.video.codec as 'avc' | 'hevc', timescale: VIDEO_TIMESCALE, config: w.video.config, width: w.video.width, height: w.video.height });
    if (w.audio) tracks.push({ kind: 'audio', id: AUDIO_TRACK_ID, codec: 'aac', timescale: w.audio.sampleRate, config: w.audio.config, channels: w.audio.channels, sampleRate: w.audio.sampleRate });
    if (tracks.length === 0) throw new Error('nothing recordable: needs AVC/HEVC video or AAC audio');
    w.fh = await open(opts.file, 'wx');
    const init = initSegment(tracks);
    await w.fh.write(init);
    await w.fh.datasync();
    w.bytesWritten = init.length;
    opts.onWritten?.(init.length);
    w.timer = setInterval(() => w.sync(), opts.fsyncIntervalMs);
    w.timer.unref();
    return w;
  }

  get failed(): boolean {
    return this.error !== undefined;
  }

  /** started tells whether media has begun (the first keyframe, or audio when there is no video). */
  get started(): boolean {
    return this.originMs !== undefined;
  }

  /** originDts is the hub dts (32-bit ms) of the recording's first frame, once started. */
  get originDts(): number | undefined {
    return this.originRaw;
  }

  /** elapsedAt is how far into this recording a frame falls, ms (0 before the start). */
  elapsedAt(frame: MediaFrame): number {
    if (this.originRaw === undefined) return 0;
    return (frame.dts - this.originRaw + 2 ** 32) % 2 ** 32;
  }

  /** onFrame takes one hub frame; frames before the first video keyframe are skipped. */
  onFrame(frame: MediaFrame): void {
    if (this.closed || this.error) return;
    if (frame.kind === 'video') {
      if (!this.video) return;
      const dts = this.unwrapVideo.unwrap(frame.dts);
      if (this.originMs === undefined) {
        if (!frame.keyframe) return;
        this.originMs = dts;
        this.originRaw = frame.dts;
      }
      this.onVideo(dts - this.originMs, dts + (frame.pts - frame.dts) - this.originMs, frame.keyframe, frame.data);
    } else {
      if (!this.audio || !this.audioClock) return;
      const dts = this.unwrapAudio.unwrap(frame.dts);
      if (this.originMs === undefined) {
        if (this.video) return; // audio waits for the first keyframe
        this.originMs = dts;
        this.originRaw = frame.dts;
      }
      const ms = dts - this.originMs;
      if (ms < 0) return;
      this.onAudio(ms, frame.data);
    }
  }

  private onVideo(ms: number, ptsMs: number, keyframe: boolean, data: Buffer): void {
    let ticks = msToTicks(ms, VIDEO_TIMESCALE);
    if (ticks <= this.lastVideoTicks) ticks = this.lastVideoTicks + 1; // decode times must increase
    const prev = this.pendingVideo[this.pendingVideo.length - 1];
    if (prev) {
      prev.duration = ticks - prev.ticks;
      this.frameMs = Math.max(1, prev.duration / (VIDEO_TIMESCALE / 1000));
    }
    this.lastVideoTicks = ticks;
    if (this.pendingVideo.length > 0 && ms - this.fragmentStartMs >= this.opts.fragmentMs) this.flush(ms);
    if (this.pendingVideo.length === 0) this.fragmentStartMs = ms;
    const cto = msToTicks(Math.max(ptsMs, 0), VIDEO_TIMESCALE) - msToTicks(ms, VIDEO_TIMESCALE);
    this.pendingVideo.push({ ticks, ms, cto, keyframe, data });
  }

  private onAudio(ms: number, data: Buffer): void {
    const ticks = this.audioClock!.place(ms);
    if (!this.video) {
      if (this.pendingAudio.length > 0 && ms - this.fragmentStartMs >= this.opts.fragmentMs) this.flush(Infinity);
      if (this.pendingAudio.length === 0) this.fragmentStartMs = ms;
    }
    this.pendingAudio.push({ ticks, ms, data });
  }

  /** flush writes the pending video and the audio before `untilMs` as one fragment. */
  private flush(untilMs: number): void {
    const video = this.pendingVideo;
    this.pendingVideo = [];
    const later = this.pendingAudio.findIndex((a) => a.ms >= untilMs);
    const audio = this.pendingAudio.splice(0, later < 0 ? this.pendingAudio.length : later);
    if (video.length === 0 && audio.length === 0) return;
    const runs: Fmp4TrackRun[] = [];
    const firstVideo = video[0];
    const last = video[video.length - 1];
    if (firstVideo && last) {
      if (last.duration === undefined) last.duration = Math.max(1, msToTicks(this.frameMs, VIDEO_TIMESCALE));
      runs.push({
        trackId: VIDEO_TRACK_ID,
        baseMediaDecodeTime: firstVideo.ticks,
        video: true,
        samples: video.map<Fmp4Sample>((f) => ({ duration: f.duration!, flags: f.keyframe ? SAMPLE_FLAGS_SYNC : SAMPLE_FLAGS_NON_SYNC, compositionTimeOffset: f.cto, data: f.data })),
      });
      this.durationMs = Math.max(this.durationMs, (last.ticks + last.duration) / (VIDEO_TIMESCALE / 1000));
    }
    const firstAudio = audio[0];
    const lastAudio = audio[audio.length - 1];
    if (firstAudio && lastAudio) {
      const rate = this.audio!.sampleRate;
      const next = this.pendingAudio[0];
      runs.push({
        trackId: AUDIO_TRACK_ID,
        baseMediaDecodeTime: firstAudio.ticks,
        video: false,
        samples: audio.map<Fmp4Sample>((f, i) => {
          const following = audio[i + 1] ?? next;
          const d = following ? following.ticks - f.ticks : AAC_FRAME_SAMPLES;
          return { duration: d > 0 ? d : AAC_FRAME_SAMPLES, flags: 0, compositionTimeOffset: 0, data: f.data };
        }),
      });
      this.durationMs = Math.max(this.durationMs, ((lastAudio.ticks + AAC_FRAME_SAMPLES) * 1000) / rate);
    }
    this.append(mediaFragment(++this.sequence, runs));
  }

  private append(buf: Buffer): void {
    this.queuedBytes += buf.length;
    if (this.queuedBytes > (this.opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES)) {
      this.fail(Object.assign(new Error('the disk is too slow: recording backlog over limit'), { code: 'EBACKLOG' }));
      return;
    }
    this.chain = this.chain.then(async () => {
      if (this.error || !this.fh) return;
      try {
        await this.fh.write(buf);
        this.bytesWritten += buf.length;
        this.dirty = true;
        this.opts.onWritten?.(buf.length);
      } catch (err) {
        this.fail(err as NodeJS.ErrnoException);
      } finally {
        this.queuedBytes -= buf.length;
      }
    });
  }

  private sync(): void {
    if (!this.dirty || this.error) return;
    this.chain = this.chain.then(async () => {
      if (!this.dirty || this.error || !this.fh) return;
      this.dirty = false;
      try {
        await this.fh.datasync();
      } catch (err) {
        this.fail(err as NodeJS.ErrnoException);
      }
    });
  }

  private fail(err: NodeJS.ErrnoException): void {
    if (this.error) return;
    this.error = err;
    this.pendingVideo = [];
    this.pendingAudio = [];
    this.opts.onError?.(err);
  }

  /** finish flushes what is pending, syncs and closes the file. Safe to call twice. */
  async finish(): Promise<void> {
    if (this.closed) {
      await this.chain;
      return;
    }
    if (!this.error) this.flush(Infinity);
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.dirty = true;
    this.sync();
    await this.chain;
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }
}
