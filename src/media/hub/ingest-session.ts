/**
 * IngestSession is one publish's claim on a channel, shared by every ingest that is not an RTMP
 * publisher talking to the hub itself (SRT, RTSP, WHIP, and the RTMP/HTTP-FLV pull relays through
 * the FLV edge; a cluster edge pull is meant to be the next): it takes tracks and codec frames from the ingest's depacketizer/demuxer and owns the
 * "fake publisher" part they used to copy:
 *
 *   ingest ──setTracks/pushFrame──► IngestSession ──(held until ready)──► hub.publish(channel) ──► Publisher
 *                                        │ claim refused → ended (the ingest answers "already live")
 *                                        └ hub kick → ended, onKicked(reason) (the ingest stops its source)
 *
 * Two ways to go live:
 *  - hold (SRT, WHIP): frames are held from the ingest's first frame until the expected tracks are
 *    known (the audio header may come late: ffmpeg starting, a TS whose audio starts later), at most
 *    `audioHeaderWaitMs` after the first held frame or `maxFrames` frames; then the session claims
 *    the channel by itself and hands over metadata, codec headers first, then the frames in order.
 *  - explicit (RTSP): the owner calls claim() (at RECORD, to answer a busy channel in RECORD's
 *    response); frames before it are dropped.
 *
 * The session does not know where its frames come from, so a source can be replaced under it
 * (failover) without the channel going offline: the claim, tracks and counters stay.
 */
import type { Amf0Object } from '../../formats/amf0.js';
import type { Logger } from '../../observability/logger.js';
import type { FrameSink } from '../flv/frame-reader.js';
import type { Publisher, PublishSource } from './hub.js';
import type { AudioTrackInfo, DroppedTrack, MediaFrame, VideoTrackInfo } from './types.js';

/** Frames held before the claim at most, when `hold.maxFrames` does not say (a stream whose audio never comes still goes live). */
export const INGEST_MAX_HELD_FRAMES = 600;

/** The part of StreamHub an ingest session needs. */
export interface IngestHub {
  publish(channel: string, source: PublishSource): Publisher | null;
}

export interface IngestSessionOptions {
  hub: IngestHub;
  channel: string;
  protocol: PublishSource['protocol'];
  clientIp?: string;
  logger: Logger;
  /** Named as `encoder` in the stream's metadata; omitted: the source's own metadata names it (pulls). */
  encoder?: string;
  /** The hub ended the publish (kick, ban, shutdown): the ingest must stop its source. */
  onKicked(reason: string): void;
  /** The hub refused the claim (the channel has a publisher); the session has ended. */
  onRefused?(): void;
  onLive?(): void;
  /** A frame went into the hub. */
  onFrame?(kind: 'video' | 'audio'): void;
  /** Hold frames and claim the channel by itself once ready (see the file comment); omitted: claim() is explicit. */
  hold?: { audioHeaderWaitMs: number; maxFrames?: number };
  now?: () => number;
}

/** IngestCounters are the counters every ingest reports. */
export interface IngestCounters {
  /** Frames taken (held or live). */
  videoFrames: number;
  audioFrames: number;
  /** Frames given before the session could take them (explicit claim not made yet), or held when the claim was refused. */
  dropped: number;
  /** Input the ingest could not turn into frames. */
  badInput: number;
}

export type IngestState = 'waiting' | 'live' | 'ended';

interface TrackAt<T> {
  track: T;
  dts: number;
}

export class IngestSession implements FrameSink {
  private publisher: Publisher | null = null;
  private dropped: DroppedTrack[] = [];
  private isEnded = false;
  private video?: TrackAt<VideoTrackInfo>;
  private audio?: TrackAt<AudioTrackInfo>;
  private expected = { video: false, audio: false };
  private extraMetadata: Amf0Object = {};
  private held: MediaFrame[] = [];
  private firstHeldAt = 0;
  readonly counters: IngestCounters = { videoFrames: 0, audioFrames: 0, dropped: 0, badInput: 0 };

  constructor(private readonly o: IngestSessionOptions) {}

  now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  get channel(): string {
    return this.o.channel;
  }

  get state(): IngestState {
    return this.isEnded ? 'ended' : this.publisher ? 'live' : 'waiting';
  }

  /** live: the channel is claimed and the hub stream runs. */
  get live(): boolean {
    return this.publisher !== null && !this.publisher.ended && !this.isEnded;
  }

  /** ended: refused, kicked or ended; frames are no longer taken. */
  get ended(): boolean {
    return this.isEnded;
  }

  /** videoTrack / audioTrack: the tracks announced so far. */
  get videoTrack(): VideoTrackInfo | undefined {
    return this.video?.track;
  }

  get audioTrack(): AudioTrackInfo | undefined {
    return this.audio?.track;
  }

  /** expect says which tracks the source has (a held stream waits for their headers). */
  expect(kinds: { video?: boolean; audio?: boolean }): void {
    if (kinds.video !== undefined) this.expected.video = kinds.video;
    if (kinds.audio !== undefined) this.expected.audio = kinds.audio;
    this.poll();
  }

  setTracks(video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined, dts = 0): void {
    if (this.isEnded) return;
    if (video) this.video = { track: video, dts };
    if (audio) this.audio = { track: audio, dts };
    if (this.publisher) this.publisher.setTracks(video, audio, dts);
    else this.poll();
  }

  /** setMetadata adds values to the metadata the stream starts with (or updates it when live). */
  setMetadata(values: Amf0Object): void {
    if (this.isEnded) return;
    this.extraMetadata = { ...this.extraMetadata, ...values };
    if (this.publisher) this.publisher.setMetadata(this.metadata());
  }

  pushFrame(frame: MediaFrame): void {
    if (this.isEnded) return;
    if (this.publisher) {
      this.count(frame);
      this.give(this.publisher, frame);
      return;
    }
    if (!this.o.hold) {
      this.counters.dropped++;
      return;
    }
    this.count(frame);
    if (this.held.length === 0) this.firstHeldAt = this.now();
    this.held.push(frame);
    if (this.held.length >= (this.o.hold.maxFrames ?? INGEST_MAX_HELD_FRAMES)) this.claim();
    else this.poll();
  }

  droppedTrack(track: DroppedTrack): void {
    // Kept until the claim (the hub stream does not exist yet while frames are held), then passed on.
    if (this.publisher) this.publisher.droppedTrack?.(track);
    else this.dropped.push(track);
  }

  badInput(message: string): void {
    this.counters.badInput++;
    if (this.publisher) this.publisher.badInput(message);
    else this.o.logger.debug({ channel: this.o.channel, err: message }, 'dropped unreadable input');
  }

  /** poll claims a held stream once it is ready (call it as time passes: the audio header wait). */
  poll(): void {
    if (!this.o.hold || this.publisher || this.isEnded || this.held.length === 0) return;
    const videoReady = !this.expected.video || this.video !== undefined;
    const audioReady = !this.expected.audio || this.audio !== undefined || this.now() - this.firstHeldAt >= this.o.hold.audioHeaderWaitMs;
    if (videoReady && audioReady) this.claim();
  }

  /**
   * claim takes the channel in the hub (the hub refuses when it has a publisher) and hands it the
   * metadata, the codec headers and the held frames. False when refused: the session has ended.
   */
  claim(): boolean {
    if (this.publisher) return true;
    if (this.isEnded) return false;
    const source: PublishSource = { protocol: this.o.protocol, ...(this.o.clientIp ? { clientIp: this.o.clientIp } : {}), close: (reason) => this.kicked(reason) };
    const p = this.o.hub.publish(this.o.channel, source);
    if (!p) {
      this.isEnded = true;
      this.counters.dropped += this.held.length;
      this.held = [];
      this.o.onRefused?.();
      return false;
    }
    this.publisher = p;
    for (const t of this.dropped) p.droppedTrack?.(t);
    this.dropped = [];
    // Tracks before the metadata, so FLV metadata can name their codecs; then the frames in order.
    if (this.video) p.setTracks(this.video.track, undefined, this.video.dts);
    if (this.audio) p.setTracks(undefined, this.audio.track, this.audio.dts);
    const meta = this.metadata();
    if (Object.keys(meta).length > 0) p.setMetadata(meta);
    const held = this.held;
    this.held = [];
    for (const f of held) this.give(p, f);
    this.o.onLive?.();
    return true;
  }

  private metadata(): Amf0Object {
    const v = this.video?.track;
    const a = this.audio?.track;
    return {
      ...(v ? { width: v.width, height: v.height } : {}),
      ...(a ? { audiosamplerate: a.sampleRate, audiochannels: a.channels } : {}),
      ...this.extraMetadata,
      ...(this.o.encoder ? { encoder: this.o.encoder } : {}),
    };
  }

  private count(frame: MediaFrame): void {
    if (frame.kind === 'video') this.counters.videoFrames++;
    else this.counters.audioFrames++;
  }

  private give(p: Publisher, frame: MediaFrame): void {
    p.pushFrame(frame);
    this.o.onFrame?.(frame.kind);
  }

  private kicked(reason: string): void {
    if (this.isEnded) return;
    this.isEnded = true;
    this.held = [];
    this.o.onKicked(reason);
  }

  /** end stops the publish: held frames are dropped and the hub stream ends (the channel goes offline). */
  end(reason: string): void {
    this.isEnded = true;
    this.held = [];
    const p = this.publisher;
    if (p && !p.ended) p.end(reason);
  }
}
