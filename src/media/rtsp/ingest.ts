/**
 * RtspIngest: what one RTSP publish (ANNOUNCE/RECORD) feeds into the hub, independent of the
 * socket (tests drive it with plain RTP packets).
 *
 *   video RTP ──► H264Depacketizer ──AU──► SPS/PPS → avcC track ─► DtsEstimator ─► AVCC frames ──► IngestSession ──► hub
 *   audio RTP ──► AacDepacketizer (RFC 3640) or LatmDepacketizer (RFC 6416) ──► raw AAC frames (ASC from the SDP's config=) ──┘
 *   RTCP SR   ──► StreamClock (both tracks on one timeline)
 *
 * Timestamps: each track's RTP clock (90 kHz, the audio rate) is mapped to our wallclock by the
 * sender's RTCP sender reports once one came, before that by the arrival time of the track's
 * first packet (first-packet alignment; ffmpeg sends a report before its first packets, so its
 * publishes are on the SR mapping from the start). Stream time 0 is the first keyframe's DTS;
 * audio before it is dropped. RTP has presentation times only; decode times come from the
 * DtsEstimator (reorder delay 0 for Baseline profile, else `reorderFrames`).
 *
 * The hub stream is claimed by the server at RECORD (claim(), the IngestSession's explicit claim), so
 * a busy channel is answered in RECORD's response; tracks go out as soon as they are known (the SDP's sprop-parameter-sets
 * and config=, or in-band SPS/PPS).
 */
import type { Logger } from '../../observability/logger.js';
import { encodeAvcDecoderConfig, joinLengthPrefixed, NAL_TYPE_AUD, NAL_TYPE_PPS, NAL_TYPE_SPS, parseSps } from '../../formats/avc.js';
import { H264Depacketizer, type H264AccessUnit } from '../../formats/rtp-h264-depacketize.js';
import { nalType, RTP_VIDEO_CLOCK_RATE } from '../../formats/rtp-h264.js';
import { AAC_FRAME_SAMPLES } from '../../formats/rtp-aac.js';
import { parseRtcpSenderReports, type RtpPacket } from '../../formats/rtp-packet.js';
import { IngestSession, type IngestHub } from '../hub/ingest-session.js';
import { aacTrackOf, videoTrackOf } from '../hub/tracks.js';
import type { AudioTrackInfo, DroppedTrack } from '../hub/types.js';
import { StreamClock } from '../whip/clock.js';
import { DtsEstimator } from './dts.js';
import { aacDepacketizerOf, type AacRtpDepacketizer, type RtspAacAudio } from './aac-audio.js';

const NAL_LENGTH_SIZE = 4;
const PROFILE_BASELINE = 66;
/** Frames of B-frame reorder delay assumed for profiles above Baseline (x264's default B-pyramid needs 2). */
export const RTSP_DEFAULT_REORDER_FRAMES = 2;
const TWO_POW_32 = 2 ** 32;
const HALF_32 = 2 ** 31;

/** The part of StreamHub an RTSP publish needs. */
export type RtspHub = IngestHub;

export interface RtspIngestOptions {
  channel: string;
  hub: RtspHub;
  logger: Logger;
  clientIp?: string;
  /** The SDP's H.264 track (parameter sets from sprop-parameter-sets, if given). */
  video?: { sps?: Buffer; pps?: Buffer };
  /** The SDP's AAC track (mpeg4-generic or MP4A-LATM). */
  audio?: RtspAacAudio;
  reorderFrames?: number;
  /** Media of the SDP the ingest does not take (shown to the owner once the stream is live). */
  dropped?: DroppedTrack[];
  /** The publish must end (the hub kicked it). */
  onEnd(reason: string): void;
  onFrame?(kind: 'video' | 'audio'): void;
  now?: () => number;
}

export interface RtspIngestStats {
  videoFrames: number;
  audioFrames: number;
  /** Audio frames dropped: before the first keyframe. */
  audioEarly: number;
}

interface PendingVideo {
  avcc: Buffer;
  keyframe: boolean;
  /** Wallclock of the presentation time. */
  wall: number;
}

export class RtspIngest {
  private readonly depack: H264Depacketizer;
  private readonly aac: AacRtpDepacketizer | null;
  private readonly clock: StreamClock;
  private readonly session: IngestSession;
  private sps?: Buffer;
  private pps?: Buffer;
  private avcc?: Buffer;
  private dts: DtsEstimator<PendingVideo> | null = null;
  private videoExt: number | null = null;
  private lastVideoDts = 0;
  private lastAudioDts = 0;
  private arrival = 0;
  private started = false;
  private audioEarly = 0;
  width = 0;
  height = 0;

  constructor(private readonly o: RtspIngestOptions) {
    this.session = new IngestSession({
      hub: o.hub, channel: o.channel, protocol: 'rtsp', ...(o.clientIp ? { clientIp: o.clientIp } : {}), logger: o.logger, encoder: 'onair RTSP ingest',
      onKicked: (reason) => o.onEnd(reason),
      ...(o.onFrame ? { onFrame: o.onFrame } : {}),
      ...(o.now ? { now: o.now } : {}),
    });
    for (const t of o.dropped ?? []) this.session.droppedTrack(t);
    const audio = o.audio ? safeAacTrack(o.audio.config) : null;
    if (audio) this.session.setTracks(undefined, audio, 0);
    this.depack = new H264Depacketizer({ onAccessUnit: (au) => this.onAccessUnit(au) });
    this.aac = o.audio ? aacDepacketizerOf(o.audio) : null;
    this.clock = new StreamClock(RTP_VIDEO_CLOCK_RATE, o.audio?.clockRate ?? RTP_VIDEO_CLOCK_RATE);
    if (o.video?.sps && o.video.pps) this.setParams(o.video.sps, o.video.pps);
  }

  private now(): number {
    return this.session.now();
  }

  get live(): boolean {
    return this.session.live;
  }

  get ended(): boolean {
    return this.session.ended;
  }

  get stats(): RtspIngestStats {
    const c = this.session.counters;
    return { videoFrames: c.videoFrames, audioFrames: c.audioFrames, audioEarly: this.audioEarly };
  }

  get videoStats() {
    return this.depack.stats;
  }

  get audioStats() {
    return this.aac?.stats;
  }

  /** claim takes the channel in the hub (at RECORD); false when another publisher has it. */
  claim(): boolean {
    return this.session.claim();
  }

  /** videoPacket takes one RTP packet of the H.264 track. */
  videoPacket(p: RtpPacket): void {
    if (this.ended || !this.o.video) return;
    this.arrival = this.now();
    this.clock.wallOf('video', p.timestamp, this.arrival);
    this.depack.push(p, this.arrival);
  }

  /** audioPacket takes one RTP packet of the AAC track. */
  audioPacket(p: RtpPacket): void {
    if (this.ended || !this.aac || !this.session.live) return;
    const now = this.now();
    const got = this.aac.push(p.payload, p.timestamp, p.marker);
    if (!got) {
      this.clock.wallOf('audio', p.timestamp, now);
      return;
    }
    got.frames.forEach((frame, i) => {
      const wall = this.clock.wallOf('audio', (got.timestamp + i * AAC_FRAME_SAMPLES) >>> 0, now);
      if (!this.started) {
        // Audio-only publishes start at their first frame.
        if (this.o.video) {
          this.audioEarly++;
          return;
        }
        this.clock.setOrigin(wall);
        this.started = true;
      }
      const ms = Math.round(this.clock.streamMs(wall));
      if (ms < 0) {
        this.audioEarly++;
        return;
      }
      const dts = Math.max(this.lastAudioDts, ms);
      this.lastAudioDts = dts;
      // Own copy: the RTP read buffer is not kept alive by the GOP cache.
      this.session.pushFrame({ kind: 'audio', codec: 'aac', dts, pts: dts, keyframe: true, data: Buffer.from(frame) });
    });
  }

  /** rtcp takes a (compound) RTCP packet of a track: sender reports anchor its clock. */
  rtcp(kind: 'video' | 'audio', packet: Buffer): void {
    if (this.ended) return;
    for (const sr of parseRtcpSenderReports(packet)) this.clock.senderReport(kind, sr.ntpMs, sr.rtpTimestamp, this.now());
  }

  /** tick gives up a video hole that waited too long (called by a timer). */
  tick(): void {
    if (!this.ended) this.depack.expire(this.now());
  }

  private setParams(sps: Buffer, pps: Buffer): boolean {
    try {
      const parsed = parseSps(sps);
      this.width = parsed.width;
      this.height = parsed.height;
      this.avcc = encodeAvcDecoderConfig(sps, [pps], NAL_LENGTH_SIZE);
      this.sps = Buffer.from(sps);
      this.pps = Buffer.from(pps);
      if (!this.dts) this.dts = new DtsEstimator(parsed.profileIdc === PROFILE_BASELINE ? 0 : (this.o.reorderFrames ?? RTSP_DEFAULT_REORDER_FRAMES));
      this.session.setTracks(videoTrackOf('avc', this.avcc), undefined, this.lastVideoDts);
      return true;
    } catch (err) {
      this.o.logger.warn({ channel: this.o.channel, err: (err as Error).message }, 'RTSP: unreadable SPS; waiting for the next one');
      return false;
    }
  }

  private unwrapVideo(ts: number): number {
    if (this.videoExt === null) return (this.videoExt = ts >>> 0);
    let d = (ts >>> 0) - (((this.videoExt % TWO_POW_32) + TWO_POW_32) % TWO_POW_32);
    if (d > HALF_32) d -= TWO_POW_32;
    else if (d < -HALF_32) d += TWO_POW_32;
    this.videoExt += d;
    return this.videoExt;
  }

  private onAccessUnit(au: H264AccessUnit): void {
    const body: Buffer[] = [];
    let sps = this.sps;
    let pps = this.pps;
    for (const nal of au.nals) {
      const t = nalType(nal);
      if (t === NAL_TYPE_SPS) sps = nal;
      else if (t === NAL_TYPE_PPS) pps = nal;
      else if (t !== NAL_TYPE_AUD) body.push(nal);
    }
    if (sps && pps && (!this.sps || !this.pps || !sps.equals(this.sps) || !pps.equals(this.pps))) this.setParams(sps, pps);
    const ext = this.unwrapVideo(au.timestamp);
    if (body.length === 0 || !this.avcc || !this.dts) return;
    const wall = this.clock.wallOf('video', au.timestamp, this.arrival);
    const avcc = joinLengthPrefixed(body, NAL_LENGTH_SIZE);
    for (const f of this.dts.push(ext, { avcc, keyframe: au.keyframe, wall })) {
      const ctsMs = ((f.pts - f.dts) * 1000) / RTP_VIDEO_CLOCK_RATE;
      const dtsWall = f.item.wall - ctsMs;
      if (!this.started) {
        if (!f.item.keyframe) continue;
        this.clock.setOrigin(dtsWall);
        this.started = true;
      }
      this.pushVideo(f.item, dtsWall, ctsMs);
    }
  }

  private pushVideo(v: PendingVideo, dtsWall: number, ctsMs: number): void {
    if (!this.session.live) return;
    const dts = Math.max(this.lastVideoDts, Math.round(this.clock.streamMs(dtsWall)));
    this.lastVideoDts = dts;
    this.session.pushFrame({ kind: 'video', codec: 'avc', dts, pts: dts + Math.max(0, Math.round(ctsMs)), keyframe: v.keyframe, data: v.avcc });
  }

  /** end stops the publish: the hub stream ends (the channel goes offline). */
  end(reason: string): void {
    this.session.end(reason);
  }
}

function safeAacTrack(config: Buffer): AudioTrackInfo | null {
  try {
    return aacTrackOf(config);
  } catch {
    return null;
  }
}
