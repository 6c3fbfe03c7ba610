/**
 * WhipIngest: what one WHIP publish feeds into the hub, independent of the WebRTC stack (tests
 * drive it with plain RTP packets).
 *
 *   video RTP ──► H264Depacketizer ──AU──► SPS/PPS → avcC (sequence header) + AVCC frame ──► hub
 *   audio RTP ──► AacFromOpus (ffmpeg) ──AAC──► hub
 *   RTCP SR   ──► StreamClock (both tracks on one timeline)
 *
 * The stream starts at the first IDR access unit with SPS and PPS (stream time 0); audio before
 * it is dropped. The hub stream is claimed once the AAC header is known too (or after
 * WHIP_AUDIO_HEADER_WAIT_MS without it), with the tags held meanwhile. If the channel went live
 * meanwhile (RTMP won the race), the publish ends.
 */
import type { Logger } from '../../observability/logger.js';
import { encodeAvcDecoderConfig, joinLengthPrefixed, NAL_TYPE_AUD, NAL_TYPE_PPS, NAL_TYPE_SPS, parseSps } from '../../formats/avc.js';
import { AAC_PACKET_RAW, AAC_PACKET_SEQUENCE_HEADER, aacAudioTagBody, AVC_PACKET_NALU, AVC_PACKET_SEQUENCE_HEADER, avcVideoTagBody, FLV_TAG_AUDIO, FLV_TAG_VIDEO } from '../../formats/flv.js';
import { H264Depacketizer, type H264AccessUnit, type RtpVideoPacket } from '../../formats/rtp-h264-depacketize.js';
import { nalType, RTP_VIDEO_CLOCK_RATE } from '../../formats/rtp-h264.js';
import { RTP_OPUS_CLOCK_RATE } from '../../formats/rtp-opus.js';
import type { LiveStream, PublishSource } from '../hub/hub.js';
import { AacFromOpus } from './aac.js';
import { StreamClock } from './clock.js';

const NAL_LENGTH_SIZE = 4;
/** Video codec id and audio codec id as FLV metadata names them (H.264, AAC). */
const FLV_META_VIDEO_AVC = 7;
const FLV_META_AUDIO_AAC = 10;
/**
 * Longest the hub stream waits, after the first keyframe, for the AAC header (ffmpeg starting up).
 * Outputs that fix their tracks at the start (recorder, LL-HLS init) then see audio as RTMP
 * publishers give it; past this the channel goes live with video only. ffmpeg answers in well
 * under a second on an idle machine, but took over 3 s with the machine at load 13.
 */
export const WHIP_AUDIO_HEADER_WAIT_MS = 6000;
/**
 * AAC timestamps follow ffmpeg's sample count; the sender's reports may show its audio clock
 * drifting from the shared clock (a sound card's crystal). Past this many ms apart, the audio
 * timeline is moved back in line (checked every DRIFT_CHECK_PACKETS Opus packets).
 */
export const WHIP_AUDIO_DRIFT_MAX_MS = 40;
const DRIFT_CHECK_PACKETS = 50;

/** The part of StreamHub a WHIP publish needs. */
export interface WhipHub {
  publish(channel: string, source: PublishSource): LiveStream | null;
}

export interface WhipIngestOptions {
  channel: string;
  hub: WhipHub;
  logger: Logger;
  clientIp?: string;
  /** ffmpeg for Opus → AAC; undefined: the stream goes live without audio. */
  ffmpeg?: string;
  /** The depacketizer wants a keyframe: send a PLI. */
  requestKeyframe(): void;
  /** The publish must end (the hub kicked it, or another publisher holds the channel). */
  onEnd(reason: string): void;
  onLive?(): void;
  onFrame?(kind: 'video' | 'audio'): void;
  onAudioFailed?(reason: string): void;
  /** Time an audio frame spent in the Opus→AAC transcoder, ms. */
  onAudioDelay?(ms: number): void;
  /** How long the hub claim waits for the AAC header after the first keyframe (default WHIP_AUDIO_HEADER_WAIT_MS). */
  audioHeaderWaitMs?: number;
  now?: () => number;
}

export class WhipIngest {
  private readonly depack: H264Depacketizer;
  private readonly clock = new StreamClock(RTP_VIDEO_CLOCK_RATE, RTP_OPUS_CLOCK_RATE);
  private stream: LiveStream | null = null;
  private sps?: Buffer;
  private pps?: Buffer;
  private avcc?: Buffer;
  private lastVideoDts = 0;
  private aac?: AacFromOpus;
  /** Stream ms of the first Opus packet (ffmpeg's time 0); undefined until it came. */
  private audioStartMs?: number;
  private audioGone = false;
  private audioConfig?: { asc: Buffer; ms: number };
  /** Tags held between the first keyframe and the hub claim (type, dts, body). */
  private held: { type: number; dts: number; body: Buffer; video: boolean }[] = [];
  private startedAt = 0;
  private arrival = 0;
  /** Wallclock (ms) at which the last keyframe went into the hub. */
  lastKeyframeAt = 0;
  ended = false;
  width = 0;
  height = 0;

  constructor(private readonly o: WhipIngestOptions) {
    this.depack = new H264Depacketizer({
      onAccessUnit: (au) => this.onAccessUnit(au),
      onKeyframeNeeded: () => o.requestKeyframe(),
    });
  }

  private now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  get live(): boolean {
    return this.stream !== null && !this.stream.ended;
  }

  get videoStats() {
    return this.depack.stats;
  }

  /** audioDelay: the transcoder's delay, newest and largest over the last 3 s and 10 s (ms; -1: none yet). */
  get audioDelay(): { lastMs: number; max3sMs: number; max10sMs: number } {
    const d = this.aac?.delay;
    const now = Date.now();
    return d ? { lastMs: d.lastMs, max3sMs: d.recentMaxMs(now, 3), max10sMs: d.recentMaxMs(now) } : { lastMs: -1, max3sMs: -1, max10sMs: -1 };
  }

  /** aacPid is the transcoder's pid while it runs. */
  get aacPid(): number | undefined {
    return this.aac?.pid;
  }

  /** depacketizer lets the owner re-arm keyframe requests (PLI pacing). */
  get depacketizer(): H264Depacketizer {
    return this.depack;
  }

  videoPacket(p: RtpVideoPacket): void {
    if (this.ended) return;
    this.arrival = this.now();
    this.clock.wallOf('video', p.timestamp, this.arrival);
    this.depack.push(p, this.arrival);
  }

  /** tick gives up a video hole that waited too long while no packets came (called by a timer). */
  tick(): void {
    if (!this.ended) this.depack.expire(this.now());
  }

  audioPacket(payload: Buffer, rtpTimestamp: number): void {
    if (this.ended) return;
    const wall = this.clock.wallOf('audio', rtpTimestamp, this.now());
    if (!this.clock.started || this.audioGone || !this.o.ffmpeg) return;
    if (!this.aac) this.startAudio();
    const aac = this.aac;
    if (!aac) return;
    if (this.audioStartMs === undefined) {
      this.audioStartMs = Math.max(0, Math.round(this.clock.streamMs(wall)));
      aac.begin(this.audioStartMs);
    }
    if (aac.push(payload, rtpTimestamp) && aac.packetsIn % DRIFT_CHECK_PACKETS === 0) {
      const drift = this.clock.streamMs(wall) - aac.lastPacketMs;
      if (Math.abs(drift) > WHIP_AUDIO_DRIFT_MAX_MS) {
        aac.shift(drift);
        this.audioShifts++;
      }
    }
  }

  /** Drift corrections applied to the audio timeline. */
  audioShifts = 0;

  /** senderReport takes an RTCP SR (NTP time in Unix ms, RTP timestamp) of one track. */
  senderReport(kind: 'video' | 'audio', ntpMs: number, rtpTimestamp: number): void {
    if (this.ended) return;
    this.clock.senderReport(kind, ntpMs, rtpTimestamp, this.now());
  }

  /**
   * prepareAudio starts the Opus→AAC ffmpeg before the first Opus packet (the session calls it
   * once the offer is answered): starting ffmpeg takes 0.1–0.4 s on an idle machine and over a
   * second on a busy one, which otherwise delays the AAC header the hub claim waits for and leaves
   * the first seconds of audio further behind the video.
   */
  prepareAudio(): void {
    if (this.aac || this.ended || this.audioGone || !this.o.ffmpeg) return;
    this.startAudio();
  }

  private startAudio(): void {
    this.aac = new AacFromOpus({
      channel: this.o.channel, ffmpeg: this.o.ffmpeg!, logger: this.o.logger,
      onConfig: (asc) => {
        // ffmpeg's header comes after its first input packet, so the start is known by now.
        const startMs = this.audioStartMs ?? 0;
        if (this.ended) return;
        if (this.stream) this.stream.pushTag(FLV_TAG_AUDIO, startMs, aacAudioTagBody(AAC_PACKET_SEQUENCE_HEADER, asc));
        else {
          this.audioConfig = { asc, ms: startMs };
          this.goLive();
        }
      },
      onFrame: (raw, ms) => {
        if (!this.stream || this.ended) return;
        this.stream.pushTag(FLV_TAG_AUDIO, Math.max(0, Math.round(ms)), aacAudioTagBody(AAC_PACKET_RAW, raw));
        this.o.onFrame?.('audio');
      },
      onDelay: (ms) => this.o.onAudioDelay?.(ms),
      onFailed: (reason) => {
        this.audioGone = true;
        this.o.onAudioFailed?.(reason);
      },
    });
    this.aac.start();
  }

  private onAccessUnit(au: H264AccessUnit): void {
    const body: Buffer[] = [];
    let paramsChanged = false;
    for (const nal of au.nals) {
      const t = nalType(nal);
      if (t === NAL_TYPE_SPS) {
        if (!this.sps || !this.sps.equals(nal)) { this.sps = Buffer.from(nal); paramsChanged = true; }
        continue;
      }
      if (t === NAL_TYPE_PPS) {
        if (!this.pps || !this.pps.equals(nal)) { this.pps = Buffer.from(nal); paramsChanged = true; }
        continue;
      }
      if (t === NAL_TYPE_AUD) continue;
      body.push(nal);
    }
    if (body.length === 0) return;
    if (!this.sps || !this.pps) {
      // An IDR without parameter sets (they were lost): ask again.
      if (au.keyframe) this.o.requestKeyframe();
      return;
    }
    if (paramsChanged || !this.avcc) {
      try {
        const sps = parseSps(this.sps);
        this.width = sps.width;
        this.height = sps.height;
        this.avcc = encodeAvcDecoderConfig(this.sps, [this.pps], NAL_LENGTH_SIZE);
      } catch (err) {
        this.o.logger.warn({ channel: this.o.channel, err: (err as Error).message }, 'WHIP: unreadable SPS; waiting for the next keyframe');
        this.sps = undefined;
        this.avcc = undefined;
        this.o.requestKeyframe();
        return;
      }
      paramsChanged = true;
    }
    const wall = this.clock.wallOf('video', au.timestamp, this.arrival);
    if (!this.clock.started) {
      if (!au.keyframe) return;
      this.clock.setOrigin(wall);
      this.startedAt = this.now();
      paramsChanged = true;
    }
    const dts = Math.max(this.lastVideoDts, Math.round(this.clock.streamMs(wall)));
    this.lastVideoDts = dts;
    if (paramsChanged) this.tag(FLV_TAG_VIDEO, dts, avcVideoTagBody(true, AVC_PACKET_SEQUENCE_HEADER, 0, this.avcc), false);
    this.tag(FLV_TAG_VIDEO, dts, avcVideoTagBody(au.keyframe, AVC_PACKET_NALU, 0, joinLengthPrefixed(body, NAL_LENGTH_SIZE)), true);
    if (au.keyframe) this.lastKeyframeAt = this.now();
    if (!this.stream && (!this.audioExpected || this.now() - this.startedAt >= (this.o.audioHeaderWaitMs ?? WHIP_AUDIO_HEADER_WAIT_MS))) this.goLive();
  }

  /** Audio will come: ffmpeg is there and has not failed. */
  private get audioExpected(): boolean {
    return !!this.o.ffmpeg && !this.audioGone;
  }

  /** tag pushes a video tag into the hub, or holds it until the hub stream is claimed. */
  private tag(type: number, dts: number, body: Buffer, frame: boolean): void {
    if (this.stream) {
      this.stream.pushTag(type, dts, body);
      if (frame) this.o.onFrame?.('video');
    } else this.held.push({ type, dts, body, video: frame });
  }

  /** goLive claims the hub stream and gives it the held tags (headers first). */
  private goLive(): void {
    if (this.stream || this.ended || !this.clock.started) return;
    const stream = this.o.hub.publish(this.o.channel, { protocol: 'whip', ...(this.o.clientIp ? { clientIp: this.o.clientIp } : {}), close: (reason) => this.kicked(reason) });
    if (!stream) {
      this.ended = true;
      this.held = [];
      void this.aac?.stop();
      this.o.onEnd('channel already live');
      return;
    }
    this.stream = stream;
    const audio = this.audioConfig;
    stream.pushMetadata({ width: this.width, height: this.height, videocodecid: FLV_META_VIDEO_AVC, ...(audio ? { audiocodecid: FLV_META_AUDIO_AAC } : {}), encoder: 'onair WHIP ingest' });
    const held = this.held;
    this.held = [];
    // The codec headers first (the first held tag is the video sequence header), then the frames.
    const first = held[0];
    const rest = first && !first.video ? held.slice(1) : held;
    if (first && !first.video) stream.pushTag(first.type, first.dts, first.body);
    if (audio) stream.pushTag(FLV_TAG_AUDIO, audio.ms, aacAudioTagBody(AAC_PACKET_SEQUENCE_HEADER, audio.asc));
    for (const t of rest) {
      stream.pushTag(t.type, t.dts, t.body);
      if (t.video) this.o.onFrame?.('video');
    }
    this.o.onLive?.();
  }

  private kicked(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    void this.aac?.stop();
    this.o.onEnd(reason);
  }

  /** end stops the publish: the hub stream ends (the channel goes offline) and ffmpeg stops. */
  async end(reason: string): Promise<void> {
    this.ended = true;
    const stream = this.stream;
    if (stream && !stream.ended) stream.end(reason);
    await this.aac?.stop();
  }
}
