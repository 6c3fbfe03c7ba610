/**
 * AudioTap decodes one channel's live AAC audio to 16 kHz mono PCM with a single ffmpeg
 * process fed from the hub over stdin (ADTS framing built from the AudioSpecificConfig),
 * so captions never pull the stream a second time. It never blocks the hub: when ffmpeg's
 * stdin is backed up, frames are dropped and counted.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { ADTS_HEADER_SIZE, adtsHeader, parseAudioSpecificConfig, type AudioSpecificConfig } from '../formats/aac.js';
import type { AudioTrackInfo, MediaFrame, StreamSubscriber, VideoTrackInfo } from '../media/hub/types.js';
import type { Logger } from '../observability/logger.js';
import { stopChild } from '../media/child-process.js';
import { PCM_SAMPLE_RATE, PCM_SAMPLES_PER_MS } from './types.js';

/** Samples in one AAC frame (per channel, before SBR). */
export const AAC_FRAME_SAMPLES = 1024;
/** Bytes we let queue on ffmpeg's stdin before dropping audio (about 5 s of 128 kbit/s). */
export const DEFAULT_MAX_QUEUED_BYTES = 80 * 1024;
const BYTES_PER_SAMPLE = 2;
/** RTMP timestamps are 32-bit milliseconds. */
const TIMESTAMP_MODULUS = 2 ** 32;
/** How long ffmpeg gets to drain after stdin closes before it is killed. */
const STOP_GRACE_MS = 2000;

/** adtsFrame prefixes one raw AAC frame (as carried in FLV/RTMP) with its ADTS header. */
export function adtsFrame(asc: AudioSpecificConfig, raw: Buffer): Buffer {
  return Buffer.concat([adtsHeader(asc, raw.length), raw], ADTS_HEADER_SIZE + raw.length);
}

/** ffmpegPcmArgs is the decoder command line: ADTS on stdin, s16le 16 kHz mono on stdout. */
export function ffmpegPcmArgs(): string[] {
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    '-fflags', 'nobuffer', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0',
    '-f', 'aac', '-i', 'pipe:0',
    '-vn', '-ac', '1', '-ar', String(PCM_SAMPLE_RATE), '-f', 's16le', '-flush_packets', '1', 'pipe:1',
  ];
}

/** s16leToFloat32 converts little-endian 16-bit PCM to floats in [-1, 1). */
export function s16leToFloat32(buf: Buffer): Float32Array {
  const n = buf.length >> 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = buf.readInt16LE(i * BYTES_PER_SAMPLE) / 32768;
  return out;
}

/** S16leSamples turns s16le PCM bytes, split anywhere by the pipe, into whole samples. */
export class S16leSamples {
  private carry: Buffer | undefined;

  /** take converts the whole samples of carry + d and keeps a trailing odd byte for the next call. */
  take(d: Buffer): Float32Array {
    let buf = this.carry ? Buffer.concat([this.carry, d]) : d;
    const whole = buf.length - (buf.length % BYTES_PER_SAMPLE);
    this.carry = whole < buf.length ? Buffer.from(buf.subarray(whole)) : undefined;
    buf = buf.subarray(0, whole);
    return s16leToFloat32(buf);
  }

  reset(): void {
    this.carry = undefined;
  }
}

/**
 * PcmClock maps decoded sample positions back to the stream's timeline: each run of
 * contiguous AAC frames is one anchor (first frame's dts ↔ output sample position).
 */
export class PcmClock {
  private anchors: { pcmAt: number; ms: number }[] = [];
  private written = 0;
  private expectMs = NaN;

  /** frameWritten records one AAC frame of durationMs at dts that went to the decoder. */
  frameWritten(dtsMs: number, durationMs: number): void {
    if (Number.isNaN(this.expectMs) || Math.abs(dtsMs - this.expectMs) > durationMs / 2) this.anchors.push({ pcmAt: this.written, ms: dtsMs });
    this.written += durationMs * PCM_SAMPLES_PER_MS;
    this.expectMs = dtsMs + durationMs;
  }

  /** timeOf gives the stream time of output sample number `at`, forgetting older anchors. */
  timeOf(at: number): number {
    for (let next = this.anchors[1]; next !== undefined && next.pcmAt <= at; next = this.anchors[1]) this.anchors.shift();
    const a = this.anchors[0];
    return a ? a.ms + (at - a.pcmAt) / PCM_SAMPLES_PER_MS : at / PCM_SAMPLES_PER_MS;
  }
}

export interface AudioTapOptions {
  ffmpegPath: string;
  /** PCM chunk handler: samples and the stream time of the first one. */
  onPcm(samples: Float32Array, startMs: number): void;
  /** Audio frames dropped because ffmpeg was behind, in ms of audio. */
  onDropped?(ms: number): void;
  /** ffmpeg exited (after stop, stream end, or by itself). */
  onExit?(code: number | null, stderr: string): void;
  logger?: Logger;
  maxQueuedBytes?: number;
  spawnFn?: typeof spawn;
}

/** AudioTap is a StreamSubscriber; subscribe it to the hub, call stop() to end it. */
export class AudioTap implements StreamSubscriber {
  private proc: ChildProcessByStdio<Writable, Readable, Readable> | undefined;
  private asc: AudioSpecificConfig | undefined;
  private ascBytes: Buffer | undefined;
  private clock = new PcmClock();
  private pcmOut = 0;
  private readonly pcmBytes = new S16leSamples();
  private lastDts = NaN;
  private wraps = 0;
  private stopped = false;
  private stderr = '';
  private exited: Promise<void> = Promise.resolve();
  /** Counters for tests and stats. */
  framesIn = 0;
  framesDropped = 0;
  pcmSamples = 0;
  unsupported: string | undefined;

  constructor(private readonly opts: AudioTapOptions) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  onTracks(_video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined): void {
    if (this.stopped) return;
    if (!audio) return;
    if (audio.codec !== 'aac') {
      this.unsupported = `audio codec ${audio.codec} is not supported for captions (AAC only)`;
      this.opts.logger?.warn({ codec: audio.codec }, this.unsupported);
      return;
    }
    if (this.ascBytes && this.ascBytes.equals(audio.config) && this.proc) return;
    this.asc = parseAudioSpecificConfig(audio.config);
    this.ascBytes = Buffer.from(audio.config);
    // A new decoder configuration needs a fresh decoder; the timeline carries on.
    this.endProcess();
    this.start();
  }

  onFrame(frame: MediaFrame): void {
    if (frame.kind !== 'audio' || this.stopped || !this.asc || !this.proc) return;
    this.framesIn++;
    const dts = this.unwrap(frame.dts);
    const durationMs = (AAC_FRAME_SAMPLES * 1000) / this.asc.sampleRate;
    const stdin = this.proc.stdin;
    if (!stdin.writable || stdin.writableLength > (this.opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES)) {
      this.framesDropped++;
      this.opts.onDropped?.(durationMs);
      return;
    }
    if (frame.data.length + ADTS_HEADER_SIZE > 0x1fff) return; // not representable in ADTS; never seen with real encoders
    this.clock.frameWritten(dts, durationMs);
    stdin.write(adtsFrame(this.asc, frame.data));
  }

  onEnd(): void {
    void this.stop();
  }

  /** stop closes ffmpeg's stdin (so it flushes the last PCM) and waits for it to exit. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.endProcess();
    await this.exited;
  }

  private unwrap(dts: number): number {
    if (!Number.isNaN(this.lastDts) && dts < this.lastDts - TIMESTAMP_MODULUS / 2) this.wraps++;
    this.lastDts = dts;
    return dts + this.wraps * TIMESTAMP_MODULUS;
  }

  private start(): void {
    const spawnFn = this.opts.spawnFn ?? spawn;
    const proc = spawnFn(this.opts.ffmpegPath, ffmpegPcmArgs(), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    this.clock = new PcmClock();
    this.pcmOut = 0;
    this.pcmBytes.reset();
    this.stderr = '';
    proc.stdin.on('error', () => { /* ffmpeg went away; exit handler reports it */ });
    proc.stderr.on('data', (d: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += d.toString();
    });
    proc.stdout.on('data', (d: Buffer) => this.onPcmBytes(d));
    this.exited = new Promise((resolve) => {
      proc.once('close', (code) => {
        if (this.proc === proc) this.proc = undefined;
        this.opts.onExit?.(code, this.stderr);
        resolve();
      });
      proc.once('error', (err) => {
        this.opts.logger?.warn({ err }, 'audio tap: ffmpeg failed to start');
        if (this.proc === proc) this.proc = undefined;
        resolve();
      });
    });
  }

  private onPcmBytes(d: Buffer): void {
    const samples = this.pcmBytes.take(d);
    if (samples.length === 0) return;
    const startMs = this.clock.timeOf(this.pcmOut);
    this.pcmOut += samples.length;
    this.pcmSamples += samples.length;
    this.opts.onPcm(samples, startMs);
  }

  private endProcess(): void {
    const proc = this.proc;
    if (!proc) return;
    // ffmpeg ends on end of input; no SIGTERM, so it flushes the last PCM first.
    void stopChild(proc, { graceMs: STOP_GRACE_MS, term: false });
  }
}
