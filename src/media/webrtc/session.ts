/**
 * WhepSession: one WebRTC viewer. werift owns ICE (lite), DTLS and SRTP; we hand it RTP packets
 * whose payloads were built once per frame for the whole channel: per viewer only the RTP
 * header (sequence number, timestamp base, SSRC) and the SRTP encryption differ.
 *
 * Timing: RTP timestamps come from the source clock (video pts × 90, audio samples at 48 kHz),
 * each from a random base; sender reports map both to the same wallclock (source ms + the
 * channel's offset), so the browser lines audio up with video.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket, type RTCRtpSender } from 'werift';
import type { Logger } from '../../observability/logger.js';
import { RTP_VIDEO_CLOCK_RATE } from '../../formats/rtp-h264.js';
import { RTP_OPUS_CLOCK_RATE } from '../../formats/rtp-opus.js';
import { chooseCodecs, dropRemoteCandidates, narrowOffer, parseOffer, SdpError, type CodecChoice } from './sdp.js';

/** EndReason says why a session ended (a metrics label). */
export type EndReason = 'deleted' | 'stream_ended' | 'ice_failed' | 'connect_timeout' | 'consent_timeout' | 'shutdown' | 'error';

/** PacketizedFrame is one video access unit as RTP payloads, shared by every viewer. */
export interface PacketizedFrame {
  payloads: Buffer[];
  /** Presentation time in source milliseconds. */
  pts: number;
  keyframe: boolean;
  bytes: number;
}

export interface SessionNetwork {
  iceServers: { urls: string }[];
  icePortRange?: [number, number];
  /** Only host candidates with these addresses go into the answer (empty: all). */
  hostAddresses: string[];
  /** Public address written into the answer's candidates instead of the host's (1:1 NAT). */
  announcedIp?: string;
  iceLite: boolean;
}

/**
 * serverPeerConnection is the peer connection both WebRTC directions use on the server: ICE as
 * the network settings say (lite by default, IPv4, loopback candidates where asked for), H.264
 * with NACK and PLI, Opus stereo at 48 kHz, no header extensions.
 */
export function serverPeerConnection(net: SessionNetwork): RTCPeerConnection {
  const loopback = net.hostAddresses.filter((a) => a.startsWith('127.'));
  return new RTCPeerConnection({
    iceServers: net.iceServers,
    iceLite: net.iceLite,
    iceUseIpv6: false,
    ...(net.icePortRange ? { icePortRange: net.icePortRange } : {}),
    ...(loopback.length > 0 ? { iceAdditionalHostAddresses: loopback } : {}),
    codecs: {
      video: [new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: RTP_VIDEO_CLOCK_RATE, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] })],
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: RTP_OPUS_CLOCK_RATE, channels: 2 })],
    },
    headerExtensions: { video: [], audio: [] },
  });
}

export interface SessionHooks {
  /** ICE and DTLS are up: media may flow. */
  onConnected(s: WhepSession): void;
  onClosed(s: WhepSession, reason: EndReason): void;
  onSent(packets: number, bytes: number): void;
}

const UINT16 = 0x1_0000;
const VIDEO_PER_MS = RTP_VIDEO_CLOCK_RATE / 1000;
/** Seconds between 1900 (NTP epoch) and 1970 (Unix epoch). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;
const TWO_POW_32 = 2 ** 32;
/** RFC 7675 consent freshness: without a sign of life from the browser this long, the session ends. */
export const CONSENT_TIMEOUT_MS = 30_000;
/** Longest wait for candidate gathering before answering with what we have. */
export const GATHER_TIMEOUT_MS = 3000;
/** A session that is not connected this long after the answer is dropped. */
export const CONNECT_TIMEOUT_MS = 20_000;

/** ntpFromUnixMs is a 64-bit NTP timestamp (RFC 3550 4) for a wallclock time in ms. */
export function ntpFromUnixMs(ms: number): bigint {
  const seconds = Math.floor(ms / 1000);
  const frac = Math.floor(((ms - seconds * 1000) / 1000) * TWO_POW_32);
  return (BigInt(seconds + NTP_UNIX_OFFSET_S) << 32n) | BigInt(frac);
}

function random32(): number {
  return randomBytes(4).readUInt32BE(0);
}

/** rewriteCandidates keeps the answer's host candidates on allowed addresses, announced as `announcedIp`. */
export function rewriteCandidates(sdp: string, net: Pick<SessionNetwork, 'hostAddresses' | 'announcedIp'>): string {
  const lines = sdp.split('\r\n');
  const out: string[] = [];
  const seen = new Set<string>();
  for (const line of lines) {
    if (!line.startsWith('a=candidate:')) {
      if (line.startsWith('m=')) seen.clear();
      out.push(line);
      continue;
    }
    const f = line.split(' ');
    // a=candidate:foundation component transport priority address port typ type …
    const [, , , , addr = '', , , typ] = f;
    if (typ === 'host' && net.hostAddresses.length > 0 && !net.hostAddresses.includes(addr)) continue;
    if (net.announcedIp && typ === 'host') f[4] = net.announcedIp;
    const key = `${f[4]} ${f[5]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(f.join(' '));
  }
  return out.join('\r\n');
}

/** VideoSource tells a session about the stream it will play (for codec choice). */
export interface VideoSourceInfo {
  /** profile_idc from the source's avcC. */
  profile?: number;
}

export class WhepSession {
  readonly id = randomUUID();
  readonly etag = `"${randomUUID()}"`;
  readonly createdAt = Date.now();
  private pc: RTCPeerConnection | null = null;
  private video?: RTCRtpSender;
  private audio?: RTCRtpSender;
  private choice?: CodecChoice;
  private videoSeq = random32() % UINT16;
  private videoBase = random32();
  private audioSeq = random32() % UINT16;
  private audioBase = random32();
  /** Waits for a keyframe before sending video (start, or after a gap). */
  private waitingKey = true;
  /** Video has started (audio waits for it, so playback starts together). */
  private started = false;
  private connectTimer: NodeJS.Timeout | null = null;
  private consentTimer: NodeJS.Timeout | null = null;
  private lastHeardAt = Date.now();
  connected = false;
  closed = false;
  /** The service answered this session (it counts in metrics). */
  answered = false;
  hasAudio = false;

  constructor(
    readonly channel: string,
    private readonly net: SessionNetwork,
    private readonly hooks: SessionHooks,
    private readonly logger: Logger,
    /** Source wallclock offset: wall ms = source ms + offset (shared by the channel). */
    private readonly wallOffset: () => number,
  ) {}

  /** answer negotiates an offer and answers with our SDP (all candidates gathered: no trickle). */
  async answer(offerSdp: string, source: VideoSourceInfo): Promise<string> {
    const media = parseOffer(offerSdp);
    const choice = chooseCodecs(media, source.profile);
    const audioSection = media.findIndex((m) => m.kind === 'audio' && m.port !== 0);
    if (audioSection >= 0 && !choice.audio) throw new SdpError('the offer has an audio section without Opus');
    this.choice = choice;
    const keep = new Map<number, number>([[choice.video.index, choice.video.codec.pt]]);
    if (choice.audio) keep.set(choice.audio.index, choice.audio.codec.pt);
    const narrowed = dropRemoteCandidates(narrowOffer(offerSdp, keep), this.net.iceLite);
    const pc = serverPeerConnection(this.net);
    this.pc = pc;
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') this.onConnected();
      else if (state === 'failed') this.close('ice_failed');
      else if (state === 'closed') this.close('ice_failed');
    });
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: narrowed });
      for (const t of pc.getTransceivers()) {
        if (t.kind === 'video' && !this.video) {
          t.setDirection('sendonly');
          this.video = t.sender;
        } else if (t.kind === 'audio' && choice.audio && !this.audio) {
          t.setDirection('sendonly');
          this.audio = t.sender;
        }
      }
      if (!this.video) throw new SdpError('the offer has no video section we can send on');
      this.hasAudio = !!this.audio;
      await pc.setLocalDescription(await pc.createAnswer());
      // Host candidates are ready at once; a STUN server that does not answer must not hold the POST.
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        const t = setTimeout(resolve, GATHER_TIMEOUT_MS);
        pc.iceGatheringStateChange.subscribe((s) => { if (s === 'complete') { clearTimeout(t); resolve(); } });
      });
    } catch (err) {
      await this.teardown();
      throw err;
    }
    for (const sender of [this.video, this.audio]) sender?.onRtcp.subscribe(() => { this.lastHeardAt = Date.now(); });
    this.connectTimer = setTimeout(() => { if (!this.connected) this.close('connect_timeout'); }, CONNECT_TIMEOUT_MS);
    this.connectTimer.unref();
    return rewriteCandidates(pc.localDescription!.sdp, this.net);
  }

  /** videoPayloadType is the H.264 payload type agreed with the browser. */
  get videoPayloadType(): number | undefined {
    return this.choice?.video.codec.pt;
  }

  private onConnected(): void {
    if (this.connected || this.closed) return;
    this.connected = true;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.lastHeardAt = Date.now();
    this.consentTimer = setInterval(() => {
      if (Date.now() - this.lastHeardAt > CONSENT_TIMEOUT_MS) this.close('consent_timeout');
    }, CONSENT_TIMEOUT_MS / 6);
    this.consentTimer.unref();
    this.hooks.onConnected(this);
  }

  /** restartVideo makes the session wait for the next keyframe (the source restarted or we skipped). */
  restartVideo(): void {
    this.waitingKey = true;
  }

  /** sendVideo sends one access unit's shared payloads with this viewer's RTP headers. */
  sendVideo(f: PacketizedFrame): void {
    const sender = this.video;
    if (!this.connected || this.closed || !sender) return;
    if (this.waitingKey) {
      if (!f.keyframe) return;
      this.waitingKey = false;
      this.started = true;
    }
    const timestamp = (this.videoBase + Math.round(f.pts * VIDEO_PER_MS)) >>> 0;
    const last = f.payloads.length - 1;
    for (const [i, payload] of f.payloads.entries()) {
      const header = new RtpHeader({ sequenceNumber: this.videoSeq, timestamp, marker: i === last, payloadType: this.choice!.video.codec.pt });
      this.videoSeq = (this.videoSeq + 1) % UINT16;
      void sender.sendRtp(new RtpPacket(header, payload));
    }
    this.stampSenderReport(sender, f.pts);
    this.hooks.onSent(f.payloads.length, f.bytes);
  }

  /** sendAudio sends one Opus packet; `sample` is its start on the source clock at 48 kHz. */
  sendAudio(data: Buffer, sample: number): void {
    const sender = this.audio;
    if (!this.connected || this.closed || !sender || !this.started) return;
    const timestamp = (this.audioBase + sample) >>> 0;
    const header = new RtpHeader({ sequenceNumber: this.audioSeq, timestamp, marker: false, payloadType: this.choice!.audio!.codec.pt });
    this.audioSeq = (this.audioSeq + 1) % UINT16;
    void sender.sendRtp(new RtpPacket(header, data));
    this.stampSenderReport(sender, sample / (RTP_OPUS_CLOCK_RATE / 1000));
    this.hooks.onSent(1, data.length);
  }

  /**
   * stampSenderReport makes the sender's next RTCP SR map the RTP timestamp just sent to the
   * wallclock of the source time it carries (werift stamps send time, which would put audio,
   * delayed by the transcoder, out of step with video).
   */
  private stampSenderReport(sender: RTCRtpSender, sourceMs: number): void {
    (sender as unknown as { ntpTimestamp: bigint }).ntpTimestamp = ntpFromUnixMs(sourceMs + this.wallOffset());
  }

  /** close ends the session (idempotent) and tells the owner why. */
  close(reason: EndReason): void {
    if (this.closed) return;
    this.closed = true;
    this.logger.debug({ channel: this.channel, session: this.id, reason }, 'WHEP session ended');
    void this.teardown();
    this.hooks.onClosed(this, reason);
  }

  private async teardown(): Promise<void> {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.consentTimer) clearInterval(this.consentTimer);
    this.connectTimer = null;
    this.consentTimer = null;
    const pc = this.pc;
    this.pc = null;
    if (pc) await pc.close().catch(() => undefined);
  }
}
