/**
 * WhipSession: one WHIP publisher (a browser, OBS). werift owns ICE (lite), DTLS and SRTP; the
 * session takes the received RTP/RTCP and hands it to a WhipIngest, which feeds the hub.
 *
 * Ends: DELETE, ICE/DTLS failure, no connection CONNECT_TIMEOUT_MS after the answer, no RTP for
 * media.whip.mediaTimeoutSeconds once connected, the hub kicking the publisher, server stop.
 */
import { randomUUID } from 'node:crypto';
import type { MediaStreamTrack, RTCPeerConnection, RTCRtpTransceiver } from 'werift';
import type { Logger } from '../../observability/logger.js';
import { RTP_VIDEO_CLOCK_RATE } from '../../formats/rtp-h264.js';
import { RTP_OPUS_CLOCK_RATE } from '../../formats/rtp-opus.js';
import { dropRemoteCandidates, narrowOffer, parseOffer, SdpError, type OfferedCodec, type OfferedMedia } from '../webrtc/sdp.js';
import { rewriteCandidates, serverPeerConnection, type SessionNetwork } from '../webrtc/session.js';
import { WhipIngest, type WhipHub } from './ingest.js';
import { droppedSectionsOf } from './dropped.js';
import { withoutSections, withRejectedSections } from './rejected-sections.js';

/** EndReason says why a publish ended (a metrics label). */
export type WhipEndReason = 'deleted' | 'ice_failed' | 'connect_timeout' | 'media_timeout' | 'kicked' | 'conflict' | 'shutdown' | 'error';

/** A session that is not connected this long after the answer is dropped. */
export const WHIP_CONNECT_TIMEOUT_MS = 20_000;
/** Least time between two PLIs (a keyframe takes a moment to arrive). */
export const WHIP_PLI_MIN_INTERVAL_MS = 500;
/** How often the keyframe age and the media timeout are checked. */
const WHIP_KEYFRAME_CHECK_MS = 100;
/** Time a PLI takes to bring a keyframe (asked this much before the interval is up). */
const PLI_LEAD_MS = 150;
/** Seconds between 1900 (NTP epoch) and 1970 (Unix epoch). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;
const TWO_POW_32 = 2 ** 32;
const RTCP_SR = 200;
const PROFILE_CONSTRAINED_BASELINE = '42e01f';

/** ntpToUnixMs turns a 64-bit NTP timestamp into Unix milliseconds. */
export function ntpToUnixMs(ntp: bigint): number {
  const seconds = Number(ntp >> 32n);
  const frac = Number(ntp & 0xffff_ffffn);
  return (seconds - NTP_UNIX_OFFSET_S) * 1000 + (frac / TWO_POW_32) * 1000;
}

export interface IngestChoice {
  video: { index: number; codec: OfferedCodec };
  audio: { index: number; codec: OfferedCodec };
}

/**
 * chooseIngestCodecs picks, in the first video section the peer sends on, an H.264
 * packetization-mode=1 payload type (constrained baseline first: every encoder has it), and
 * Opus in the first audio section it sends on. Either missing → SdpError.
 */
export function chooseIngestCodecs(media: readonly OfferedMedia[]): IngestChoice {
  const sends = (m: OfferedMedia) => m.port !== 0 && (m.direction === 'sendonly' || m.direction === 'sendrecv');
  const vIndex = media.findIndex((m) => m.kind === 'video' && sends(m));
  const video = media[vIndex];
  if (vIndex < 0 || video === undefined) throw new SdpError('the offer has no video section to publish');
  const h264 = video.codecs
    .filter((c) => c.name.toLowerCase() === 'h264' && c.clockRate === RTP_VIDEO_CLOCK_RATE && c.fmtp['packetization-mode'] === '1')
    .map((c, order) => ({ c, order, rank: (c.fmtp['profile-level-id'] ?? '').toLowerCase() === PROFILE_CONSTRAINED_BASELINE ? 0 : 1 }))
    .sort((a, b) => a.rank - b.rank || a.order - b.order);
  const best = h264[0];
  if (best === undefined) throw new SdpError('the offer has no H.264 with packetization-mode=1 (WHIP ingest needs H.264 video)');
  const aIndex = media.findIndex((m) => m.kind === 'audio' && sends(m));
  const opus = media[aIndex]?.codecs.find((c) => c.name.toLowerCase() === 'opus' && c.clockRate === RTP_OPUS_CLOCK_RATE);
  if (!opus) throw new SdpError('the offer has no Opus audio (WHIP ingest needs Opus audio)');
  return { video: { index: vIndex, codec: best.c }, audio: { index: aIndex, codec: opus } };
}

export interface WhipSessionHooks {
  onLive(s: WhipSession): void;
  onClosed(s: WhipSession, reason: WhipEndReason): void;
  onPli(): void;
  onFrame(kind: 'video' | 'audio'): void;
  onAudioFailed(reason: string): void;
  /** Time an audio frame spent in the Opus→AAC transcoder, ms. */
  onAudioDelay?(ms: number): void;
  /** Video RTP packets newly declared lost. */
  onLost(packets: number): void;
}

export interface WhipSessionOptions {
  channel: string;
  hub: WhipHub;
  net: SessionNetwork;
  logger: Logger;
  hooks: WhipSessionHooks;
  mediaTimeoutMs: number;
  /** Ask for a keyframe (PLI) when the last one is this old (0: only after loss). */
  keyframeIntervalMs: number;
  clientIp?: string;
  ffmpeg?: string;
  /** Test hook: video packets for which this answers true are dropped as if lost on the way. */
  dropVideo?: (sequenceNumber: number) => boolean;
}

export class WhipSession {
  readonly id = randomUUID();
  readonly etag = `"${randomUUID()}"`;
  readonly createdAt = Date.now();
  readonly channel: string;
  private pc: RTCPeerConnection | null = null;
  private readonly ingest: WhipIngest;
  private videoTransceiver?: RTCRtpTransceiver;
  private videoSsrc?: number;
  private connectTimer: NodeJS.Timeout | null = null;
  private mediaTimer: NodeJS.Timeout | null = null;
  private lastRtpAt = Date.now();
  private lastPliAt = 0;
  private pliPending: NodeJS.Timeout | null = null;
  private lostReported = 0;
  connected = false;
  closed = false;
  answered = false;
  reason?: WhipEndReason;
  /** The publish reached the hub (its first keyframe arrived). */
  wentLive = false;

  constructor(private readonly o: WhipSessionOptions) {
    this.channel = o.channel;
    this.ingest = new WhipIngest({
      channel: o.channel, hub: o.hub, logger: o.logger,
      ...(o.clientIp ? { clientIp: o.clientIp } : {}),
      ...(o.ffmpeg ? { ffmpeg: o.ffmpeg } : {}),
      requestKeyframe: () => this.requestKeyframe(),
      onEnd: (reason) => this.close(reason === 'channel already live' ? 'conflict' : 'kicked'),
      onLive: () => { this.wentLive = true; o.hooks.onLive(this); },
      onFrame: (kind) => o.hooks.onFrame(kind),
      onAudioFailed: (reason) => o.hooks.onAudioFailed(reason),
      onAudioDelay: (ms) => o.hooks.onAudioDelay?.(ms),
    });
  }

  get clientIp(): string | undefined {
    return this.o.clientIp;
  }

  get live(): boolean {
    return this.ingest.live;
  }

  get stats() {
    const delay = this.ingest.audioDelay;
    return {
      ...this.ingest.videoStats, width: this.ingest.width, height: this.ingest.height, aacPid: this.ingest.aacPid,
      audioDelayMs: delay.lastMs, audioDelayMax3sMs: delay.max3sMs, audioDelayMax10sMs: delay.max10sMs,
    };
  }

  /** answer negotiates a publisher's offer (recvonly H.264 + Opus) and answers with every candidate gathered. */
  async answer(offerSdp: string): Promise<string> {
    const media = parseOffer(offerSdp);
    const choice = chooseIngestCodecs(media);
    // Sections we do not receive on are refused in the answer; the owner's health panel names them.
    for (const t of droppedSectionsOf(media, new Set([choice.video.index, choice.audio.index]))) this.ingest.droppedTrack(t);
    const keep = new Map<number, number>([[choice.video.index, choice.video.codec.pt], [choice.audio.index, choice.audio.codec.pt]]);
    // Every other audio or video section is rejected in the answer (werift would try to receive on it).
    const reject = new Set(media.flatMap((m, i) => ((m.kind === 'audio' || m.kind === 'video') && !keep.has(i) ? [i] : [])));
    const net = this.o.net;
    const narrowed = dropRemoteCandidates(withoutSections(narrowOffer(offerSdp, keep), reject), net.iceLite);
    const pc = serverPeerConnection(net);
    this.pc = pc;
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') this.onConnected();
      else if (state === 'failed' || state === 'closed') this.close('ice_failed');
    });
    pc.onTrack.subscribe((track) => this.onTrack(track));
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: narrowed });
      for (const t of pc.getTransceivers()) {
        if (t.kind === 'video' && !this.videoTransceiver) {
          t.setDirection('recvonly');
          this.videoTransceiver = t;
        } else if (t.kind === 'audio') {
          t.setDirection('recvonly');
        }
      }
      if (!this.videoTransceiver) throw new SdpError('the offer has no video section we can receive on');
      await pc.setLocalDescription(await pc.createAnswer());
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        pc.iceGatheringStateChange.subscribe((s) => { if (s === 'complete') resolve(); });
      });
    } catch (err) {
      await this.teardown();
      throw err;
    }
    // ffmpeg starts while ICE and DTLS connect (closing the session stops it).
    this.ingest.prepareAudio();
    this.connectTimer = setTimeout(() => { if (!this.connected) this.close('connect_timeout'); }, WHIP_CONNECT_TIMEOUT_MS);
    this.connectTimer.unref();
    return withRejectedSections(rewriteCandidates(pc.localDescription!.sdp, net), offerSdp, reject);
  }

  private onTrack(track: MediaStreamTrack): void {
    if (track.kind === 'video') {
      track.onReceiveRtp.subscribe((rtp) => {
        this.lastRtpAt = Date.now();
        this.videoSsrc = rtp.header.ssrc;
        if (this.o.dropVideo?.(rtp.header.sequenceNumber)) return;
        this.ingest.videoPacket({ sequenceNumber: rtp.header.sequenceNumber, timestamp: rtp.header.timestamp, marker: rtp.header.marker, payload: rtp.payload });
      });
    } else if (track.kind === 'audio') {
      track.onReceiveRtp.subscribe((rtp) => {
        this.lastRtpAt = Date.now();
        this.ingest.audioPacket(rtp.payload, rtp.header.timestamp);
      });
    } else {
      return;
    }
    const kind = track.kind;
    track.onReceiveRtcp.subscribe((p) => {
      if (p.type !== RTCP_SR) return;
      const sr = p as unknown as { senderInfo: { ntpTimestamp: bigint; rtpTimestamp: number } };
      this.ingest.senderReport(kind, ntpToUnixMs(sr.senderInfo.ntpTimestamp), sr.senderInfo.rtpTimestamp);
    });
  }

  private onConnected(): void {
    if (this.connected || this.closed) return;
    this.connected = true;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.lastRtpAt = Date.now();
    const keyEvery = this.o.keyframeIntervalMs;
    this.mediaTimer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastRtpAt > this.o.mediaTimeoutMs) return this.close('media_timeout');
      this.ingest.tick();
      this.reportLoss();
      if (keyEvery > 0 && this.ingest.live && now - this.ingest.lastKeyframeAt >= keyEvery - PLI_LEAD_MS) this.requestKeyframe();
    }, WHIP_KEYFRAME_CHECK_MS);
    this.mediaTimer.unref();
  }

  private reportLoss(): void {
    const lost = this.ingest.videoStats.lost;
    if (lost > this.lostReported) this.o.hooks.onLost(lost - this.lostReported);
    this.lostReported = lost;
  }

  /** requestKeyframe sends a PLI now, or once the minimum interval has passed. */
  private requestKeyframe(): void {
    if (this.closed || this.pliPending) return;
    const wait = this.lastPliAt + WHIP_PLI_MIN_INTERVAL_MS - Date.now();
    const send = () => {
      this.pliPending = null;
      const receiver = this.videoTransceiver?.receiver;
      if (this.closed || !receiver || this.videoSsrc === undefined) {
        this.ingest.depacketizer.requestAgain();
        return;
      }
      this.lastPliAt = Date.now();
      this.o.hooks.onPli();
      void receiver.sendRtcpPLI(this.videoSsrc).catch(() => undefined);
      // Ask again if no keyframe comes of it.
      this.ingest.depacketizer.requestAgain();
    };
    if (wait <= 0) send();
    else {
      this.pliPending = setTimeout(send, wait);
      this.pliPending.unref();
    }
  }

  /** close ends the publish (idempotent): the channel goes offline, ffmpeg and the peer connection stop. */
  close(reason: WhipEndReason): void {
    if (this.closed) return;
    this.closed = true;
    this.reason = reason;
    this.reportLoss();
    this.o.logger.info({ channel: this.channel, session: this.id, reason }, 'WHIP publish ended');
    void this.ingest.end(reason === 'deleted' ? 'unpublished' : `whip ${reason}`);
    void this.teardown();
    this.o.hooks.onClosed(this, reason);
  }

  private async teardown(): Promise<void> {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.mediaTimer) clearInterval(this.mediaTimer);
    if (this.pliPending) clearTimeout(this.pliPending);
    this.connectTimer = null;
    this.mediaTimer = null;
    this.pliPending = null;
    const pc = this.pc;
    this.pc = null;
    if (pc) await pc.close().catch(() => undefined);
  }
}
