/**
 * AacFromOpus: the one ffmpeg of one WHIP publish that turns the browser's Opus into the AAC
 * every hub output (HTTP-FLV, LL-HLS, recording) needs.
 *
 *   RTP Opus payloads ──Ogg/Opus on stdin──► ffmpeg (aac) ──FLV on stdout──► FlvParser ──► onConfig / onFrame
 *
 * Timing: each Ogg page's granule position is the packet's end on the sender's RTP clock
 * (48 kHz, from the first packet written), so a hole (lost packets, DTX) stays a hole and
 * aresample fills it with silence; ffmpeg's FLV timestamps then count from that first packet,
 * and `startMs` (its place on the stream clock) puts them back on the stream's timeline.
 * If ffmpeg fails the publish goes on without audio (no restart: the codec header the hub
 * saw would no longer match a new encoder's timeline).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../observability/logger.js';
import { AAC_PACKET_RAW, AAC_PACKET_SEQUENCE_HEADER, AUDIO_FORMAT_AAC, FLV_TAG_AUDIO, FlvParser, parseAudioTagHeader } from '../../formats/flv.js';
import { OggOpusWriter, OPUS_SAMPLE_RATE } from '../../formats/ogg-write.js';
import { opusPacketSamples } from '../../formats/rtp-opus.js';
import { killNow, onChildGone, stopChild } from '../child-process.js';
import { TranscodeDelay } from './transcode-delay.js';

/** AAC bitrate of a WHIP publish's audio. */
export const WHIP_AAC_BITRATE = '128k';
/** Bytes queued towards ffmpeg's stdin past which Opus packets are dropped (ffmpeg stalled). */
export const WHIP_AAC_INPUT_MAX_BYTES = 512 * 1024;
/** Time ffmpeg gets to exit after its stdin is closed. */
const STOP_GRACE_MS = 2000;
const TWO_POW_32 = 2 ** 32;
/** Samples in one AAC frame (what each FLV audio tag from ffmpeg holds). */
const AAC_FRAME_SAMPLES = 1024;
/** A jump of the Opus RTP clock larger than this (samples, 10 s) is a new timeline: packets are counted on. */
const MAX_AUDIO_JUMP_SAMPLES = 10 * OPUS_SAMPLE_RATE;

/** aacArgs are ffmpeg's arguments: Ogg/Opus on stdin, FLV with AAC (48 kHz stereo) on stdout. */
export function aacArgs(): string[] {
  return [
    '-hide_banner', '-loglevel', 'error',
    '-fflags', 'nobuffer', '-probesize', '4096', '-analyzeduration', '0',
    '-f', 'ogg', '-i', 'pipe:0',
    '-vn', '-af', 'aresample=async=1000', '-c:a', 'aac', '-b:a', WHIP_AAC_BITRATE, '-ar', String(OPUS_SAMPLE_RATE), '-ac', '2',
    '-flush_packets', '1',
    '-f', 'flv', 'pipe:1',
  ];
}

export interface AacFromOpusOptions {
  channel: string;
  ffmpeg: string;
  logger: Logger;
  /**
   * Stream-clock ms of the first Opus packet that will be pushed; when ffmpeg is started ahead of
   * the first packet, leave it out and call begin() with it before the first push.
   */
  startMs?: number;
  onConfig(asc: Buffer): void;
  /** One raw AAC frame at `ms` on the stream clock. */
  onFrame(raw: Buffer, ms: number): void;
  /** ffmpeg is gone while the publish goes on (metrics, logs). */
  onFailed?(reason: string): void;
  /** The transcoder's delay for an output frame, ms (see TranscodeDelay). */
  onDelay?(ms: number): void;
  /** Wall clock (tests); Date.now by default. */
  now?: () => number;
  spawnFfmpeg?: (path: string, args: string[]) => ChildProcess;
}

export class AacFromOpus {
  private child: ChildProcess | null = null;
  private readonly ogg = new OggOpusWriter((Math.random() * TWO_POW_32) >>> 0);
  /** RTP timestamp, start and end (samples from the first packet) of the packet written last. */
  private lastRtp: number | null = null;
  private lastStart = 0;
  private lastEnd = 0;
  private stopped = false;
  framesOut = 0;
  packetsIn = 0;
  /** Stream ms of ffmpeg's time 0: startMs, moved by shift() to follow the sender's clock. */
  private offsetMs: number;
  private lastOutMs = -1;
  /** Time audio spends in ffmpeg, from packet written to AAC frame back. */
  readonly delay = new TranscodeDelay();

  constructor(private readonly o: AacFromOpusOptions) {
    this.offsetMs = o.startMs ?? 0;
  }

  /** begin places ffmpeg's time 0 (the first Opus packet) at `startMs` on the stream clock; before the first push only. */
  begin(startMs: number): void {
    if (this.packetsIn === 0) this.offsetMs = startMs;
  }

  /** lastPacketMs is where the Opus packet written last starts on the stream clock, as the output will stamp it. */
  get lastPacketMs(): number {
    return this.offsetMs + (this.lastStart * 1000) / OPUS_SAMPLE_RATE;
  }

  /** shift moves the output timeline by `ms` (drift correction against the sender's clock). */
  shift(ms: number): void {
    this.offsetMs += ms;
  }

  private wallNow(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null;
  }

  start(): void {
    if (this.child || this.stopped) return;
    let child: ChildProcess;
    try {
      child = (this.o.spawnFfmpeg ?? ((p, a) => spawn(p, a, { stdio: ['pipe', 'pipe', 'pipe'] })))(this.o.ffmpeg, aacArgs());
    } catch (err) {
      this.fail(`spawn failed: ${(err as Error).message}`);
      return;
    }
    this.child = child;
    child.stdin!.on('error', () => undefined); // EPIPE when ffmpeg dies: the exit handler reports it
    for (const page of this.ogg.headers()) child.stdin!.write(page);
    const parser = new FlvParser({
      onTag: (tag) => {
        if (tag.type !== FLV_TAG_AUDIO || this.child !== child) return;
        const h = parseAudioTagHeader(tag.data);
        if (h.soundFormat !== AUDIO_FORMAT_AAC) return;
        const payload = tag.data.subarray(h.payloadOffset);
        if (h.packetType === AAC_PACKET_SEQUENCE_HEADER) this.o.onConfig(Buffer.from(payload));
        else if (h.packetType === AAC_PACKET_RAW && payload.length > 0) {
          this.framesOut++;
          // ffmpeg's time 0 is sample 0 of the Ogg stream (pre-skip 0), so the tag time names input samples.
          const endSample = Math.round((tag.timestamp * OPUS_SAMPLE_RATE) / 1000) + AAC_FRAME_SAMPLES;
          const delay = this.delay.output(endSample, this.wallNow());
          if (delay !== undefined) this.o.onDelay?.(delay);
          // Never back in time (a backward shift squeezes the next frames instead).
          const ms = Math.max(this.offsetMs + tag.timestamp, this.lastOutMs + 1);
          this.lastOutMs = ms;
          this.o.onFrame(Buffer.from(payload), ms);
        }
      },
    });
    child.stdout!.on('data', (d: Buffer) => {
      try {
        parser.push(d);
      } catch (err) {
        this.o.logger.warn({ channel: this.o.channel, err: (err as Error).message }, 'WHIP: bad FLV from the AAC transcoder');
        killNow(child);
      }
    });
    onChildGone(child, (why) => {
      if (this.child !== child) return;
      this.child = null;
      if (!this.stopped) this.fail(why);
    });
  }

  /** push writes one Opus RTP payload; `rtpTimestamp` is its 48 kHz RTP timestamp. False: not written. */
  push(payload: Buffer, rtpTimestamp: number): boolean {
    const child = this.child;
    if (!child || this.stopped || payload.length === 0) return false;
    const stdin = child.stdin!;
    if (stdin.writableLength > WHIP_AAC_INPUT_MAX_BYTES) return false;
    let samples: number;
    try {
      samples = opusPacketSamples(payload);
    } catch {
      return false;
    }
    const ts = rtpTimestamp >>> 0;
    let start = 0;
    if (this.lastRtp !== null) {
      const step = (ts - this.lastRtp) | 0; // signed distance on the 32-bit circle
      if (step <= 0) return false; // late or repeated: ffmpeg already has what follows
      start = step > MAX_AUDIO_JUMP_SAMPLES ? this.lastEnd : Math.max(this.lastStart + step, this.lastEnd);
    }
    this.lastRtp = ts;
    this.lastStart = start;
    this.lastEnd = start + samples;
    this.packetsIn++;
    this.delay.input(this.lastEnd, this.wallNow());
    stdin.write(this.ogg.packet(payload, this.lastEnd));
    return true;
  }

  private fail(reason: string): void {
    if (this.stopped) return;
    this.o.logger.warn({ channel: this.o.channel, reason }, 'WHIP: the Opus→AAC transcoder failed; the publish goes on without audio');
    this.o.onFailed?.(reason);
  }

  /** stop ends ffmpeg (stdin closed, SIGTERM, SIGKILL after a grace). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const child = this.child;
    this.child = null;
    if (child) await stopChild(child, { graceMs: STOP_GRACE_MS });
  }
}
