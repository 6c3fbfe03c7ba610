/**
 * StreamHub owns one LiveStream per live channel: the single publisher, its codec headers,
 * metadata and GOP cache, and every output attached to it. Frames are parsed once; each
 * flush encodes once per transport and writes the same Buffer to every viewer.
 *
 * Flow:  publisher ──pushTag──► LiveStream ──onFrame (sync)──► StreamSubscribers (HLS, ...)
 *                                   └─ pending tags ──flush (every flushIntervalMs)──► Viewers
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../../observability/logger.js';
import type { ServerPublisher } from '../../chat/hooks.js';
import type { AudioTrackInfo, StreamHubApi, StreamSubscriber, VideoTrackInfo } from './types.js';
import {
  FLV_TAG_AUDIO, FLV_TAG_SCRIPT, FLV_TAG_VIDEO, FLV_TAG_HEADER_SIZE, AVC_PACKET_SEQUENCE_HEADER, AVC_PACKET_END_OF_SEQUENCE,
  AAC_PACKET_SEQUENCE_HEADER, AUDIO_FORMAT_AAC, AUDIO_FORMAT_MP3, EX_PACKET_SEQUENCE_START, EX_PACKET_SEQUENCE_END, EX_PACKET_METADATA,
  VIDEO_FRAME_KEY, VIDEO_FRAME_COMMAND, VIDEO_CODEC_AVC, VIDEO_CODEC_HEVC_LEGACY, FOURCC_HEVC, FOURCC_AV1, FOURCC_AVC,
  encodeFlvTag, parseAudioTagHeader, parseVideoTagHeader,
} from '../../formats/flv.js';
import { decodeAmf0, encodeAmf0, ecmaArray, type Amf0Object } from '../../formats/amf0.js';
import { describeAvcConfig } from '../../formats/avc.js';
import { describeHevcConfig } from '../../formats/hevc.js';
import { parseAudioSpecificConfig } from '../../formats/aac.js';
import { Batch, type OutTag } from './batch.js';
import type { Viewer, ViewerProtocol, ViewerState } from './viewer.js';

export const HUB_EVENT_STREAM_START = 'streamStart';
export const HUB_EVENT_STREAM_END = 'streamEnd';
export const DROP_REASON_SLOW_VIEWER = 'slow_viewer';
export const DROP_REASON_GOP_CACHE_FULL = 'gop_cache_full';
export const DROP_REASON_BAD_FRAME = 'bad_frame';
const RATE_WINDOW_MS = 2000;
/**
 * Frames are held 1 ms longer per this many viewers (up to flushIntervalMs): a few viewers
 * get every frame at once, thousands get fewer, larger writes (one syscall per flush each).
 */
export const VIEWERS_PER_FLUSH_MS = 40;

export interface HubOptions {
  logger: Logger;
  gopCacheMaxFrames: number;
  viewerQueueSkipBytes: number;
  viewerQueueMaxBytes: number;
  /** A viewer skipping for being slow this long without catching up is disconnected. */
  viewerStallMs: number;
  /** Longest time tags are collected to be written to viewers in one write each (0: every turn). */
  flushIntervalMs: number;
  /** Chunk size of the RTMP bytes shared between players. */
  rtmpChunkSize: number;
  events?: ServerPublisher;
}

/** PublishSource is the ingest side's handle: the hub uses it to kick a publisher. */
export interface PublishSource {
  protocol: 'rtmp' | 'rtmps' | 'relay' | 'abr' | 'whip' | 'srt' | 'rtsp';
  clientIp?: string;
  close(reason: string): void;
}

/** Publisher is what an ingest (RTMP session, relay) feeds tags into. */
export interface Publisher {
  readonly channel: string;
  /** pushTag takes one FLV-style tag body (= RTMP audio/video/data message payload). */
  pushTag(type: number, timestamp: number, body: Buffer): void;
  /** pushMetadata takes decoded script data (onMetaData values). */
  pushMetadata(values: Amf0Object): void;
  /** end stops the stream: viewers get a clean end, the channel goes offline. */
  end(reason: string): void;
  readonly ended: boolean;
}

/** metadataOf finds the onMetaData object in decoded script data (with or without @setDataFrame). */
export function metadataOf(values: readonly unknown[]): Amf0Object | null {
  const v = values[0] === '@setDataFrame' ? values.slice(1) : values;
  const meta = v[1];
  return v[0] === 'onMetaData' && meta && typeof meta === 'object' && !Array.isArray(meta) && !(meta instanceof Date) ? (meta as Amf0Object) : null;
}

/**
 * pushFlvTag feeds one tag of an FLV source (a relay pull, the ABR transcoder's output):
 * script data becomes metadata (undecodable metadata is ignored: it is optional), audio and
 * video go in as they are, anything else is skipped.
 */
export function pushFlvTag(p: Publisher, type: number, timestamp: number, body: Buffer): void {
  if (type === FLV_TAG_SCRIPT) {
    let meta: Amf0Object | null = null;
    try {
      meta = metadataOf(decodeAmf0(body));
    } catch {
      return;
    }
    if (meta) p.pushMetadata(meta);
  } else if (type === FLV_TAG_AUDIO || type === FLV_TAG_VIDEO) p.pushTag(type, timestamp, body);
}

export interface TrackSummary {
  codec: string;
  codecString: string;
  width?: number;
  height?: number;
  sampleRate?: number;
  channels?: number;
}

export interface ChannelStats {
  channel: string;
  live: true;
  since: string;
  publisher: { protocol: string; clientIp?: string };
  video?: TrackSummary;
  audio?: TrackSummary;
  /** Bits per second received from the publisher over the last couple of seconds. */
  bitrateIn: number;
  /** Bits per second written to all viewers. */
  bitrateOut: number;
  fps: number;
  viewers: Record<string, number>;
}

class Rate {
  private start = Date.now();
  private count = 0;
  private value = 0;
  add(n: number): void {
    this.count += n;
    this.roll();
  }
  roll(): void {
    const now = Date.now();
    const dt = now - this.start;
    if (dt >= RATE_WINDOW_MS) {
      this.value = (this.count * 1000) / dt;
      this.count = 0;
      this.start = now;
    }
  }
  get(): number {
    this.roll();
    return Date.now() - this.start > 2 * RATE_WINDOW_MS ? 0 : this.value;
  }
}

/** Counters the metrics module reads (plain numbers on the hot path, no label lookups). */
export interface HubCounters {
  bytesIn: number;
  bytesOut: Record<ViewerProtocol, number>;
  dropped: Record<string, number>;
}

const TRACK_CHANGE_KEYS = ['codec', 'config'] as const;

function sameTrack<T extends { codec: string; config: Buffer }>(a: T | undefined, b: T): boolean {
  return !!a && TRACK_CHANGE_KEYS.every((k) => (k === 'config' ? a.config.equals(b.config) : a[k] === b[k]));
}

/** LiveStream is one channel's live state, owned by its single publisher. */
export class LiveStream implements Publisher {
  readonly since = new Date();
  video?: VideoTrackInfo;
  audio?: AudioTrackInfo;
  metadata?: Amf0Object;
  private metadataTag?: OutTag;
  private videoHeader?: OutTag;
  private audioHeader?: OutTag;
  private gop: OutTag[] = [];
  private gopOverflow = false;
  private pending: OutTag[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private lastFlushedSeq = 0;
  private seq = 0;
  private sawVideo = false;
  readonly viewers = new Set<ViewerState>();
  readonly subscribers = new Set<StreamSubscriber>();
  ended = false;
  readonly rateIn = new Rate();
  readonly rateOut = new Rate();
  readonly fpsRate = new Rate();
  private lastVideoDts = -1;
  private lastAudioDts = -1;

  constructor(readonly channel: string, readonly source: PublishSource, private readonly hub: StreamHub) {}

  // ---------------------------------------------------------------- ingest

  pushTag(type: number, timestamp: number, body: Buffer): void {
    if (this.ended || body.length === 0) return;
    const n = FLV_TAG_HEADER_SIZE + body.length + 4;
    this.hub.counters.bytesIn += n;
    this.rateIn.add(n * 8);
    try {
      if (type === FLV_TAG_VIDEO) this.onVideo(timestamp, body);
      else if (type === FLV_TAG_AUDIO) this.onAudio(timestamp, body);
    } catch (err) {
      // A frame we cannot understand is dropped; the publisher stays on.
      this.hub.counters.dropped[DROP_REASON_BAD_FRAME] = (this.hub.counters.dropped[DROP_REASON_BAD_FRAME] ?? 0) + 1;
      this.hub.logger.debug({ channel: this.channel, err: (err as Error).message }, 'dropped a malformed frame');
    }
  }

  pushMetadata(values: Amf0Object): void {
    if (this.ended) return;
    const meta = ecmaArray({ ...values, server: 'onair' });
    this.metadata = meta;
    const tag = this.makeTag(FLV_TAG_SCRIPT, 0, encodeAmf0('onMetaData', meta), false, true);
    this.metadataTag = tag;
    this.enqueue(tag);
  }

  private makeTag(type: number, dts: number, body: Buffer, keyframe: boolean, header: boolean): OutTag {
    return { seq: ++this.seq, type, keyframe, header, dts, flv: encodeFlvTag(type, dts, body) };
  }

  private onVideo(ts: number, body: Buffer): void {
    const h = parseVideoTagHeader(body);
    if (h.frameType === VIDEO_FRAME_COMMAND) return;
    const isSeqStart = h.kind === 'legacy' ? h.packetType === AVC_PACKET_SEQUENCE_HEADER : h.packetType === EX_PACKET_SEQUENCE_START;
    const isSeqEnd = h.kind === 'legacy' ? h.packetType === AVC_PACKET_END_OF_SEQUENCE && (h.codecId === VIDEO_CODEC_AVC || h.codecId === VIDEO_CODEC_HEVC_LEGACY) : h.packetType === EX_PACKET_SEQUENCE_END;
    if (isSeqEnd || (h.kind === 'enhanced' && h.packetType === EX_PACKET_METADATA)) return;
    if (isSeqStart) {
      const config = Buffer.from(body.subarray(h.payloadOffset));
      const track = this.describeVideo(h.kind === 'legacy' ? (h.codecId === VIDEO_CODEC_AVC ? 'avc' : 'hevc') : h.fourCC, config);
      if (!track || sameTrack(this.video, track)) return;
      this.video = track;
      this.sawVideo = true;
      const tag = this.makeTag(FLV_TAG_VIDEO, ts, body, false, true);
      this.videoHeader = tag;
      this.enqueue(tag);
      this.notifyTracks();
      return;
    }
    this.sawVideo = true;
    // Keep decode times monotonic for every output (some encoders step back by a millisecond).
    const dts = ts < this.lastVideoDts ? this.lastVideoDts : ts;
    this.lastVideoDts = dts;
    const keyframe = h.frameType === VIDEO_FRAME_KEY;
    const tag = this.makeTag(FLV_TAG_VIDEO, dts, body, keyframe, false);
    const data = tag.flv.subarray(FLV_TAG_HEADER_SIZE + h.payloadOffset, tag.flv.length - 4);
    tag.frame = { kind: 'video', dts, pts: dts + h.cts, keyframe, data, flvTag: tag.flv };
    this.fpsRate.add(1);
    this.cacheAndEnqueue(tag);
  }

  private describeVideo(codec: string, config: Buffer): VideoTrackInfo | undefined {
    if (codec === 'avc' || codec === FOURCC_AVC) {
      const d = describeAvcConfig(config);
      return { codec: 'avc', config, width: d.width, height: d.height, codecString: d.codecString, profile: d.profile, level: d.level };
    }
    if (codec === 'hevc' || codec === FOURCC_HEVC) {
      const d = describeHevcConfig(config);
      const width = d.width || Number(this.metadata?.width) || 0;
      const height = d.height || Number(this.metadata?.height) || 0;
      return { codec: 'hevc', config, width, height, codecString: d.codecString, profile: d.profile, level: d.level };
    }
    if (codec === FOURCC_AV1) {
      // av1C: marker|version, seq_profile(3) seq_level_idx_0(5), seq_tier_0(1) high_bitdepth(1) ...
      const profile = config.length > 1 ? config[1]! >> 5 : 0;
      const level = config.length > 1 ? config[1]! & 0x1f : 0;
      const tier = config.length > 2 && config[2]! & 0x80 ? 'H' : 'M';
      const depth = config.length > 2 && config[2]! & 0x40 ? (config[2]! & 0x20 ? 12 : 10) : 8;
      const codecString = `av01.${profile}.${String(level).padStart(2, '0')}${tier}.${String(depth).padStart(2, '0')}`;
      return { codec: 'av1', config, width: Number(this.metadata?.width) || 0, height: Number(this.metadata?.height) || 0, codecString, profile, level };
    }
    return undefined;
  }

  private onAudio(ts: number, body: Buffer): void {
    const h = parseAudioTagHeader(body);
    if (h.soundFormat === AUDIO_FORMAT_AAC && h.packetType === AAC_PACKET_SEQUENCE_HEADER) {
      const config = Buffer.from(body.subarray(h.payloadOffset));
      const asc = parseAudioSpecificConfig(config);
      const track: AudioTrackInfo = { codec: 'aac', config, sampleRate: asc.extensionSampleRate ?? asc.sampleRate, channels: asc.channels, codecString: asc.codecString };
      if (sameTrack(this.audio, track)) return;
      this.audio = track;
      const tag = this.makeTag(FLV_TAG_AUDIO, ts, body, false, true);
      this.audioHeader = tag;
      this.enqueue(tag);
      this.notifyTracks();
      return;
    }
    if (h.soundFormat === AUDIO_FORMAT_MP3 && !this.audio) {
      const rates = [5512, 11025, 22050, 44100];
      this.audio = { codec: 'mp3', config: Buffer.alloc(0), sampleRate: rates[h.soundRate]!, channels: h.soundType + 1, codecString: 'mp4a.40.34' };
      this.notifyTracks();
    }
    const dts = ts < this.lastAudioDts ? this.lastAudioDts : ts;
    this.lastAudioDts = dts;
    // Without video every audio frame is a random access point.
    const keyframe = !this.sawVideo;
    const tag = this.makeTag(FLV_TAG_AUDIO, dts, body, keyframe, false);
    const data = tag.flv.subarray(FLV_TAG_HEADER_SIZE + h.payloadOffset, tag.flv.length - 4);
    tag.frame = { kind: 'audio', dts, pts: dts, keyframe: true, data, flvTag: tag.flv };
    this.cacheAndEnqueue(tag);
  }

  private notifyTracks(): void {
    for (const s of this.subscribers) {
      try {
        s.onTracks?.(this.video, this.audio);
      } catch (err) {
        this.hub.logger.warn({ err, channel: this.channel }, 'subscriber onTracks failed');
      }
    }
  }

  private cacheAndEnqueue(tag: OutTag): void {
    if (tag.keyframe) {
      this.gop = [tag];
      this.gopOverflow = false;
    } else if (this.gop.length > 0 && !this.gopOverflow) {
      if (this.gop.length >= this.hub.opts.gopCacheMaxFrames) {
        // A GOP longer than the bound: late joiners wait for the next keyframe instead.
        this.gop = [];
        this.gopOverflow = true;
        this.hub.counters.dropped[DROP_REASON_GOP_CACHE_FULL] = (this.hub.counters.dropped[DROP_REASON_GOP_CACHE_FULL] ?? 0) + 1;
      } else {
        this.gop.push(tag);
      }
    }
    const frame = tag.frame!;
    for (const s of this.subscribers) {
      try {
        s.onFrame(frame);
      } catch (err) {
        this.hub.logger.warn({ err, channel: this.channel }, 'subscriber onFrame failed');
      }
    }
    this.enqueue(tag);
  }

  private enqueue(tag: OutTag): void {
    if (this.viewers.size === 0) {
      this.lastFlushedSeq = tag.seq;
      return;
    }
    this.pending.push(tag);
    if (this.flushTimer || this.immediate) return;
    const ms = Math.min(this.hub.opts.flushIntervalMs, Math.floor(this.viewers.size / VIEWERS_PER_FLUSH_MS));
    if (ms > 0) this.flushTimer = setTimeout(() => this.flush(), ms);
    else this.immediate = setImmediate(() => this.flush());
  }

  /** headerTags lists the current metadata and codec header tags (for relays that re-publish). */
  headerTags(): OutTag[] {
    return [this.metadataTag, this.videoHeader, this.audioHeader].filter((t): t is OutTag => !!t);
  }

  // ---------------------------------------------------------------- fan-out

  /** flush writes every pending tag to every viewer: one shared Buffer per transport. */
  flush(): void {
    this.flushTimer = null;
    this.immediate = null;
    const tags = this.pending;
    if (tags.length === 0) return;
    this.pending = [];
    this.lastFlushedSeq = tags[tags.length - 1]!.seq;
    const batch = new Batch(tags);
    const o = this.hub.opts;
    const now = Date.now();
    let out = 0;
    for (const vs of this.viewers) {
      if (vs.closed) continue;
      const v = vs.viewer;
      const queued = v.queuedBytes();
      if (queued > o.viewerQueueMaxBytes || (vs.slowSince > 0 && now - vs.slowSince > o.viewerStallMs)) {
        this.hub.drop(DROP_REASON_SLOW_VIEWER, batch.frameCount);
        this.hub.logger.info({ channel: this.channel, protocol: v.protocol, queued }, 'disconnecting a viewer that does not keep up');
        this.detach(vs, 'slow viewer', false);
        continue;
      }
      if (queued > o.viewerQueueSkipBytes) {
        if (vs.slowSince === 0) vs.slowSince = now;
        vs.waitingKey = true;
        this.hub.drop(DROP_REASON_SLOW_VIEWER, batch.frameCount);
        continue;
      }
      vs.slowSince = 0;
      if (vs.waitingKey) {
        if (batch.firstKey < 0) {
          this.hub.drop(DROP_REASON_SLOW_VIEWER, batch.frameCount);
          continue;
        }
        vs.waitingKey = false;
        this.hub.drop(DROP_REASON_SLOW_VIEWER, batch.firstKey);
        out += this.writeTo(vs, batch.from(batch.firstKey));
        continue;
      }
      out += this.writeTo(vs, batch);
    }
    if (out > 0) this.rateOut.add(out * 8);
  }

  private writeTo(vs: ViewerState, batch: Batch): number {
    try {
      const n = vs.viewer.write(batch);
      this.hub.counters.bytesOut[vs.viewer.protocol] += n;
      return n;
    } catch (err) {
      this.hub.logger.debug({ err, channel: this.channel }, 'viewer write failed');
      this.detach(vs, 'write failed', false);
      return 0;
    }
  }

  /** addViewer attaches a byte-stream viewer: it gets headers and the cached GOP at once. */
  addViewer(viewer: Viewer): () => void {
    const vs: ViewerState = { viewer, waitingKey: false, slowSince: 0, connectedAt: Date.now(), closed: false };
    const headers: OutTag[] = [];
    if (this.metadataTag) headers.push(this.metadataTag);
    if (this.videoHeader) headers.push(this.videoHeader);
    if (this.audioHeader) headers.push(this.audioHeader);
    // Only tags already flushed: the pending ones reach this viewer with the next flush.
    const gop = this.gop.filter((t) => t.seq <= this.lastFlushedSeq);
    if (gop.length === 0 || !gop[0]!.keyframe) vs.waitingKey = true;
    // Header tags still pending would be sent twice; those are left to the flush.
    const sent = headers.filter((t) => t.seq <= this.lastFlushedSeq);
    this.viewers.add(vs);
    this.hub.viewerCount[viewer.protocol]++;
    viewer.onClose = () => this.detach(vs, 'closed', false, true);
    const n = viewer.start({ headers: sent, gop: vs.waitingKey ? [] : gop, hasAudio: !!this.audio || !this.sawVideo, hasVideo: !!this.video || this.sawVideo || !this.audio });
    this.hub.counters.bytesOut[viewer.protocol] += n;
    return () => this.detach(vs, 'detached', false, true);
  }

  private detach(vs: ViewerState, reason: string, clean: boolean, fromPeer = false): void {
    if (vs.closed) return;
    vs.closed = true;
    this.viewers.delete(vs);
    this.hub.viewerCount[vs.viewer.protocol]--;
    if (!fromPeer) vs.viewer.end(reason, clean);
  }

  /** addSubscriber attaches a frame-level output; it gets tracks and the GOP at once. */
  addSubscriber(sub: StreamSubscriber): void {
    this.subscribers.add(sub);
    if (this.video || this.audio) sub.onTracks?.(this.video, this.audio);
    for (const t of this.gop) if (t.frame) sub.onFrame(t.frame);
  }

  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.immediate) clearImmediate(this.immediate);
    this.flush();
    for (const vs of [...this.viewers]) this.detach(vs, reason, true);
    for (const s of this.subscribers) {
      try {
        s.onEnd?.(reason);
      } catch (err) {
        this.hub.logger.warn({ err, channel: this.channel }, 'subscriber onEnd failed');
      }
    }
    this.subscribers.clear();
    this.gop = [];
    this.hub.streamEnded(this, reason);
  }

  // ---------------------------------------------------------------- stats

  stats(): ChannelStats {
    const viewers: Record<string, number> = { flv: 0, wsflv: 0, rtmp: 0 };
    for (const vs of this.viewers) viewers[vs.viewer.protocol]!++;
    for (const [proto, count] of this.hub.externalCounters) viewers[proto] = count(this.channel);
    const v = this.video;
    const a = this.audio;
    return {
      channel: this.channel,
      live: true,
      since: this.since.toISOString(),
      publisher: { protocol: this.source.protocol, ...(this.source.clientIp ? { clientIp: this.source.clientIp } : {}) },
      ...(v ? { video: { codec: v.codec, codecString: v.codecString, width: v.width, height: v.height } } : {}),
      ...(a ? { audio: { codec: a.codec, codecString: a.codecString, sampleRate: a.sampleRate, channels: a.channels } } : {}),
      bitrateIn: Math.round(this.rateIn.get()),
      bitrateOut: Math.round(this.rateOut.get()),
      fps: Math.round(this.fpsRate.get() * 10) / 10,
      viewers,
    };
  }
}

/** StreamHub is the media role's registry of live streams (see StreamHubApi). */
export class StreamHub extends EventEmitter implements StreamHubApi {
  readonly streams = new Map<string, LiveStream>();
  private readonly waiting = new Map<string, Set<StreamSubscriber>>();
  readonly counters: HubCounters = { bytesIn: 0, bytesOut: { flv: 0, wsflv: 0, rtmp: 0 }, dropped: {} };
  readonly viewerCount: Record<ViewerProtocol, number> = { flv: 0, wsflv: 0, rtmp: 0 };
  readonly externalCounters = new Map<string, (channel: string) => number>();
  readonly logger: Logger;

  constructor(readonly opts: HubOptions) {
    super();
    this.logger = opts.logger;
  }

  override off(event: string | symbol, listener: (...args: never[]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }

  /** publish claims a channel for a publisher; null when the channel already has one. */
  publish(channel: string, source: PublishSource): LiveStream | null {
    if (this.streams.has(channel)) return null;
    const stream = new LiveStream(channel, source, this);
    this.streams.set(channel, stream);
    const waiting = this.waiting.get(channel);
    if (waiting) {
      this.waiting.delete(channel);
      for (const s of waiting) stream.addSubscriber(s);
    }
    this.logger.info({ channel, protocol: source.protocol, clientIp: source.clientIp }, 'stream started');
    this.emit(HUB_EVENT_STREAM_START, channel);
    this.notify(channel, { type: 'live', channel, at: stream.since.toISOString() });
    return stream;
  }

  /** streamEnded is called by a LiveStream once it has ended its outputs. */
  streamEnded(stream: LiveStream, reason: string): void {
    if (this.streams.get(stream.channel) !== stream) return;
    this.streams.delete(stream.channel);
    this.logger.info({ channel: stream.channel, reason }, 'stream ended');
    this.emit(HUB_EVENT_STREAM_END, stream.channel, reason);
    this.notify(stream.channel, { type: 'offline', channel: stream.channel, reason, at: new Date().toISOString() });
  }

  private notify(channel: string, data: Record<string, unknown>): void {
    const events = this.opts.events;
    if (!events) return;
    events.publish(`events:${channel}`, data).catch((err: unknown) => this.logger.warn({ err, channel }, 'events publish failed'));
  }

  drop(reason: string, frames: number): void {
    if (frames > 0) this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + frames;
  }

  /** addViewer attaches a byte-stream viewer to a live channel; null when it is offline. */
  addViewer(channel: string, viewer: Viewer): (() => void) | null {
    const s = this.streams.get(channel);
    return s ? s.addViewer(viewer) : null;
  }

  /**
   * subscribe attaches a frame-level output. When the channel is offline the subscriber
   * waits and is attached when the channel's next stream starts; after onEnd it is dropped.
   */
  subscribe(channel: string, subscriber: StreamSubscriber): () => void {
    const s = this.streams.get(channel);
    if (s) {
      s.addSubscriber(subscriber);
      return () => void s.subscribers.delete(subscriber);
    }
    let set = this.waiting.get(channel);
    if (!set) this.waiting.set(channel, (set = new Set()));
    set.add(subscriber);
    return () => {
      set.delete(subscriber);
      if (set.size === 0 && this.waiting.get(channel) === set) this.waiting.delete(channel);
      for (const st of this.streams.values()) st.subscribers.delete(subscriber);
    };
  }

  isLive(channel: string): boolean {
    return this.streams.has(channel);
  }

  liveChannels(): string[] {
    return [...this.streams.keys()];
  }

  /** kick disconnects a channel's publisher (e.g. after its key was rotated or it was banned). */
  kick(channel: string, reason = 'kicked'): boolean {
    const s = this.streams.get(channel);
    if (!s) return false;
    s.source.close(reason);
    s.end(reason);
    return true;
  }

  /** addViewerCounter lets other outputs (HLS) report their viewers per channel in stats(). */
  addViewerCounter(protocol: string, count: (channel: string) => number): () => void {
    this.externalCounters.set(protocol, count);
    return () => void this.externalCounters.delete(protocol);
  }

  /** stats describes every live channel (or one). */
  stats(): ChannelStats[];
  stats(channel: string): ChannelStats | null;
  stats(channel?: string): ChannelStats[] | ChannelStats | null {
    if (channel !== undefined) return this.streams.get(channel)?.stats() ?? null;
    return [...this.streams.values()].map((s) => s.stats());
  }

  /** stop ends every stream (service shutdown). */
  stop(reason = 'server shutting down'): void {
    for (const s of [...this.streams.values()]) {
      s.source.close(reason);
      s.end(reason);
    }
    this.waiting.clear();
  }
}
