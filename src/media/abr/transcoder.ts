/**
 * AbrTranscoder: the one ffmpeg of one live channel with ABR on.
 *
 *   hub ──StreamSubscriber──► FLV on stdin ──► ffmpeg ──► fd 3: FLV ──FlvParser──► hub `{channel}_720p`
 *                                                   └──► fd 4: FLV ──FlvParser──► hub `{channel}_480p`
 *
 * The input is the hub's own parsed frames (each carries its encoded FLV tag), so there is
 * no second network pull. Outputs come back over extra pipes rather than RTMP to our own
 * ingest: no internal credential to mint or leak, no socket, no handshake, and a rendition
 * can only be published by the process we spawned. The source is never slowed down: stdin
 * writes are bounded (past the bound the input skips to the next keyframe), and a crashed
 * ffmpeg is restarted with backoff while the source is live.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../../observability/logger.js';
import { encodeFlvHeader, FlvParser } from '../../formats/flv.js';
import type { LiveStream, StreamHub } from '../hub/hub.js';
import { FlvFrameReader } from '../flv/frame-reader.js';
import { flvTagOf } from '../flv/frame-tags.js';
import type { AudioTrackInfo, MediaFrame, StreamSubscriber, VideoTrackInfo } from '../hub/types.js';
import { ProgressParser } from '../transcode/progress.js';
import { abrArgs, FIRST_OUTPUT_FD, renditionChannel, rungsFor, type AbrRung } from './ladder.js';
import { killNow, onChildGone, stopChild } from '../child-process.js';

/** Bytes queued towards ffmpeg's stdin past which input frames are skipped to the next keyframe. */
export const ABR_INPUT_SKIP_BYTES = 8 * 1024 * 1024;
/** After stdin is closed, ffmpeg gets this long to exit before SIGKILL. */
export const ABR_KILL_GRACE_MS = 2000;
/** A transcoder that ran this long resets the restart backoff. */
const HEALTHY_RUN_MS = 30_000;

export interface AbrMetricsSink {
  running(delta: 1 | -1): void;
  restarted(channel: string): void;
  speed(channel: string, speed: number | undefined): void;
  inputSkipped(frames: number): void;
}

export interface AbrTranscoderOptions {
  channel: string;
  hub: StreamHub;
  ffmpeg: string;
  ladder: readonly AbrRung[];
  preset: string;
  restartMinMs: number;
  restartMaxMs: number;
  logger: Logger;
  metrics: AbrMetricsSink;
  /** Spawns ffmpeg (tests can wrap it); defaults to child_process.spawn. */
  spawnFfmpeg?: (path: string, args: string[], fds: number) => ChildProcess;
}

/** RungOutput is one rendition coming back from ffmpeg. */
interface RungOutput {
  rung: AbrRung;
  name: string;
  stream: LiveStream | null;
  /** The FLV edge feeding `stream` from ffmpeg's FLV output. */
  reader: FlvFrameReader | null;
  /** The hub refused this name (someone else publishes it); its tags are dropped. */
  refused: boolean;
}

const defaultSpawn = (path: string, args: string[], fds: number): ChildProcess =>
  spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe', ...Array.from({ length: fds }, () => 'pipe' as const)] });

export class AbrTranscoder implements StreamSubscriber {
  private child: ChildProcess | null = null;
  private stdin: Writable | null = null;
  private outputs: RungOutput[] = [];
  private rungs: AbrRung[] = [];
  private video?: VideoTrackInfo;
  private audio?: AudioTrackInfo;
  private waitingKey = true;
  /** ffmpeg should run: it is spawned at the next video keyframe. */
  private pending = false;
  private stopped = false;
  private unsubscribe: () => void = () => undefined;
  private retryTimer: NodeJS.Timeout | null = null;
  private backoff: number;
  private startedAt = 0;
  /** Number of ffmpeg processes started for this channel. */
  spawns = 0;
  lastError?: string;

  constructor(private readonly o: AbrTranscoderOptions) {
    this.backoff = o.restartMinMs;
  }

  get channel(): string {
    return this.o.channel;
  }

  /** pid of the running ffmpeg, if any. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** renditions lists the hub names this transcoder publishes (or will, once ffmpeg outputs). */
  renditions(): string[] {
    return this.rungs.map((r) => renditionChannel(this.o.channel, r.name));
  }

  /** rungNames are the rungs in use for the current source (empty: source too small or no video yet). */
  rungNames(): string[] {
    return this.rungs.map((r) => r.name);
  }

  start(): void {
    this.unsubscribe = this.o.hub.subscribe(this.o.channel, this);
  }

  // ---------------------------------------------------------------- hub input

  onTracks(video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined): void {
    if (this.stopped) return;
    const heightChanged = video?.height !== this.video?.height;
    const audioAppeared = !!audio && !this.audio;
    this.video = video;
    this.audio = audio;
    if (!video) return;
    if (video.codec !== 'avc') {
      // ffmpeg's FLV demuxer reads legacy AVC; enhanced-RTMP HEVC/AV1 input is left alone.
      if (!this.lastError) this.o.logger.warn({ channel: this.o.channel, codec: video.codec }, 'live ABR needs AVC video; not transcoding');
      this.lastError = `unsupported source codec ${video.codec}`;
      return;
    }
    const rungs = rungsFor(this.o.ladder, video.height);
    const same = rungs.length === this.rungs.length && rungs.every((r, i) => r.name === this.rungs[i]?.name);
    if (this.child && same && !heightChanged && !audioAppeared) {
      // New codec headers of the same shape: ffmpeg's FLV demuxer takes them in-band.
      this.writeHeaders();
      return;
    }
    this.rungs = rungs;
    this.kill();
    // ffmpeg starts at the next video keyframe, once the headers that come one by one are all in.
    this.pending = rungs.length > 0;
    if (rungs.length === 0) this.o.logger.info({ channel: this.o.channel, height: video.height }, 'live ABR: the source is not taller than any rung; no renditions');
  }

  onFrame(frame: MediaFrame): void {
    if (this.pending && !this.child && frame.kind === 'video' && frame.keyframe) this.spawn();
    const stdin = this.stdin;
    if (!stdin || this.stopped) return;
    if (this.waitingKey) {
      if (frame.kind !== 'video' || !frame.keyframe) return;
      this.waitingKey = false;
    }
    if (stdin.writableLength > ABR_INPUT_SKIP_BYTES) {
      // ffmpeg is not keeping up (machine overloaded): resume at the next keyframe.
      this.waitingKey = true;
      this.o.metrics.inputSkipped(1);
      return;
    }
    stdin.write(flvTagOf(frame));
  }

  onEnd(): void {
    this.stop();
  }

  // ---------------------------------------------------------------- ffmpeg

  private writeHeaders(): void {
    const live = this.o.hub.streams.get(this.o.channel);
    if (!live || !this.stdin) return;
    for (const t of live.headerTags()) this.stdin.write(t.flv);
  }

  private spawn(): void {
    this.pending = false;
    if (this.stopped || this.child) return;
    const rungs = this.rungs;
    const args = abrArgs(rungs, { preset: this.o.preset, audio: !!this.audio });
    let child: ChildProcess;
    try {
      child = (this.o.spawnFfmpeg ?? defaultSpawn)(this.o.ffmpeg, args, rungs.length);
    } catch (err) {
      this.onExit(null, `spawn failed: ${(err as Error).message}`);
      return;
    }
    this.child = child;
    this.spawns++;
    this.startedAt = Date.now();
    this.o.metrics.running(1);
    const log = this.o.logger;
    log.info({ channel: this.o.channel, pid: child.pid, rungs: rungs.map((r) => r.name) }, 'live ABR transcoder started');

    const stdin = child.stdin!;
    stdin.on('error', () => undefined); // EPIPE when ffmpeg dies: the exit handler deals with it
    this.stdin = stdin;
    stdin.write(encodeFlvHeader(!!this.audio, true));
    this.waitingKey = true;
    this.writeHeaders();

    const progress = new ProgressParser((p) => this.o.metrics.speed(this.o.channel, p.speed));
    child.stdout!.on('data', (c: Buffer) => progress.push(c));

    this.outputs = rungs.map((rung) => ({ rung, name: renditionChannel(this.o.channel, rung.name), stream: null, reader: null, refused: false }));
    this.outputs.forEach((out, i) => {
      const pipe = child.stdio[FIRST_OUTPUT_FD + i] as Readable | null;
      if (!pipe) return;
      const parser = new FlvParser({ onTag: (t) => this.feedOutput(child, out, t.type, t.timestamp, t.data) });
      pipe.on('data', (d: Buffer) => {
        try {
          parser.push(d);
        } catch (err) {
          log.warn({ channel: this.o.channel, rendition: out.name, err: (err as Error).message }, 'bad FLV from the ABR transcoder; restarting it');
          killNow(child);
        }
      });
      pipe.on('error', () => undefined);
    });

    onChildGone(child, (why) => this.onExit(child, why), 3);
  }

  private feedOutput(child: ChildProcess, out: RungOutput, type: number, ts: number, body: Buffer): void {
    if (this.child !== child || this.stopped || out.refused) return;
    if (!out.stream || out.stream.ended) {
      const stream = this.o.hub.publish(out.name, { protocol: 'abr', close: (reason) => this.renditionKicked(out, reason) });
      if (!stream) {
        out.refused = true;
        this.o.logger.warn({ channel: this.o.channel, rendition: out.name }, 'live ABR: the rendition name is already publishing; skipping that rung');
        return;
      }
      out.stream = stream;
      out.reader = new FlvFrameReader(stream);
    }
    out.reader!.tag(type, ts, body);
  }

  /** renditionKicked: an operator kicked the rendition; it comes back with ffmpeg's next tag. */
  private renditionKicked(out: RungOutput, reason: string): void {
    this.o.logger.info({ rendition: out.name, reason }, 'live ABR rendition kicked');
    out.stream = null;
  }

  private endOutputs(reason: string): void {
    for (const out of this.outputs) {
      const s = out.stream;
      out.stream = null;
      if (s && !s.ended) s.end(reason);
    }
    this.outputs = [];
  }

  private onExit(child: ChildProcess | null, why: string): void {
    if (child && this.child !== child) return; // an older process we already replaced
    if (child) this.o.metrics.running(-1);
    this.o.metrics.speed(this.o.channel, undefined);
    this.child = null;
    this.stdin = null;
    this.endOutputs('transcoder stopped');
    if (this.stopped) return;
    this.lastError = why;
    if (Date.now() - this.startedAt > HEALTHY_RUN_MS) this.backoff = this.o.restartMinMs;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.o.restartMaxMs);
    this.o.logger.error({ channel: this.o.channel, reason: why, retryInMs: wait }, 'live ABR transcoder exited; the source stream is unaffected');
    this.o.metrics.restarted(this.o.channel);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      // Restarts at the source's next keyframe.
      if (!this.stopped && this.o.hub.isLive(this.o.channel) && this.rungs.length > 0) this.pending = true;
    }, wait);
    this.retryTimer.unref();
  }

  /** kill stops the current ffmpeg (by its pid): stdin closed, SIGTERM, SIGKILL after a grace period. */
  private kill(): void {
    const child = this.child;
    if (!child) return;
    this.child = null;
    this.stdin = null;
    this.o.metrics.running(-1);
    this.o.metrics.speed(this.o.channel, undefined);
    this.endOutputs('transcoder stopped');
    void stopChild(child, { graceMs: ABR_KILL_GRACE_MS });
    this.o.logger.info({ channel: this.o.channel, pid: child.pid }, 'live ABR transcoder stopped');
  }

  /** stop ends the transcoder for good (source ended, ABR switched off, shutdown). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.kill();
  }
}
