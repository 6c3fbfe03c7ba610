/**
 * WhipIngest: what one WHIP publish feeds into the hub, independent of the WebRTC stack (tests
 * drive it with plain RTP packets).
 *
 *   video RTP ──► H264Depacketizer ──AU──► SPS/PPS → avcC track + AVCC frame ──► IngestSession ──► hub
 *   audio RTP ──► AacFromOpus (ffmpeg) ──ASC track + AAC frames──┘
 *   RTCP SR   ──► StreamClock (both tracks on one timeline)
 *
 * The stream starts at the first IDR access unit with SPS and PPS (stream time 0); audio before
 * it is dropped. The IngestSession claims the hub stream once the AAC header is known too (or
 * after WHIP_AUDIO_HEADER_WAIT_MS without it), holding the video frames meanwhile. If the channel went live
 * meanwhile (RTMP won the race), the publish ends.
 */
import type { Logger } from '../../observability/logger.js';
import { encodeAvcDecoderConfig, joinLengthPrefixed, NAL_TYPE_AUD, NAL_TYPE_PPS, NAL_TYPE_SPS, parseSps } from '../../formats/avc.js';
import { H264Depacketizer, type H264AccessUnit, type RtpVideoPacket } from '../../formats/rtp-h264-depacketize.js';
import { nalType, RTP_VIDEO_CLOCK_RATE } from '../../formats/rtp-h264.js';
import { RTP_OPUS_CLOCK_RATE } from '../../formats/rtp-opus.js';
import { IngestSession, INGEST_MAX_HELD_FRAMES, type IngestHub } from '../hub/ingest-session.js';
import { aacTrackOf, videoTrackOf } from '../hub/tracks.js';
import type { DroppedTrack, VideoTrackInfo } from '../hub/types.js';
import { AacFromOpus } from './aac.js';
import { StreamClock } from './clock.js';

const NAL_LENGTH_SIZE = 4;
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
export type WhipHub = IngestHub;

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
  private readonly session: IngestSession;
  private sps?: Buffer;
  private pps?: Buffer;
  private avcc?: Buffer;
  private videoTrack?: VideoTrackInfo;
  private lastVideoDts = 0;
  private aac?: AacFromOpus;
  /** Stream ms of the first Opus packet (ffmpeg's time 0); undefined until it came. */
  private audioStartMs?: number;
  private audioGone = false;
  private arrival = 0;
  /** Wallclock (ms) at which the last keyframe went into the hub. */
  lastKeyframeAt = 0;
  width = 0;
  height = 0;

  constructor(private readonly o: WhipIngestOptions) {
    this.session = new IngestSession({
      hub: o.hub, channel: o.channel, protocol: 'whip', ...(o.clientIp ? { clientIp: o.clientIp } : {}), logger: o.logger, encoder: 'onair WHIP ingest',
      onKicked: (reason) => {
        void this.aac?.stop();
        o.onEnd(reason);
      },
      onRefused: () => {
        void this.aac?.stop();
        o.onEnd('channel already live');
      },
      ...(o.onLive ? { onLive: o.onLive } : {}),
      ...(o.onFrame ? { onFrame: o.onFrame } : {}),
      hold: { audioHeaderWaitMs: o.audioHeaderWaitMs ?? WHIP_AUDIO_HEADER_WAIT_MS, maxFrames: INGEST_MAX_HELD_FRAMES },
      ...(o.now ? { now: o.now } : {}),
    });
    this.session.expect({ video: true, audio: !!o.ffmpeg });
    this.depack = new H264Depacketizer({
      onAccessUnit: (au) => this.onAccessUnit(au),
      onKeyframeNeeded: () => o.requestKeyframe(),
    });
  }

  private now(): number {
    return this.session.now();
  }

  get live(): boolean {
    return this.session.live;
  }

  /** droppedTrack names a track of the offer this ingest does not take (reported once the stream is in the hub). */
  droppedTrack(track: DroppedTrack): void {
    this.session.droppedTrack(track);
  }

  get ended(): boolean {
    return this.session.ended;
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
        try {
          this.session.setTracks(undefined, aacTrackOf(asc), startMs);
        } catch (err) {
          this.session.badInput(`AAC header from ffmpeg: ${(err as Error).message}`);
        }
      },
      onFrame: (raw, ms) => {
        // Audio is not held: before the claim it is dropped (the claim waits for its header, not its frames).
        if (!this.session.live) return;
        const dts = Math.max(0, Math.round(ms));
        this.session.pushFrame({ kind: 'audio', codec: 'aac', dts, pts: dts, keyframe: true, data: Buffer.from(raw) });
      },
      onDelay: (ms) => this.o.onAudioDelay?.(ms),
      onFailed: (reason) => {
        this.audioGone = true;
        this.session.expect({ audio: false });
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
        this.videoTrack = videoTrackOf('avc', this.avcc);
      } catch (err) {
        this.o.logger.warn({ channel: this.o.channel, err: (err as Error).message }, 'WHIP: unreadable SPS; waiting for the next keyframe');
        this.sps = undefined;
        this.avcc = undefined;
        this.videoTrack = undefined;
        this.o.requestKeyframe();
        return;
      }
      paramsChanged = true;
    }
    const wall = this.clock.wallOf('video', au.timestamp, this.arrival);
    if (!this.clock.started) {
      if (!au.keyframe) return;
      this.clock.setOrigin(wall);
      paramsChanged = true;
    }
    const dts = Math.max(this.lastVideoDts, Math.round(this.clock.streamMs(wall)));
    this.lastVideoDts = dts;
    if (paramsChanged) this.session.setTracks(this.videoTrack, undefined, dts);
    this.session.pushFrame({ kind: 'video', codec: 'avc', dts, pts: dts, keyframe: au.keyframe, data: joinLengthPrefixed(body, NAL_LENGTH_SIZE) });
    if (au.keyframe) this.lastKeyframeAt = this.now();
  }

  /** end stops the publish: the hub stream ends (the channel goes offline) and ffmpeg stops. */
  async end(reason: string): Promise<void> {
    this.session.end(reason);
    await this.aac?.stop();
  }
}
