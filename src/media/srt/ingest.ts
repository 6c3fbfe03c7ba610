/**
 * TsIngest: what one SRT publish feeds into the hub, independent of the transport (tests push
 * plain MPEG-TS bytes).
 *
 *   TS bytes ──► TsDemuxer ──PES──► H.264 Annex B → SPS/PPS → avcC track + AVCC frames ──► IngestSession ──► hub
 *                                ├─► HEVC Annex B → VPS/SPS/PPS → hvcC track + length-prefixed frames ──┘
 *                                └─► AAC ADTS → AudioSpecificConfig track + raw frames ─────────────────┘
 *
 * The stream starts at the first IDR access unit with SPS and PPS (its DTS is stream time 0;
 * audio before it is dropped). The IngestSession claims the hub stream once the AAC header is known
 * too, if the PMT lists audio (or after TS_AUDIO_HEADER_WAIT_MS without it), holding frames meanwhile.
 * A transport gap (packets SRT could not recover in time) or a continuity error drops the damaged
 * PES; if video broke, video waits for the next keyframe so no decoder sees a frame with holes.
 */
import type { Logger } from '../../observability/logger.js';
import { encodeAvcDecoderConfig, joinLengthPrefixed, NAL_TYPE_AUD, NAL_TYPE_IDR, NAL_TYPE_PPS, NAL_TYPE_SPS, parseSps } from '../../formats/avc.js';
import { AAC_SAMPLE_RATES, encodeAudioSpecificConfig } from '../../formats/aac.js';
import { encodeHevcDecoderConfig, hevcNalType, parseHevcSpsSize, HEVC_NAL_AUD, HEVC_NAL_IRAP_FIRST, HEVC_NAL_IRAP_LAST, HEVC_NAL_PPS, HEVC_NAL_SPS, HEVC_NAL_VPS } from '../../formats/hevc.js';
import {
  ADTS_SAMPLES_PER_FRAME, parseAdtsFrames, splitAnnexB, STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264, STREAM_TYPE_H265, TimestampUnwrapper, TS_CLOCK_HZ, TsDemuxer,
  type TsPes, type TsStreamInfo,
} from '../../formats/mpegts-demux.js';
import { IngestSession, INGEST_MAX_HELD_FRAMES, type IngestHub } from '../hub/ingest-session.js';
import { aacTrackOf, videoTrackOf } from '../hub/tracks.js';
import { DROP_EXTRA_TRACK, DROP_UNSUPPORTED_CODEC, type AudioTrackInfo, type DroppedTrack, type VideoTrackInfo } from '../hub/types.js';

const NAL_LENGTH_SIZE = 4;
const TICKS_PER_MS = TS_CLOCK_HZ / 1000;
/** Longest the hub claim waits, after the first keyframe, for the AAC header of a listed audio stream. */
export const TS_AUDIO_HEADER_WAIT_MS = 1500;

/** MPEG-TS stream types (ISO 13818-1 table 2-34, ATSC) named for the owner's health panel. */
const TS_STREAM_TYPES: Record<number, { kind: DroppedTrack['kind']; codec: string }> = {
  0x01: { kind: 'video', codec: 'mpeg1video' }, 0x02: { kind: 'video', codec: 'mpeg2video' },
  0x03: { kind: 'audio', codec: 'mp2' }, 0x04: { kind: 'audio', codec: 'mp2' },
  0x06: { kind: 'data', codec: 'private' }, 0x0f: { kind: 'audio', codec: 'aac' }, 0x10: { kind: 'video', codec: 'mpeg4' },
  0x11: { kind: 'audio', codec: 'aac_latm' }, 0x15: { kind: 'data', codec: 'metadata' }, 0x1b: { kind: 'video', codec: 'avc' },
  0x24: { kind: 'video', codec: 'hevc' }, 0x81: { kind: 'audio', codec: 'ac3' }, 0x86: { kind: 'data', codec: 'scte35' },
  0x87: { kind: 'audio', codec: 'eac3' },
};

/** droppedTrackOf names an elementary stream the ingest ignores: a second H.264/HEVC/AAC is an extra track. */
export function droppedTrackOf(streamType: number): DroppedTrack {
  const known = TS_STREAM_TYPES[streamType];
  const extra = streamType === STREAM_TYPE_H264 || streamType === STREAM_TYPE_H265 || streamType === STREAM_TYPE_AAC_ADTS;
  return { kind: known?.kind ?? 'data', codec: known?.codec ?? `stream_type_0x${streamType.toString(16)}`, reason: extra ? DROP_EXTRA_TRACK : DROP_UNSUPPORTED_CODEC };
}

/** compositionTicks gives PTS - DTS across the 33-bit wrap (a negative offset, which is invalid, is 0). */
export function compositionTicks(pts: number, dts: number): number {
  const d = (((pts - dts) % 2 ** 33) + 2 ** 33) % 2 ** 33;
  return d >= 2 ** 32 ? 0 : d;
}

/** The part of StreamHub an SRT publish needs. */
export type TsHub = IngestHub;

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
  private readonly session: IngestSession;
  private vps?: Buffer;
  private sps?: Buffer;
  private pps?: Buffer;
  private videoCodec: 'avc' | 'hevc' | null = null;
  /** The video decoder configuration: avcC for H.264, hvcC for HEVC. */
  private avcc?: Buffer;
  private videoTrack?: VideoTrackInfo;
  private audioTrack?: AudioTrackInfo;
  private ascKey = '';
  private origin: number | null = null;
  private videoPid = -1;
  private audioPid = -1;
  private waitKeyframe = true;
  private lastVideoDts = 0;
  private lastAudioDts = 0;
  private videoSkipped = 0;
  private unsupported: number[] = [];
  width = 0;
  height = 0;

  constructor(private readonly o: TsIngestOptions) {
    this.session = new IngestSession({
      hub: o.hub, channel: o.channel, protocol: 'srt', ...(o.clientIp ? { clientIp: o.clientIp } : {}), logger: o.logger, encoder: 'onair SRT ingest',
      onKicked: (reason) => o.onEnd(reason),
      onRefused: () => o.onEnd('channel already live'),
      ...(o.onLive ? { onLive: o.onLive } : {}),
      ...(o.onFrame ? { onFrame: o.onFrame } : {}),
      hold: { audioHeaderWaitMs: o.audioHeaderWaitMs ?? TS_AUDIO_HEADER_WAIT_MS, maxFrames: INGEST_MAX_HELD_FRAMES },
      ...(o.now ? { now: o.now } : {}),
    });
    this.demux = new TsDemuxer({
      onPes: (p) => this.onPes(p),
      onStreams: (s) => this.onStreams(s),
      // Only the video and audio stream we take are assembled (memory: two PES at most).
      accept: (s) => s.pid === this.videoPid || s.pid === this.audioPid,
    });
  }

  get live(): boolean {
    return this.session.live;
  }

  get ended(): boolean {
    return this.session.ended;
  }

  get stats(): TsIngestStats {
    const c = this.session.counters;
    return { videoFrames: c.videoFrames, audioFrames: c.audioFrames, videoSkipped: this.videoSkipped, unsupported: this.unsupported };
  }

  get demuxStats() {
    return this.demux.stats;
  }

  /** push takes the next bytes of the transport stream (any split). */
  push(bytes: Buffer): void {
    if (this.ended) return;
    this.demux.push(bytes);
    this.session.poll();
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
    if (unsupported.length && this.unsupported.join() !== unsupported.join()) {
      this.o.logger.warn({ channel: this.o.channel, streamTypes: unsupported.map((t) => '0x' + t.toString(16)) }, 'SRT: elementary streams other than one H.264/HEVC video and one AAC audio are ignored');
      for (const t of unsupported) this.session.droppedTrack(droppedTrackOf(t));
    }
    this.unsupported = unsupported;
    this.session.expect({ video: this.videoPid >= 0, audio: this.audioPid >= 0 });
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
      const t = nal.length > 0 ? nal.readUInt8(0) & 0x1f : 0;
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
          this.videoTrack = videoTrackOf('hevc', this.avcc, dim);
        } else {
          const sps = parseSps(this.sps);
          this.width = sps.width;
          this.height = sps.height;
          this.avcc = encodeAvcDecoderConfig(this.sps, [this.pps], NAL_LENGTH_SIZE);
          this.videoTrack = videoTrackOf('avc', this.avcc);
        }
      } catch (err) {
        this.o.logger.warn({ channel: this.o.channel, err: (err as Error).message }, 'SRT: unreadable SPS; waiting for the next keyframe');
        this.sps = undefined;
        this.avcc = undefined;
        this.videoTrack = undefined;
        this.waitKeyframe = true;
        return;
      }
      paramsChanged = true;
    }
    const keyframe = idr;
    if (this.waitKeyframe) {
      if (!keyframe) {
        this.videoSkipped++;
        return;
      }
      this.waitKeyframe = false;
    }
    if (this.origin === null) {
      this.origin = dts90;
      paramsChanged = true;
    }
    const dts = Math.max(this.lastVideoDts, this.ms(dts90));
    this.lastVideoDts = dts;
    const cts = Math.max(0, Math.round((pts90 - dts90) / TICKS_PER_MS));
    if (paramsChanged) this.session.setTracks(this.videoTrack, undefined, dts);
    this.session.pushFrame({ kind: 'video', codec: hevc ? 'hevc' : 'avc', dts, pts: dts + cts, keyframe, data: joinLengthPrefixed(body, NAL_LENGTH_SIZE) });
  }

  private onAudio(p: TsPes): void {
    const pts90 = this.clock.unwrap(p.pts!);
    const frames = parseAdtsFrames(p.data);
    const f0 = frames[0];
    if (!f0) return;
    const key = `${f0.objectType}/${f0.samplingFrequencyIndex}/${f0.channelConfiguration}`;
    const rate = AAC_SAMPLE_RATES[f0.samplingFrequencyIndex];
    if (!rate) return;
    if (key !== this.ascKey) {
      try {
        this.audioTrack = aacTrackOf(encodeAudioSpecificConfig(f0.objectType, rate, f0.channelConfiguration));
      } catch {
        return;
      }
      this.ascKey = key;
      // Audio seen before the first keyframe announces its header at stream time 0.
      this.session.setTracks(undefined, this.audioTrack, this.origin === null ? 0 : Math.max(0, this.ms(pts90)));
    }
    // Audio-only programs start at their first frame; otherwise audio waits for the first keyframe.
    if (this.origin === null) {
      if (this.videoPid >= 0) return;
      this.origin = pts90;
    }
    const frameTicks = (ADTS_SAMPLES_PER_FRAME * TS_CLOCK_HZ) / rate;
    frames.forEach((f, i) => {
      const t = pts90 + i * frameTicks;
      if (t < this.origin!) return;
      const dts = Math.max(this.lastAudioDts, this.ms(t));
      this.lastAudioDts = dts;
      // Own copy: the PES buffer is not kept alive by the GOP cache.
      this.session.pushFrame({ kind: 'audio', codec: 'aac', dts, pts: dts, keyframe: true, data: Buffer.from(f.data) });
    });
  }

  /** end stops the publish: the hub stream ends (the channel goes offline). */
  end(reason: string): void {
    this.session.end(reason);
  }
}
