/**
 * LiveThumbnails keeps a JPEG of every live channel: on the first keyframe and then every
 * `intervalMs` from the latest keyframe, one short-lived ffmpeg decodes that keyframe.
 * Served from memory at /live/{channel}/thumbnail.jpg, also written under
 * `${dataDir}/thumbnails/live/` and, while a channel records, as that recording's poster.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../observability/logger.js';
import type { AudioTrackInfo, MediaFrame, StreamHubApi, StreamSubscriber, VideoTrackInfo } from '../hub/types.js';
import { snapshotJpeg } from './snapshot.js';

/** Snapshots running at once across all channels (each is one ffmpeg). */
const MAX_CONCURRENT_SNAPSHOTS = 2;
const POSTER_FILE = 'poster.jpg';

export interface Thumbnail {
  jpeg: Buffer;
  /** Epoch ms when it was made. */
  at: number;
}

export interface LiveThumbnailsOptions {
  hub: StreamHubApi;
  ffmpeg: string;
  intervalMs: number;
  /** Directory for the latest live JPEG of each channel. */
  dir: string;
  logger: Logger;
  /** The directory of the channel's recording in progress, if any (gets poster.jpg). */
  recordingDir?(channel: string): string | undefined;
  onSnapshot?(channel: string, ok: boolean): void;
  /** Channels that get no thumbnails (live ABR renditions of another channel). */
  skip?(channel: string): boolean;
  maxWidth?: number;
}

class ChannelThumbs implements StreamSubscriber {
  video?: VideoTrackInfo;
  keyframe?: Buffer;
  keyframeSeq = 0;
  takenSeq = 0;
  busy = false;
  timer?: NodeJS.Timeout;
  unsubscribe: () => void = () => undefined;

  constructor(readonly channel: string, private readonly owner: LiveThumbnails) {}

  onTracks(video: VideoTrackInfo | undefined, _audio: AudioTrackInfo | undefined): void {
    this.video = video && (video.codec === 'avc' || video.codec === 'hevc') ? video : undefined;
  }

  onFrame(f: MediaFrame): void {
    if (f.kind !== 'video' || !f.keyframe || !this.video) return;
    this.keyframe = f.data;
    this.keyframeSeq++;
    if (this.takenSeq === 0 && !this.busy) void this.owner.take(this); // the first thumbnail without waiting
  }

  onEnd(): void {
    this.owner.detach(this.channel);
  }
}

export class LiveThumbnails {
  private readonly channels = new Map<string, ChannelThumbs>();
  private readonly latest = new Map<string, Thumbnail>();
  private running = 0;
  private started = false;

  constructor(private readonly o: LiveThumbnailsOptions) {}

  private readonly onStart = (channel: string) => this.attach(channel);
  private readonly onEnd = (channel: string) => this.detach(channel);

  async start(): Promise<void> {
    this.started = true;
    await mkdir(this.o.dir, { recursive: true });
    this.o.hub.on('streamStart', this.onStart);
    this.o.hub.on('streamEnd', this.onEnd);
    for (const ch of this.o.hub.liveChannels()) this.attach(ch);
  }

  async stop(): Promise<void> {
    this.started = false;
    this.o.hub.off('streamStart', this.onStart);
    this.o.hub.off('streamEnd', this.onEnd);
    for (const ch of [...this.channels.keys()]) this.detach(ch);
  }

  /** get returns the channel's latest thumbnail (kept after the stream ends, until restart). */
  get(channel: string): Thumbnail | undefined {
    return this.latest.get(channel);
  }

  private attach(channel: string): void {
    if (!this.started || this.channels.has(channel) || this.o.skip?.(channel)) return;
    const c = new ChannelThumbs(channel, this);
    this.channels.set(channel, c);
    c.timer = setInterval(() => {
      if (c.keyframeSeq !== c.takenSeq && !c.busy) void this.take(c);
    }, this.o.intervalMs);
    c.timer.unref();
    c.unsubscribe = this.o.hub.subscribe(channel, c);
  }

  detach(channel: string): void {
    const c = this.channels.get(channel);
    if (!c) return;
    this.channels.delete(channel);
    if (c.timer) clearInterval(c.timer);
    c.unsubscribe();
  }

  /** take makes one JPEG from the channel's latest keyframe. */
  async take(c: ChannelThumbs): Promise<void> {
    if (!c.keyframe || !c.video || c.busy || this.running >= MAX_CONCURRENT_SNAPSHOTS) return;
    c.busy = true;
    this.running++;
    const seq = c.keyframeSeq;
    try {
      const jpeg = await snapshotJpeg(c.video, c.keyframe, { ffmpeg: this.o.ffmpeg, maxWidth: this.o.maxWidth });
      c.takenSeq = seq;
      this.latest.set(c.channel, { jpeg, at: Date.now() });
      await writeAtomic(join(this.o.dir, `${c.channel}.jpg`), jpeg);
      const recDir = this.o.recordingDir?.(c.channel);
      if (recDir && existsSync(recDir) && !existsSync(join(recDir, POSTER_FILE))) await writeAtomic(join(recDir, POSTER_FILE), jpeg);
      this.o.onSnapshot?.(c.channel, true);
    } catch (err) {
      c.takenSeq = seq; // do not retry the same keyframe
      this.o.onSnapshot?.(c.channel, false);
      this.o.logger.warn({ channel: c.channel, err: (err as Error).message }, 'live thumbnail failed');
    } finally {
      c.busy = false;
      this.running--;
    }
  }
}

async function writeAtomic(file: string, data: Buffer): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}
