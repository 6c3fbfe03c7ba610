/**
 * StreamHub owns one LiveStream per live channel: the single publisher, its codec headers,
 * metadata and GOP cache, and every output attached to it. Frames are parsed once; each
 * flush encodes once per transport and writes the same Buffer to every viewer.
 *
 * Flow:  ingest ──setTracks/pushFrame──► LiveStream ──onFrame (sync)──► StreamSubscribers (HLS, ...)
 *                                        └─ pending tags ──flush (every flushIntervalMs)──► Viewers
 *
 * The hub speaks codec frames only (types.ts); a tag's FLV bytes and RTMP chunks are made on
 * first use by the FLV/RTMP outputs' encoders (batch.ts, flv/frame-tags.ts).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../../observability/logger.js';
import type { ServerPublisher } from '../../chat/hooks.js';
import type { AudioTrackInfo, DroppedTrack, MediaFrame, PlaybackHub, StreamHubApi, StreamSubscriber, VideoTrackInfo } from './types.js';
import { FLV_TAG_AUDIO, FLV_TAG_SCRIPT, FLV_TAG_VIDEO } from '../../formats/flv.js';
import { encodeAmf0, ecmaArray, type Amf0Object } from '../../formats/amf0.js';
import { flvCarries, flvMetadataOf, sequenceHeaderBodyOf } from '../flv/frame-tags.js';
import type { FrameSink } from '../flv/frame-reader.js';
import { Batch, OutTag } from './batch.js';
import type { Viewer, ViewerProtocol, ViewerState } from './viewer.js';
import { CONTINUATION_STEP_MS, continuationOffset, type PlayedUpTo } from './continuation.js';
import { undecodableReason, type FrameDropReason } from './frame-check.js';
import { unplayableWarningsOf, type StreamWarning } from './playability.js';

export const HUB_EVENT_STREAM_START = 'streamStart';
export const HUB_EVENT_STREAM_END = 'streamEnd';
/** A backup stream (hot standby) started, changed its tracks or ended; (channel). */
export const HUB_EVENT_BACKUP_CHANGE = 'backupChange';
/**
 * A primary stream was fenced: its node lost the channel's lease (isolated from Redis past the
 * lease's expiry), so outputs whose effects leave the node (recording, restreams) stop; (channel).
 */
export const HUB_EVENT_STREAM_FENCED = 'streamFenced';
export const DROP_REASON_SLOW_VIEWER = 'slow_viewer';
export const DROP_REASON_GOP_CACHE_FULL = 'gop_cache_full';
export const DROP_REASON_BAD_FRAME = 'bad_frame';
/** Why an edge pull ends when a publisher of its channel goes live on this node (its players stay). */
export const EDGE_REPLACED_REASON = 'the channel is published on this node';
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

/** StreamRole is a stream's place in its channel (docs/scale-out.md): the primary feeds outputs, a backup is held. */
export type StreamRole = 'primary' | 'backup';

/**
 * ClaimArbiter decides whether a new publish of a channel is its primary or a backup held on
 * this node (the hot-standby lease; without an arbiter every publish is a primary).
 */
export interface ClaimArbiter {
  roleFor(channel: string): StreamRole;
}

/** PublishSource is the ingest side's handle: the hub uses it to kick a publisher. */
export interface PublishSource {
  /** `edge`: this node pulls the channel from the media node holding its publisher (src/media/cluster). */
  protocol: 'rtmp' | 'rtmps' | 'relay' | 'abr' | 'whip' | 'srt' | 'rtsp' | 'edge';
  clientIp?: string;
  close(reason: string): void;
}

/**
 * StreamFrom says where a hub stream comes from: `local`, a publisher on this node (the origin:
 * it packages HLS, records, transcodes, captions, restreams, and is listed in the cluster live
 * list); `edge`, pulled from the origin for this node's players only.
 */
export type StreamFrom = 'local' | 'edge';

/** OnDemandSource brings a channel that is not live here into the hub for a player (the edge pull). */
export interface OnDemandSource {
  /** open resolves once the channel is playable here (true) or cannot be (false: not live anywhere, refused). */
  open(channel: string): Promise<boolean>;
}

/**
 * Publisher is the claimed channel's input, fed by one ingest (through an IngestSession or the
 * FLV edge's FlvFrameReader): tracks, codec frames and metadata in, end once.
 */
export interface Publisher extends FrameSink {
  readonly channel: string;
  /** end stops the stream: viewers get a clean end, the channel goes offline. */
  end(reason: string): void;
  readonly ended: boolean;
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
  /** primary: feeds this node's outputs; backup: a hot-standby publish held until promoted. */
  role: StreamRole;
  /** Present on a primary fenced for losing its lease (cut off from Redis): local viewers only, no recording or restreams. */
  isolated?: true;
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
  /** Tracks the ingest received but does not forward (owner-only, like the rest of these stats). */
  droppedTracks: DroppedTrack[];
  /** Frames the ingest received that no decoder could take (frame-check.ts), by reason. */
  droppedFrames: Partial<Record<FrameDropReason, number>>;
  /** What the owner should know about the stream (a video profile browsers cannot decode). */
  warnings: StreamWarning[];
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
  /** Undecodable frames dropped at ingest, by publish protocol and reason (frame-check.ts). */
  ingestDropped: Record<string, Partial<Record<FrameDropReason, number>>>;
  /** Tracks ingests received but do not forward, one per stream and track, by `protocol kind reason`. */
  droppedTracks: Record<string, number>;
}

const TRACK_CHANGE_KEYS = ['codec', 'config'] as const;

function sameTrack<T extends { codec: string; config: Buffer }>(a: T | undefined, b: T): boolean {
  return !!a && TRACK_CHANGE_KEYS.every((k) => (k === 'config' ? a.config.equals(b.config) : a[k] === b[k]));
}

/** LiveStream is one channel's live state, owned by its single publisher. */
export class LiveStream implements Publisher {
  readonly since = new Date();
  private readonly droppedTracks: DroppedTrack[] = [];
  private readonly droppedFrames: Partial<Record<FrameDropReason, number>> = {};
  private warnings: StreamWarning[] = [];
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
  /** Ended by hub.kick (an end through the API, a ban), not by its publisher leaving. */
  kicked = false;
  readonly rateIn = new Rate();
  readonly rateOut = new Rate();
  readonly fpsRate = new Rate();
  private lastVideoDts = -1;
  private lastAudioDts = -1;
  /** Added to the source's times: nonzero once this stream continues another's players (continueAfter). */
  private offset = 0;
  /** Where a continued timeline starts, until the source's first frame fixes the offset (null: not waiting). */
  private continueAt: number | null = null;

  readonly from: StreamFrom;

  constructor(readonly channel: string, readonly source: PublishSource, private readonly hub: StreamHub, public role: StreamRole = 'primary') {
    this.from = source.protocol === 'edge' ? 'edge' : 'local';
  }

  /** audienceChangedAt is when a viewer or subscriber last came or went (epoch ms; the start at first). */
  audienceChangedAt = Date.now();

  /** audience counts what keeps a pulled stream wanted: byte-stream viewers and frame subscribers. */
  audience(): number {
    let n = this.subscribers.size;
    for (const vs of this.viewers) if (!vs.closed) n++;
    return n;
  }

  /** edgePulls counts the other media nodes pulling this stream now. */
  edgePulls(): number {
    let n = 0;
    for (const vs of this.viewers) if (!vs.closed && vs.viewer.protocol === 'edge') n++;
    return n;
  }

  // ---------------------------------------------------------------- ingest

  setTracks(video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined, dts = 0): void {
    if (this.ended) return;
    let changed = false;
    dts = this.continueAt ?? Math.max(0, dts + this.offset);
    if (video && !sameTrack(this.video, video)) {
      this.video = video;
      this.sawVideo = true;
      this.warnings = unplayableWarningsOf(video);
      for (const w of this.warnings) this.hub.logger.warn({ channel: this.channel, protocol: this.source.protocol, code: w.code, ...w.params }, 'the published video cannot be played in browsers');
      this.videoHeader = this.headerTag(FLV_TAG_VIDEO, dts, video);
      changed = true;
    }
    if (audio && !sameTrack(this.audio, audio)) {
      this.audio = audio;
      this.audioHeader = this.headerTag(FLV_TAG_AUDIO, dts, audio);
      changed = true;
    }
    if (changed) {
      this.notifyTracks();
      if (this.role === 'backup') this.hub.emit(HUB_EVENT_BACKUP_CHANGE, this.channel);
    }
  }

  /** headerTag queues a track's codec header for the byte-stream viewers (none for codecs without one). */
  private headerTag(type: number, dts: number, track: VideoTrackInfo | AudioTrackInfo): OutTag | undefined {
    const body = sequenceHeaderBodyOf(track);
    if (!body) return undefined;
    const tag = new OutTag(++this.seq, type, false, true, dts, body);
    this.enqueue(tag);
    return tag;
  }

  pushFrame(frame: MediaFrame): void {
    if (this.ended) return;
    if (!flvCarries(frame.codec)) return this.badInput(`${frame.codec} frames are not carried by the hub's outputs yet`);
    const undecodable = undecodableReason(frame, this.video, this.audio);
    if (undecodable) return this.dropUndecodable(undecodable, frame);
    const n = frame.data.length;
    this.hub.counters.bytesIn += n;
    this.rateIn.add(n * 8);
    if (this.continueAt !== null) {
      // The source's first frame starts the continued timeline.
      this.offset = this.continueAt - frame.dts;
      this.continueAt = null;
    }
    if (this.offset !== 0) {
      frame.dts += this.offset;
      frame.pts += this.offset;
    }
    // Keep decode times monotonic for every output (some encoders step back by a millisecond).
    const video = frame.kind === 'video';
    const last = video ? this.lastVideoDts : this.lastAudioDts;
    if (frame.dts < last) {
      frame.pts += last - frame.dts;
      frame.dts = last;
    }
    if (video) {
      this.lastVideoDts = frame.dts;
      this.sawVideo = true;
      this.fpsRate.add(1);
    } else this.lastAudioDts = frame.dts;
    // Without video every audio frame is a random access point.
    const keyframe = video ? frame.keyframe : !this.sawVideo;
    this.cacheAndEnqueue(new OutTag(++this.seq, video ? FLV_TAG_VIDEO : FLV_TAG_AUDIO, keyframe, false, frame.dts, frame));
  }

  setMetadata(values: Amf0Object): void {
    if (this.ended) return;
    const meta = ecmaArray(flvMetadataOf({ ...values, server: 'onair' }, this.video, this.audio));
    this.metadata = meta;
    // At the stream's current time, so a player's timestamps never step back (0 at the start).
    const tag = new OutTag(++this.seq, FLV_TAG_SCRIPT, false, true, Math.max(0, this.lastVideoDts, this.lastAudioDts, this.continueAt ?? 0), encodeAmf0('onMetaData', meta));
    this.metadataTag = tag;
    this.enqueue(tag);
  }

  droppedTrack(track: DroppedTrack): void {
    if (this.droppedTracks.some((t) => t.kind === track.kind && t.codec === track.codec)) return;
    this.droppedTracks.push({ ...track });
    const key = `${this.source.protocol} ${track.kind} ${track.reason}`;
    this.hub.counters.droppedTracks[key] = (this.hub.counters.droppedTracks[key] ?? 0) + 1;
    this.hub.logger.info({ channel: this.channel, ...track }, 'the ingest does not forward a track');
  }

  /** dropUndecodable counts a frame no decoder could take (per stream for the owner, per protocol for metrics); the first of each reason is logged. */
  private dropUndecodable(reason: FrameDropReason, frame: MediaFrame): void {
    const n = (this.droppedFrames[reason] ?? 0) + 1;
    this.droppedFrames[reason] = n;
    const byProtocol = (this.hub.counters.ingestDropped[this.source.protocol] ??= {});
    byProtocol[reason] = (byProtocol[reason] ?? 0) + 1;
    if (n === 1) this.hub.logger.info({ channel: this.channel, protocol: this.source.protocol, reason, kind: frame.kind, codec: frame.codec }, 'dropping undecodable frames from the publisher');
  }

  badInput(message: string): void {
    // A frame we cannot understand is dropped; the publisher stays on.
    this.hub.counters.dropped[DROP_REASON_BAD_FRAME] = (this.hub.counters.dropped[DROP_REASON_BAD_FRAME] ?? 0) + 1;
    this.hub.logger.debug({ channel: this.channel, err: message }, 'dropped a malformed frame');
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

  // ---------------------------------------------------------------- continuation (failover)

  /** playedUpTo is the last decode time handed to this stream's outputs, per kind. */
  playedUpTo(): PlayedUpTo {
    return { video: this.lastVideoDts, audio: this.lastAudioDts };
  }

  /**
   * continueAfter shifts this stream's timeline to follow on from what another stream's players
   * got (continuation.ts). A stream with a cached GOP (a promoted backup) is shifted at once, its
   * GOP and codec headers included; one without frames yet fixes the shift at its first frame.
   */
  continueAfter(played: PlayedUpTo): void {
    const last = Math.max(played.video, played.audio);
    if (last < 0) return;
    const [first] = this.gop;
    if (!first) {
      this.continueAt = last + CONTINUATION_STEP_MS;
      this.lastVideoDts = played.video;
      this.lastAudioDts = played.audio;
      return;
    }
    const off = continuationOffset(played, Math.min(...this.gop.map((t) => t.dts)));
    this.offset += off;
    this.gop = this.gop.map((t) => t.retimed(t.dts + off));
    const start = first.dts + off;
    if (this.videoHeader) this.videoHeader = this.videoHeader.retimed(start);
    if (this.audioHeader) this.audioHeader = this.audioHeader.retimed(start);
    if (this.metadataTag) this.metadataTag = this.metadataTag.retimed(start);
    this.lastVideoDts = this.lastVideoDts >= 0 ? this.lastVideoDts + off : played.video;
    this.lastAudioDts = this.lastAudioDts >= 0 ? this.lastAudioDts + off : played.audio;
  }

  /**
   * releaseAudience hands over this stream's players (viewers and playback subscribers) without
   * ending them: what is pending is flushed to them first.
   */
  releaseAudience(): { viewers: ViewerState[]; subscribers: StreamSubscriber[] } {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.immediate) clearImmediate(this.immediate);
    this.flush();
    const viewers = [...this.viewers].filter((vs) => !vs.closed);
    const subscribers = [...this.subscribers];
    this.viewers.clear();
    this.subscribers.clear();
    this.audienceChangedAt = Date.now();
    return { viewers, subscribers };
  }

  /**
   * adoptViewers continues viewers already playing another stream of the channel on this one, on
   * their connections: no new stream header, this stream's codec headers and its cached GOP (one
   * shared batch), or its next keyframe.
   */
  adoptViewers(states: ViewerState[]): void {
    const headers = [this.videoHeader, this.audioHeader].filter((t): t is OutTag => !!t && t.seq <= this.lastFlushedSeq);
    const gop = this.gop.filter((t) => t.seq <= this.lastFlushedSeq);
    const fromKey = gop[0]?.keyframe === true;
    const burst = new Batch([...headers, ...(fromKey ? gop : [])]);
    for (const vs of states) {
      vs.waitingKey = !fromKey;
      vs.slowSince = 0;
      this.viewers.add(vs);
      vs.viewer.onClose = () => this.detach(vs, 'closed', false, true);
      if (burst.tags.length > 0) this.writeTo(vs, burst);
    }
    this.audienceChangedAt = Date.now();
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
    const last = tags.at(-1);
    if (last === undefined) return;
    this.pending = [];
    this.lastFlushedSeq = last.seq;
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
    if (!gop[0]?.keyframe) vs.waitingKey = true;
    // Header tags still pending would be sent twice; those are left to the flush.
    const sent = headers.filter((t) => t.seq <= this.lastFlushedSeq);
    this.viewers.add(vs);
    this.audienceChangedAt = Date.now();
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
    this.audienceChangedAt = Date.now();
    this.hub.viewerCount[vs.viewer.protocol]--;
    if (!fromPeer) vs.viewer.end(reason, clean);
  }

  /** removeSubscriber detaches a frame-level output. */
  removeSubscriber(sub: StreamSubscriber): void {
    if (this.subscribers.delete(sub)) this.audienceChangedAt = Date.now();
  }

  /** addSubscriber attaches a frame-level output; it gets tracks and the GOP at once. */
  addSubscriber(sub: StreamSubscriber): void {
    this.subscribers.add(sub);
    this.audienceChangedAt = Date.now();
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
    // Edge pulls are nodes, not viewers: the edges count their own viewers.
    for (const vs of this.viewers) if (vs.viewer.protocol !== 'edge') viewers[vs.viewer.protocol] = (viewers[vs.viewer.protocol] ?? 0) + 1;
    for (const [proto, count] of this.hub.externalCounters) viewers[proto] = count(this.channel);
    const v = this.video;
    const a = this.audio;
    return {
      channel: this.channel,
      live: true,
      role: this.role,
      ...(this.role === 'primary' && this.hub.isFenced(this.channel) ? { isolated: true as const } : {}),
      since: this.since.toISOString(),
      publisher: { protocol: this.source.protocol, ...(this.source.clientIp ? { clientIp: this.source.clientIp } : {}) },
      ...(v ? { video: { codec: v.codec, codecString: v.codecString, width: v.width, height: v.height } } : {}),
      ...(a ? { audio: { codec: a.codec, codecString: a.codecString, sampleRate: a.sampleRate, channels: a.channels } } : {}),
      bitrateIn: Math.round(this.rateIn.get()),
      bitrateOut: Math.round(this.rateOut.get()),
      fps: Math.round(this.fpsRate.get() * 10) / 10,
      viewers,
      droppedTracks: this.droppedTracks.map((t) => ({ ...t })),
      droppedFrames: { ...this.droppedFrames },
      warnings: this.warnings.map((w) => ({ code: w.code, params: { ...w.params } })),
    };
  }
}

/**
 * StreamHub is the media role's registry of live streams (see StreamHubApi).
 *
 * `streams`, isLive, liveChannels, subscribe, stats, kick and the start/end events concern local
 * streams only, so the origin-only outputs (HLS, recorder, ABR, captions, restreams, the cluster
 * live list) never see an edge pull. Players reach both through playable, openForPlay, addViewer
 * and subscribe with `{ playback: true }`.
 */
export class StreamHub extends EventEmitter implements StreamHubApi, PlaybackHub {
  readonly streams = new Map<string, LiveStream>();
  /** Channels pulled from another media node for this node's players. */
  readonly edges = new Map<string, LiveStream>();
  private onDemand: OnDemandSource | null = null;
  /** Hot-standby publishes held on this node, not feeding any output until promoted. */
  readonly backups = new Map<string, LiveStream>();
  private readonly fenced = new Set<string>();
  private arbiter: ClaimArbiter | undefined;
  private readonly waiting = new Map<string, Set<StreamSubscriber>>();
  readonly counters: HubCounters = { bytesIn: 0, bytesOut: { flv: 0, wsflv: 0, rtmp: 0, edge: 0 }, dropped: {}, ingestDropped: {}, droppedTracks: {} };
  readonly viewerCount: Record<ViewerProtocol, number> = { flv: 0, wsflv: 0, rtmp: 0, edge: 0 };
  readonly externalCounters = new Map<string, (channel: string) => number>();
  readonly logger: Logger;

  constructor(readonly opts: HubOptions) {
    super();
    this.logger = opts.logger;
  }

  override off(event: string | symbol, listener: (...args: never[]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }

  /** setArbiter installs the hot-standby arbiter (one at a time; undefined removes it). */
  setArbiter(arbiter: ClaimArbiter | undefined): void {
    this.arbiter = arbiter;
  }

  /**
   * publish claims a channel for a publisher; null when the channel already has a primary here
   * (or a backup, for a second backup). The arbiter may make it the channel's backup: held, with
   * its tracks and GOP, but feeding nothing until promote(). A primary beside a backup is allowed
   * (a pull of the channel from its primary's node); broadcasters' duplicates are refused before,
   * at the publish check (holds).
   */
  publish(channel: string, source: PublishSource): LiveStream | null {
    if (this.streams.has(channel)) return null;
    if (source.protocol === 'edge') {
      if (this.edges.has(channel)) return null;
      const edge = new LiveStream(channel, source, this);
      this.edges.set(channel, edge);
      this.logger.info({ channel }, 'edge stream started');
      return edge;
    }
    const role = this.arbiter?.roleFor(channel) ?? 'primary';
    if (role === 'backup') {
      if (this.backups.has(channel)) return null;
      const backup = new LiveStream(channel, source, this, 'backup');
      this.backups.set(channel, backup);
      this.logger.info({ channel, protocol: source.protocol, clientIp: source.clientIp }, 'backup stream started (hot standby)');
      this.emit(HUB_EVENT_BACKUP_CHANGE, channel);
      return backup;
    }
    // One owner per channel here: a publisher of a channel this node pulls (the broadcaster moved
    // here after the origin died) takes over the pull's players.
    const stream = new LiveStream(channel, source, this);
    this.takeOverPlayers(stream);
    this.goLive(stream);
    return stream;
  }

  /**
   * takeOverPlayers moves the players of the channel's edge stream (if this node pulls it) to a
   * local stream that replaces the pull, on their connections, its timeline continuing theirs;
   * the pull then ends without ending them.
   */
  private takeOverPlayers(to: LiveStream): void {
    const edge = this.edges.get(to.channel);
    if (!edge) return;
    const { viewers, subscribers } = edge.releaseAudience();
    to.continueAfter(edge.playedUpTo());
    to.adoptViewers(viewers);
    for (const s of subscribers) to.addSubscriber(s);
    this.logger.info({ channel: to.channel, viewers: viewers.length, subscribers: subscribers.length }, 'the players of the pulled stream continue on this node\'s publisher');
    edge.source.close(EDGE_REPLACED_REASON);
    edge.end(EDGE_REPLACED_REASON);
  }

  private goLive(stream: LiveStream): void {
    const channel = stream.channel;
    this.streams.set(channel, stream);
    this.fenced.delete(channel);
    const waiting = this.waiting.get(channel);
    if (waiting) {
      this.waiting.delete(channel);
      for (const s of waiting) stream.addSubscriber(s);
    }
    this.logger.info({ channel, protocol: stream.source.protocol, clientIp: stream.source.clientIp, role: stream.role }, 'stream started');
    this.emit(HUB_EVENT_STREAM_START, channel);
    this.notify(channel, { type: 'live', channel, at: new Date().toISOString() });
  }

  /**
   * promote makes the channel's backup its primary on this node: outputs waiting for the channel
   * attach (tracks and the cached GOP first) and streamStart is emitted; the players of the
   * channel's pull (this node's viewers of the old primary) continue on it. False without a backup
   * or when a primary runs here.
   */
  promote(channel: string): boolean {
    const b = this.backups.get(channel);
    if (!b || b.ended || this.streams.has(channel)) return false;
    this.backups.delete(channel);
    b.role = 'primary';
    this.takeOverPlayers(b);
    this.goLive(b);
    return true;
  }

  /** holds is true when this node has a publisher of the channel, primary or backup. */
  holds(channel: string): boolean {
    return this.streams.has(channel) || this.backups.has(channel);
  }

  /** fence marks a primary as having lost its lease (HUB_EVENT_STREAM_FENCED); viewers here stay. */
  fence(channel: string): boolean {
    if (!this.streams.has(channel) || this.fenced.has(channel)) return false;
    this.fenced.add(channel);
    this.logger.warn({ channel }, 'stream fenced: this node no longer holds its lease; recording and restreams stop, local viewers stay');
    this.emit(HUB_EVENT_STREAM_FENCED, channel);
    return true;
  }

  /** isFenced: the channel's primary here lost its lease (see fence). */
  isFenced(channel: string): boolean {
    return this.fenced.has(channel);
  }

  /** streamEnded is called by a LiveStream once it has ended its outputs. */
  streamEnded(stream: LiveStream, reason: string): void {
    if (stream.from === 'edge') {
      if (this.edges.get(stream.channel) !== stream) return;
      this.edges.delete(stream.channel);
      this.logger.info({ channel: stream.channel, reason }, 'edge stream ended');
      return;
    }
    if (this.backups.get(stream.channel) === stream) {
      this.backups.delete(stream.channel);
      this.logger.info({ channel: stream.channel, reason }, 'backup stream ended');
      this.emit(HUB_EVENT_BACKUP_CHANGE, stream.channel);
      return;
    }
    if (this.streams.get(stream.channel) !== stream) return;
    this.streams.delete(stream.channel);
    this.fenced.delete(stream.channel);
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

  /** addViewer attaches a byte-stream viewer to a live channel (local or edge); null when it is offline here. */
  addViewer(channel: string, viewer: Viewer): (() => void) | null {
    const s = this.playableStream(channel);
    return s ? s.addViewer(viewer) : null;
  }

  /** playableStream is the channel's stream here, local or pulled. */
  playableStream(channel: string): LiveStream | undefined {
    return this.streams.get(channel) ?? this.edges.get(channel);
  }

  /** playable: a player can attach now (local publisher or edge pull). */
  playable(channel: string): boolean {
    return this.streams.has(channel) || this.edges.has(channel);
  }

  /** setOnDemand installs the source that pulls channels not live here (null removes it). */
  setOnDemand(source: OnDemandSource | null): void {
    this.onDemand = source;
  }

  /**
   * openForPlay makes a channel playable here for a new player: true at once when it is, else the
   * on-demand source (the edge pull) is asked to bring it; false when it is not live anywhere.
   */
  async openForPlay(channel: string): Promise<boolean> {
    if (this.playable(channel)) return true;
    if (!this.onDemand) return false;
    const ok = await this.onDemand.open(channel);
    return ok && this.playable(channel);
  }

  /**
   * subscribe attaches a frame-level output. When the channel is offline the subscriber
   * waits and is attached when the channel's next stream starts; after onEnd it is dropped.
   * Only local streams, unless `playback` (players: an edge stream too).
   */
  subscribe(channel: string, subscriber: StreamSubscriber, opts: { playback?: boolean } = {}): () => void {
    const s = opts.playback ? this.playableStream(channel) : this.streams.get(channel);
    if (s) {
      s.addSubscriber(subscriber);
      // A player may have moved from the edge stream to a local one since (takeOverPlayers).
      return () => {
        s.removeSubscriber(subscriber);
        this.streams.get(channel)?.removeSubscriber(subscriber);
      };
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

  /** kick disconnects a channel's publishers here, primary and backup (e.g. after its key was rotated or it was banned). */
  kick(channel: string, reason = 'kicked'): boolean {
    const kicked = this.kickBackup(channel, reason);
    const s = this.streams.get(channel);
    if (!s) return kicked;
    s.kicked = true;
    s.source.close(reason);
    s.end(reason);
    return true;
  }

  /** kickBackup disconnects the channel's backup publisher only (a refused backup, or a primary elsewhere ended). */
  kickBackup(channel: string, reason: string): boolean {
    const b = this.backups.get(channel);
    if (!b) return false;
    b.kicked = true;
    b.source.close(reason);
    b.end(reason);
    return true;
  }

  /** backupStats describes the backups held here (or one). */
  backupStats(): ChannelStats[];
  backupStats(channel: string): ChannelStats | null;
  backupStats(channel?: string): ChannelStats[] | ChannelStats | null {
    if (channel !== undefined) return this.backups.get(channel)?.stats() ?? null;
    return [...this.backups.values()].map((s) => s.stats());
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
    for (const s of [...this.backups.values(), ...this.streams.values(), ...this.edges.values()]) {
      s.source.close(reason);
      s.end(reason);
    }
    this.waiting.clear();
  }
}
