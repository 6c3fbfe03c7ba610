/**
 * WhepChannel: the WebRTC output of one live channel, alive while it has viewers. It is the one
 * hub subscriber for all of the channel's WHEP sessions:
 *
 *   hub ──onFrame──► video: packetizeH264 once ──► GOP cache + every session (own RTP headers)
 *                └─► audio: OpusTranscoder (ffmpeg) ──Opus packets──► every session
 *
 * A session that connects gets the cached GOP (from the last keyframe) at once and then the
 * live frames, so it starts decodable without waiting for the next keyframe.
 */
import type { Logger } from '../../observability/logger.js';
import { parseAvcDecoderConfig } from '../../formats/avc.js';
import { packetizeH264 } from '../../formats/rtp-h264.js';
import type { AudioTrackInfo, MediaFrame, PlaybackHub, StreamSubscriber, VideoTrackInfo } from '../hub/types.js';
import { OpusTranscoder, type OpusPacket } from './opus.js';
import type { PacketizedFrame, WhepSession } from './session.js';

export interface WhepChannelOptions {
  channel: string;
  hub: Pick<PlaybackHub, 'subscribe'>;
  logger: Logger;
  mtu: number;
  /** Longest GOP kept for sessions that connect, in frames. */
  gopMaxFrames: number;
  /** ffmpeg for the Opus audio; without it sessions get video only. */
  ffmpeg?: string;
  restartMinMs: number;
  restartMaxMs: number;
  onTranscoderRestart(): void;
  /** The stream ended: every session is closed by the owner. */
  onEnd(channel: string): void;
  /** A frame the packetizer refused (counted, skipped). */
  onBadFrame(): void;
}

export class WhepChannel implements StreamSubscriber {
  readonly sessions = new Set<WhepSession>();
  private video?: VideoTrackInfo;
  private avc?: { sps: Buffer[]; pps: Buffer[]; nalLengthSize: number; profile: number };
  private gop: PacketizedFrame[] = [];
  private opus?: OpusTranscoder;
  private unsubscribe: () => void = () => undefined;
  private offset: number | null = null;
  private ended = false;
  /** The source has frames with a non-zero composition offset (B-frames). */
  bFrames = false;

  constructor(private readonly o: WhepChannelOptions) {}

  get name(): string {
    return this.o.channel;
  }

  /** wallOffset maps source ms to wallclock ms (the least arrival lag seen). */
  wallOffset(): number {
    return this.offset ?? 0;
  }

  /** profile is the source's H.264 profile_idc (for the codec choice), once known. */
  get profile(): number | undefined {
    return this.avc?.profile;
  }

  /** videoCodec is the source's video codec, once known. */
  get videoCodec(): string | undefined {
    return this.video?.codec;
  }

  start(): void {
    this.unsubscribe = this.o.hub.subscribe(this.o.channel, this, { playback: true });
  }

  // ---------------------------------------------------------------- hub input

  onTracks(video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined): void {
    if (this.ended) return;
    const videoChanged = !!video && (!this.video || !video.config.equals(this.video.config));
    this.video = video;
    if (video?.codec === 'avc' && videoChanged) {
      try {
        const cfg = parseAvcDecoderConfig(video.config);
        this.avc = { sps: cfg.sps, pps: cfg.pps, nalLengthSize: cfg.nalLengthSize, profile: cfg.profile };
      } catch (err) {
        this.o.logger.warn({ channel: this.o.channel, err: (err as Error).message }, 'WebRTC: unreadable avcC; waiting for a new one');
        this.avc = undefined;
      }
      this.gop = [];
      for (const s of this.sessions) s.restartVideo();
    } else if (video && video.codec !== 'avc') {
      this.avc = undefined;
    }
    if (this.o.ffmpeg && audio?.codec === 'aac') {
      if (!this.opus) {
        this.opus = new OpusTranscoder({
          channel: this.o.channel, ffmpeg: this.o.ffmpeg, logger: this.o.logger,
          restartMinMs: this.o.restartMinMs, restartMaxMs: this.o.restartMaxMs,
          onPacket: (p) => this.onOpus(p),
          onRestart: () => this.o.onTranscoderRestart(),
        });
      }
      this.opus.setTrack(audio);
    } else if (this.opus) {
      this.opus.stop();
      this.opus = undefined;
    }
  }

  onFrame(frame: MediaFrame): void {
    if (this.ended) return;
    // The smallest lag seen: cached GOP frames replayed at subscribe time are older than they look.
    const lag = Date.now() - frame.dts;
    if (this.offset === null || lag < this.offset) this.offset = lag;
    if (frame.kind === 'audio') {
      this.opus?.push(frame);
      return;
    }
    const avc = this.avc;
    if (!avc) return;
    if (frame.pts !== frame.dts && !this.bFrames) {
      this.bFrames = true;
      this.o.logger.warn({ channel: this.o.channel }, 'WebRTC: the source has B-frames (composition offsets); browsers may stutter (see docs/webrtc.md)');
    }
    let pf: PacketizedFrame;
    try {
      const r = packetizeH264(frame.data, { mtu: this.o.mtu, nalLengthSize: avc.nalLengthSize, sps: avc.sps, pps: avc.pps });
      pf = { payloads: r.payloads, pts: frame.pts, keyframe: r.keyframe || frame.keyframe, bytes: r.payloads.reduce((s, p) => s + p.length, 0) };
    } catch {
      this.o.onBadFrame();
      for (const s of this.sessions) s.restartVideo();
      return;
    }
    if (pf.keyframe) this.gop = [];
    if (this.gop.length < this.o.gopMaxFrames && (pf.keyframe || this.gop.length > 0)) this.gop.push(pf);
    for (const s of this.sessions) s.sendVideo(pf);
  }

  onEnd(): void {
    if (this.ended) return;
    this.stop();
    this.o.onEnd(this.o.channel);
  }

  private onOpus(p: OpusPacket): void {
    for (const s of this.sessions) s.sendAudio(p.data, p.sample);
  }

  // ---------------------------------------------------------------- sessions

  /** sessionConnected starts a connected viewer with the cached GOP. */
  sessionConnected(s: WhepSession): void {
    if (!this.sessions.has(s)) return;
    for (const f of this.gop) s.sendVideo(f);
  }

  /** opusPid is the running Opus transcoder's pid (tests, stats). */
  get opusPid(): number | undefined {
    return this.opus?.pid;
  }

  /** stop detaches from the hub and stops ffmpeg (last viewer left, stream ended, shutdown). */
  stop(): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe();
    this.opus?.stop();
    this.opus = undefined;
    this.gop = [];
  }
}
