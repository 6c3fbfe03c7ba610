/**
 * OpusTranscoder: the one ffmpeg of one channel that turns the hub's AAC into Opus for WebRTC
 * viewers. It runs only while the channel has a WHEP viewer.
 *
 *   hub AAC frames ──FLV on stdin──► ffmpeg (libopus, 20 ms) ──Ogg on stdout──► OggOpusParser ──► onPacket
 *
 * Timestamps stay on the source clock: the first frame written to a fresh ffmpeg fixes the
 * start, and each Opus packet's time is that start plus the samples before it (less the
 * encoder's pre-skip), so audio and video RTP timestamps share one timeline. A crashed ffmpeg
 * is restarted with backoff; while it is down, video still plays.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../observability/logger.js';
import { encodeFlvHeader, encodeFlvTag, FLV_TAG_AUDIO } from '../../formats/flv.js';
import { OggOpusParser, opusPacketSamples, RTP_OPUS_CLOCK_RATE } from '../../formats/rtp-opus.js';
import type { AudioTrackInfo, MediaFrame } from '../hub/types.js';
import { flvTagOf, sequenceHeaderBodyOf } from '../flv/frame-tags.js';
import { killNow, onChildGone, stopChild } from '../child-process.js';

/** Opus bitrate of the WebRTC audio (stereo music at 20 ms frames). */
export const OPUS_BITRATE = '96k';
/** Bytes queued towards ffmpeg's stdin past which audio frames are dropped (ffmpeg stalled). */
export const OPUS_INPUT_MAX_BYTES = 1024 * 1024;
/** After stdin is closed, ffmpeg gets this long to exit before SIGKILL. */
const KILL_GRACE_MS = 2000;
/** A transcoder that ran this long resets the restart backoff. */
const HEALTHY_RUN_MS = 30_000;
const SAMPLES_PER_MS = RTP_OPUS_CLOCK_RATE / 1000;

/** opusArgs are ffmpeg's arguments: FLV (AAC) on stdin, Ogg/Opus with one 20 ms packet per page on stdout. */
export function opusArgs(): string[] {
  return [
    '-hide_banner', '-loglevel', 'error',
    '-fflags', 'nobuffer', '-probesize', '32', '-analyzeduration', '0',
    '-f', 'flv', '-i', 'pipe:0',
    '-vn', '-c:a', 'libopus', '-b:a', OPUS_BITRATE, '-ar', String(RTP_OPUS_CLOCK_RATE), '-ac', '2',
    '-application', 'lowdelay', '-frame_duration', '20',
    '-page_duration', '20000', '-flush_packets', '1',
    '-f', 'ogg', 'pipe:1',
  ];
}

export interface OpusPacket {
  data: Buffer;
  /** Start of the packet on the source clock, in 48 kHz samples (source ms × 48). */
  sample: number;
  /** Duration in 48 kHz samples. */
  samples: number;
}

export interface OpusTranscoderOptions {
  channel: string;
  ffmpeg: string;
  logger: Logger;
  restartMinMs: number;
  restartMaxMs: number;
  onPacket(p: OpusPacket): void;
  /** Called each time ffmpeg exits while it should run (metrics). */
  onRestart?(reason: string): void;
  spawnFfmpeg?: (path: string, args: string[]) => ChildProcess;
}

export class OpusTranscoder {
  private child: ChildProcess | null = null;
  private track?: AudioTrackInfo;
  /** Source time (48 kHz samples) of the first frame given to the current ffmpeg. */
  private startSample: number | null = null;
  private preSkip = 0;
  private emitted = 0;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private backoff: number;
  private startedAt = 0;
  spawns = 0;
  lastError?: string;

  constructor(private readonly o: OpusTranscoderOptions) {
    this.backoff = o.restartMinMs;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** setTrack gives the source's audio track; a new AAC config restarts ffmpeg. */
  setTrack(track: AudioTrackInfo | undefined): void {
    const changed = !track || !this.track || !track.config.equals(this.track.config);
    this.track = track;
    if (!changed) return;
    this.kill();
    if (track?.codec === 'aac' && !this.stopped) this.spawn();
  }

  /** push writes one source audio frame to ffmpeg (dropped while ffmpeg is down or stalled). */
  push(frame: MediaFrame): void {
    const child = this.child;
    if (!child || this.stopped) return;
    const stdin = child.stdin!;
    if (stdin.writableLength > OPUS_INPUT_MAX_BYTES) return;
    if (this.startSample === null) {
      // The codec header goes first, stamped like the first frame, so ffmpeg sees no jump.
      this.startSample = Math.round(frame.dts * SAMPLES_PER_MS);
      stdin.write(encodeFlvTag(FLV_TAG_AUDIO, frame.dts, sequenceHeaderBodyOf(this.track!)!));
    }
    stdin.write(flvTagOf(frame));
  }

  private spawn(): void {
    if (this.stopped || this.child || !this.track) return;
    let child: ChildProcess;
    try {
      child = (this.o.spawnFfmpeg ?? ((p, a) => spawn(p, a, { stdio: ['pipe', 'pipe', 'pipe'] })))(this.o.ffmpeg, opusArgs());
    } catch (err) {
      this.onExit(null, `spawn failed: ${(err as Error).message}`);
      return;
    }
    this.child = child;
    this.spawns++;
    this.startedAt = Date.now();
    this.startSample = null;
    this.emitted = 0;
    this.preSkip = 0;
    const stdin = child.stdin!;
    stdin.on('error', () => undefined); // EPIPE when ffmpeg dies: the exit handler deals with it
    stdin.write(encodeFlvHeader(true, false));
    const parser = new OggOpusParser({
      onHead: (h) => { this.preSkip = h.preSkip; },
      onPacket: (data) => this.onOpus(child, data),
    });
    child.stdout!.on('data', (d: Buffer) => {
      try {
        parser.push(d);
      } catch (err) {
        this.o.logger.warn({ channel: this.o.channel, err: (err as Error).message }, 'bad Ogg/Opus from ffmpeg; restarting it');
        killNow(child);
      }
    });
    onChildGone(child, (why) => this.onExit(child, why));
    this.o.logger.debug({ channel: this.o.channel, pid: child.pid }, 'WebRTC Opus transcoder started');
  }

  private onOpus(child: ChildProcess, data: Buffer): void {
    if (this.child !== child || this.startSample === null) return;
    let samples: number;
    try {
      samples = opusPacketSamples(data);
    } catch {
      return;
    }
    const sample = this.startSample + this.emitted - this.preSkip;
    this.emitted += samples;
    this.o.onPacket({ data, sample, samples });
  }

  private onExit(child: ChildProcess | null, why: string): void {
    if (child && this.child !== child) return;
    this.child = null;
    if (this.stopped) return;
    this.lastError = why;
    if (Date.now() - this.startedAt > HEALTHY_RUN_MS) this.backoff = this.o.restartMinMs;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.o.restartMaxMs);
    this.o.logger.warn({ channel: this.o.channel, reason: why, retryInMs: wait }, 'WebRTC Opus transcoder exited; video plays on, audio resumes after a restart');
    this.o.onRestart?.(why);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.spawn();
    }, wait);
    this.retryTimer.unref();
  }

  private kill(): void {
    const child = this.child;
    if (!child) return;
    this.child = null;
    void stopChild(child, { graceMs: KILL_GRACE_MS });
  }

  /** stop ends the transcoder for good (last viewer left, stream ended, shutdown). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.kill();
  }
}
