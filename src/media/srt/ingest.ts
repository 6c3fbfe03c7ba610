/**
 * TsIngest: what one SRT publish feeds into the hub, independent of the transport (tests push
 * plain MPEG-TS bytes).
 *
 *   TS bytes ──► TsDemuxer ──PES──► H.264 Annex B → SPS/PPS → avcC (sequence header) + AVCC frames ──► hub
 *                                ├─► HEVC Annex B → VPS/SPS/PPS → hvcC + length-prefixed frames (Enhanced RTMP tags) ──► hub
 *                                └─► AAC ADTS → AudioSpecificConfig (sequence header) + raw frames ──► hub
 *
 * The stream starts at the first IDR access unit with SPS and PPS (its DTS is stream time 0;
 * audio before it is dropped). The hub stream is claimed once the AAC header is known too, if
 * the PMT lists audio (or after TS_AUDIO_HEADER_WAIT_MS without it), with the tags held meanwhile.
 * A transport gap (packets SRT could not recover in time) or a continuity error drops the damaged
 * PES; if video broke, video waits for the next keyframe so no decoder sees a frame with holes.
 */
import type { Logger } from '../../observability/logger.js';
import { encodeAvcDecoderConfig, joinLengthPrefixed, NAL_TYPE_AUD, NAL_TYPE_IDR, NAL_TYPE_PPS, NAL_TYPE_SPS, parseSps } from '../../formats/avc.js';
import { AAC_SAMPLE_RATES, encodeAudioSpecificConfig } from '../../formats/aac.js';
import {
  AAC_PACKET_RAW, AAC_PACKET_SEQUENCE_HEADER, aacAudioTagBody, AVC_PACKET_NALU, AVC_PACKET_SEQUENCE_HEADER, avcVideoTagBody, EX_PACKET_CODED_FRAMES,
  EX_PACKET_SEQUENCE_START, FLV_TAG_AUDIO, FLV_TAG_VIDEO, FOURCC_HEVC, VIDEO_EX_HEADER_FLAG, VIDEO_FRAME_INTER, VIDEO_FRAME_KEY,
} from '../../formats/flv.js';
import { encodeHevcDecoderConfig, hevcNalType, parseHevcSpsSize, HEVC_NAL_AUD, HEVC_NAL_IRAP_FIRST, HEVC_NAL_IRAP_LAST, HEVC_NAL_PPS, HEVC_NAL_SPS, HEVC_NAL_VPS } from '../../formats/hevc.js';
import {
  ADTS_SAMPLES_PER_FRAME, parseAdtsFrames, splitAnnexB, STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264, STREAM_TYPE_H265, TimestampUnwrapper, TS_CLOCK_HZ, TsDemuxer,
  type TsPes, type TsStreamInfo,
} from '../../formats/mpegts-demux.js';
import type { LiveStream, PublishSource } from '../hub/hub.js';

const NAL_LENGTH_SIZE = 4;
const FLV_META_VIDEO_AVC = 7;
/** Enhanced RTMP names the codec by FourCC in metadata too ('hvc1' as a big-endian number). */
const FLV_META_VIDEO_HEVC = 0x68766331;
const FLV_META_AUDIO_AAC = 10;
const TICKS_PER_MS = TS_CLOCK_HZ / 1000;
/** Longest the hub claim waits, after the first keyframe, for the AAC header of a listed audio stream. */
export const TS_AUDIO_HEADER_WAIT_MS = 1500;
/** Tags held before the hub claim at most (a stream whose audio never comes still goes live). */
const MAX_HELD_TAGS = 600;

/** compositionTicks gives PTS - DTS across the 33-bit wrap (a negative offset, which is invalid, is 0). */
export function compositionTicks(pts: number, dts: number): number {
  const d = (((pts - dts) % 2 ** 33) + 2 ** 33) % 2 ** 33;
  return d >= 2 ** 32 ? 0 : d;
}

/** The part of StreamHub an SRT publish needs. */
export interface TsHub {
  publish(channel: string, source: PublishSource): LiveStream | null;
}

export interface TsIngestOptions {
  channel: string;
  hub: TsHub;
  logger: Logger;
  clientIp?: string;
  /** The publish must end (the hub kicked it, or another publisher took the channel first). */
  onEnd(reason: string): void;
  onLive?(): void;
  onFrame?(kind: 'video' | 'audio'): void;
  audioHeaderWaitMs?: number;
  now?: () => number;
}

export interface TsIngestStats {
  videoFrames: number;
  audioFrames: number;
  /** Video access units skipped while waiting for a keyframe after damage. */
  videoSkipped: number;
  /** Stream types of the PMT's elementary streams we do not take (not the first H.264/HEVC video or AAC audio). */
  unsupported: number[];
}

export class TsIngest {
  private readonly demux: TsDemuxer;
  private readonly clock = new TimestampUnwrapper();
  private stream: LiveStream | null = null;
  private vps?: Buffer;
  private sps?: Buffer;
  private pps?: Buffer;
  private videoCodec: 'avc' | 'hevc' | null = null;
  /** The video decoder configuration: avcC for H.264, hvcC for HEVC. */
  private avcc?: Buffer;
  private asc?: Buffer;
  private ascKey = '';
  private audioAsc?: { objectType: number; sfi: number; channels: number };
  private origin: number | null = null;
  private videoPid = -1;
  private audioPid = -1;
  private waitKeyframe = true;
  private lastVideoDts = 0;
  private lastAudioDts = 0;
  private held: { type: number; dts: number; body: Buffer; frame: 'video' | 'audio' | null }[] = [];
  private startedAt = 0;
  /** The AAC sequence header went out (held or pushed) for the current config. */
  private audioHeaderSent = false;
  ended = false;
  width = 0;
  height = 0;
  readonly stats: TsIngestStats = { videoFrames: 0, audioFrames: 0, videoSkipped: 0, unsupported: [] };

  constructor(private readonly o: TsIngestOptions) {
    this.demux = new TsDemuxer({
      onPes: (p) => this.onPes(p),
      onStreams: (s) => this.onStreams(s),
      // Only the video and audio stream we take are assembled (memory: two PES at most).
      accept: (s) => s.pid === this.videoPid || s.pid === this.audioPid,
    });
  }

  private now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  get live(): boolean {
    return this.stream !== null && !this.stream.ended;
  }

  get demuxStats() {
    return this.demux.stats;
  }

  /** push takes the next bytes of the transport stream (any split). */
  push(bytes: Buffer): void {
    if (this.ended) return;
    this.demux.push(bytes);
    this.checkAudioWait();
  }

  /** gap says packets were lost before the next push (dropped by the transport). */
  gap(): void {
    if (this.ended) return;
    this.demux.gap();
    if (this.videoPid >= 0) this.waitKeyframe = true;
  }

  private onStreams(streams: TsStreamInfo[]): void {
    const video = streams.find((s) => s.streamType === STREAM_TYPE_H264 || s.streamType === STREAM_TYPE_H265);
    this.videoPid = video?.pid ?? -1;
    this.videoCodec = video ? (video.streamType === STREAM_TYPE_H265 ? 'hevc' : 'avc') : null;
    this.audioPid = streams.find((s) => s.streamType === STREAM_TYPE_AAC_ADTS)?.pid ?? -1;
    const unsupported = streams.filter((s) => s.pid !== this.videoPid && s.pid !== this.audioPid).map((s) => s.streamType);
    if (unsupported.length && this.stats.unsupported.join() !== unsupported.join()) {
      this.o.logger.warn({ channel: this.o.channel, streamTypes: unsupported.map((t) => '0x' + t.toString(16)) }, 'SRT: elementary streams other than one H.264/HEVC video and one AAC audio are ignored');
    }
    this.stats.unsupported = unsupported;
    if (this.videoPid < 0 && this.audioPid < 0) this.o.logger.warn({ channel: this.o.channel }, 'SRT: the transport stream has neither H.264/HEVC video nor AAC audio');
  }

  private onPes(p: TsPes): void {
    if (p.dts === undefined || p.pts === undefined) return;
    if (p.pid === this.videoPid) this.onVideo(p);
    else if (p.pid === this.audioPid) this.onAudio(p);
  }

  private ms(ticks: number): number {
    return Math.round((ticks - (this.origin ?? 0)) / TICKS_PER_MS);
  }

  private onVideo(p: TsPes): void {
    const dts90 = this.clock.unwrap(p.dts!);
    const pts90 = dts90 + compositionTicks(p.pts!, p.dts!);
    const hevc = this.videoCodec === 'hevc';
    const body: Buffer[] = [];
    let paramsChanged = false;
    let idr = false;
    const keep = (slot: 'vps' | 'sps' | 'pps', nal: Buffer) => {
      const old = this[slot];
      if (!old || !old.equals(nal)) {
        this[slot] = Buffer.from(nal);
        paramsChanged = true;
      }
    };
    for (const nal of splitAnnexB(p.data)) {
      if (nal.length < (hevc ? 2 : 1)) continue;
      if (hevc) {
        const t = hevcNalType(nal);
        if (t === HEVC_NAL_VPS) keep('vps', nal);
        else if (t === HEVC_NAL_SPS) keep('sps', nal);
        else if (t === HEVC_NAL_PPS) keep('pps', nal);
        else if (t !== HEVC_NAL_AUD) {
          if (t >= HEVC_NAL_IRAP_FIRST && t <= HEVC_NAL_IRAP_LAST) idr = true;
          body.push(nal);
        }
        continue;
      }
      const t = nal[0]! & 0x1f;
      if (t === NAL_TYPE_SPS) keep('sps', nal);
      else if (t === NAL_TYPE_PPS) keep('pps', nal);
      else if (t !== NAL_TYPE_AUD) {
        if (t === NAL_TYPE_IDR) idr = true;
        body.push(nal);
      }
    }
    if (body.length === 0 || !this.sps || !this.pps || (hevc && !this.vps)) return;
    if (paramsChanged || !this.avcc) {
      try {
        if (hevc) {
          const dim = parseHevcSpsSize(this.sps);
          this.width = dim.width;
          this.height = dim.height;
          this.avcc = encodeHevcDecoderConfig(this.vps!, this.sps, this.pps);
        } else {
          const sps = parseSps(this.sps);
          this.width = sps.width;
          this.height = sps.height;
          this.avcc = encodeAvcDecoderConfig(this.sps, [this.pps], NAL_LENGTH_SIZE);
        }
      } catch (err) {
        this.o.logger.warn({ channel: this.o.channel, err: (err as Error).message }, 'SRT: unreadable SPS; waiting for the next keyframe');
        this.sps = undefined;
        this.avcc = undefined;
        this.waitKeyframe = true;
        return;
      }
      paramsChanged = true;
    }
    const keyframe = idr;
    if (this.waitKeyframe) {
      if (!keyframe) {
        this.stats.videoSkipped++;
        return;
      }
      this.waitKeyframe = false;
    }
    let first = false;
    if (this.origin === null) {
      this.origin = dts90;
      this.startedAt = this.now();
      paramsChanged = true;
      first = true;
    }
    const dts = Math.max(this.lastVideoDts, this.ms(dts90));
    this.lastVideoDts = dts;
    const cts = Math.max(0, Math.round((pts90 - dts90) / TICKS_PER_MS));
    if (paramsChanged) this.tag(FLV_TAG_VIDEO, dts, this.videoBody(true, true, 0, this.avcc), null);
    // Audio seen before the first keyframe already told us its header.
    if (first && this.asc) this.audioHeader(0);
    this.tag(FLV_TAG_VIDEO, dts, this.videoBody(false, keyframe, cts, joinLengthPrefixed(body, NAL_LENGTH_SIZE)), 'video');
    this.stats.videoFrames++;
    this.maybeGoLive();
  }

  private onAudio(p: TsPes): void {
    const pts90 = this.clock.unwrap(p.pts!);
    const frames = parseAdtsFrames(p.data);
    if (frames.length === 0) return;
    const f0 = frames[0]!;
    const key = `${f0.objectType}/${f0.samplingFrequencyIndex}/${f0.channelConfiguration}`;
    const rate = AAC_SAMPLE_RATES[f0.samplingFrequencyIndex];
    if (!rate) return;
    let headerChanged = false;
    if (key !== this.ascKey) {
      try {
        this.asc = encodeAudioSpecificConfig(f0.objectType, rate, f0.channelConfiguration);
      } catch {
        return;
      }
      this.ascKey = key;
      this.audioAsc = { objectType: f0.objectType, sfi: f0.samplingFrequencyIndex, channels: f0.channelConfiguration };
      headerChanged = true;
    }
    // Audio-only programs start at their first frame; otherwise audio waits for the first keyframe.
    if (this.origin === null) {
      if (this.videoPid >= 0) {
        if (headerChanged) this.checkAudioWait();
        return;
      }
      this.origin = pts90;
      this.startedAt = this.now();
      headerChanged = true;
    }
    if (headerChanged || !this.audioHeaderSent) this.audioHeader(Math.max(0, this.ms(pts90)));
    const frameTicks = (ADTS_SAMPLES_PER_FRAME * TS_CLOCK_HZ) / rate;
    frames.forEach((f, i) => {
      const t = pts90 + i * frameTicks;
      if (t < this.origin!) return;
      const dts = Math.max(this.lastAudioDts, this.ms(t));
      this.lastAudioDts = dts;
      this.tag(FLV_TAG_AUDIO, dts, aacAudioTagBody(AAC_PACKET_RAW, f.data), 'audio');
      this.stats.audioFrames++;
    });
    this.maybeGoLive();
  }

  /** videoBody builds a video tag body: legacy AVC, or Enhanced RTMP (FourCC hvc1) for HEVC. */
  private videoBody(header: boolean, keyframe: boolean, cts: number, payload: Buffer): Buffer {
    if (this.videoCodec !== 'hevc') return avcVideoTagBody(keyframe, header ? AVC_PACKET_SEQUENCE_HEADER : AVC_PACKET_NALU, cts, payload);
    const frameType = keyframe ? VIDEO_FRAME_KEY : VIDEO_FRAME_INTER;
    const head = Buffer.alloc(header ? 5 : 8);
    head[0] = VIDEO_EX_HEADER_FLAG | (frameType << 4) | (header ? EX_PACKET_SEQUENCE_START : EX_PACKET_CODED_FRAMES);
    head.write(FOURCC_HEVC, 1, 'latin1');
    if (!header) head.writeIntBE(cts, 5, 3);
    return Buffer.concat([head, payload]);
  }

  private audioHeader(dts: number): void {
    this.tag(FLV_TAG_AUDIO, dts, aacAudioTagBody(AAC_PACKET_SEQUENCE_HEADER, this.asc!), null);
    this.audioHeaderSent = true;
  }

  private tag(type: number, dts: number, body: Buffer, frame: 'video' | 'audio' | null): void {
    if (this.stream) {
      this.stream.pushTag(type, dts, body);
      if (frame) this.o.onFrame?.(frame);
      return;
    }
    if (this.held.length >= MAX_HELD_TAGS) {
      this.goLive();
      if (this.stream) return this.tag(type, dts, body, frame);
      return;
    }
    this.held.push({ type, dts, body, frame });
  }

  private checkAudioWait(): void {
    if (!this.stream && this.origin !== null) this.maybeGoLive();
  }

  private maybeGoLive(): void {
    if (this.stream || this.ended || this.origin === null) return;
    const audioReady = this.audioPid < 0 || this.audioHeaderSent;
    const videoReady = this.videoPid < 0 || this.avcc !== undefined;
    const waited = this.now() - this.startedAt >= (this.o.audioHeaderWaitMs ?? TS_AUDIO_HEADER_WAIT_MS);
    if (videoReady && (audioReady || waited)) this.goLive();
  }

  /** goLive claims the hub stream and gives it the held tags (codec headers first). */
  private goLive(): void {
    if (this.stream || this.ended) return;
    const stream = this.o.hub.publish(this.o.channel, { protocol: 'srt', ...(this.o.clientIp ? { clientIp: this.o.clientIp } : {}), close: (reason) => this.kicked(reason) });
    if (!stream) {
      this.ended = true;
      this.held = [];
      this.o.onEnd('channel already live');
      return;
    }
    this.stream = stream;
    const a = this.audioAsc;
    stream.pushMetadata({
      ...(this.avcc ? { width: this.width, height: this.height, videocodecid: this.videoCodec === 'hevc' ? FLV_META_VIDEO_HEVC : FLV_META_VIDEO_AVC } : {}),
      ...(a ? { audiocodecid: FLV_META_AUDIO_AAC, audiosamplerate: AAC_SAMPLE_RATES[a.sfi] ?? 0, audiochannels: a.channels } : {}),
      encoder: 'onair SRT ingest',
    });
    const held = this.held;
    this.held = [];
    const headers = held.filter((t) => t.frame === null);
    const frames = held.filter((t) => t.frame !== null);
    // Headers first (the first of each kind is what outputs fix their tracks with), then frames in order.
    for (const t of headers) stream.pushTag(t.type, t.dts, t.body);
    for (const t of frames) {
      stream.pushTag(t.type, t.dts, t.body);
      this.o.onFrame?.(t.frame!);
    }
    this.o.onLive?.();
  }

  private kicked(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.o.onEnd(reason);
  }

  /** end stops the publish: the hub stream ends (the channel goes offline). */
  end(reason: string): void {
    this.ended = true;
    this.held = [];
    const stream = this.stream;
    if (stream && !stream.ended) stream.end(reason);
  }
}
