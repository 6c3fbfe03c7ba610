/**
 * RtspPlayer: one RTSP PLAY session fed by the hub (a StreamSubscriber), writing RTP over the
 * connection's interleaved channels, or as UDP datagrams to the client's ports (RTP/AVP over UDP).
 *
 * Encode once: each frame's RTP payloads (H.264 FU-A/single NAL units, AAC-hbr) are built once
 * and cached on the frame (WeakMap), shared by every player; a player adds only its 16 bytes of
 * '$' header + RTP header per packet and hands the shared payloads to the socket uncopied
 * (header, payload, header, payload, ... written corked, i.e. one writev). The player starts at the GOP cache's keyframe (the hub gives
 * a late subscriber the GOP); audio before the first video keyframe is not sent.
 *
 * Backpressure like HTTP-FLV viewers: past skipBytes queued in the socket the player drops frames
 * until the next keyframe; past maxBytes (or skipping longer than stallMs) it is disconnected.
 * RTCP sender reports (at the start of each track and every SR_INTERVAL_MS) tie both tracks' RTP
 * clocks to one NTP timeline, which is how clients line audio up with video.
 */
import { randomInt } from 'node:crypto';
import { parseAvcDecoderConfig } from '../../formats/avc.js';
import { packetizeH264, RTP_VIDEO_CLOCK_RATE } from '../../formats/rtp-h264.js';
import { AAC_FRAME_SAMPLES, packetizeAac } from '../../formats/rtp-aac.js';
import { encodeRtcpSenderReport, encodeRtpHeader, RTP_HEADER_BYTES } from '../../formats/rtp-packet.js';
import { interleavedHeader, RTSP_INTERLEAVED_HEADER_BYTES, writeInterleavedHeader } from '../../formats/rtsp-message.js';
import type { AudioTrackInfo, MediaFrame, StreamSubscriber, VideoTrackInfo } from '../hub/types.js';

/** RTP payload size we build (the TCP connection has no MTU, but clients' buffers assume ~1500). */
export const RTSP_RTP_MTU = 1400;
export const RTSP_VIDEO_PAYLOAD_TYPE = 96;
export const RTSP_AUDIO_PAYLOAD_TYPE = 97;
const SR_INTERVAL_MS = 5000;

/** The socket side of a player (a net.Socket, or a fake in tests). */
export interface PlayerSink {
  /** write sends the buffers in order as one write (the payloads are shared: never modify them). */
  write(parts: Buffer[]): void;
  /** Bytes accepted but not yet handed to the kernel. */
  queuedBytes(): number;
}

export interface PlayerTrack {
  /** Interleaved channel of RTP (RTCP on channel + 1); unused over UDP. */
  channel: number;
  /** RTP/AVP over UDP: each packet is a datagram to the client's ports instead of a '$' frame. */
  udp?: PlayerUdpTrack;
}

/** PlayerUdpTrack sends one track's datagrams (the parts of one packet, uncopied). */
export interface PlayerUdpTrack {
  rtp(parts: Buffer[]): void;
  rtcp(packet: Buffer): void;
}

export interface RtspPlayerOptions {
  sink: PlayerSink;
  video?: PlayerTrack;
  audio?: PlayerTrack;
  skipBytes: number;
  maxBytes: number;
  stallMs: number;
  /** The player must go: stream ended, tracks changed, or too slow (reason as counted). */
  onEnd(reason: 'stream_ended' | 'tracks_changed' | 'slow_reader', detail: string): void;
  onBytes?(n: number): void;
  now?: () => number;
}

interface TrackState {
  channel: number;
  udp?: PlayerUdpTrack;
  payloadType: number;
  ssrc: number;
  seq: number;
  base: number;
  rate: number;
  packets: number;
  octets: number;
  lastRtp: number;
  lastSr: number;
  /** Media time (ms) of the last frame sent. */
  lastMs: number;
  /** Audio: the RTP timestamp of the next frame when frames are contiguous. */
  nextRtp: number | null;
}

const payloadCache = new WeakMap<MediaFrame, Buffer[]>();

/** videoPayloads gives (and caches) the RTP payloads of a video frame. */
function videoPayloads(frame: MediaFrame, sps: Buffer[], pps: Buffer[], nalLengthSize: number): Buffer[] {
  let p = payloadCache.get(frame);
  if (!p) {
    p = packetizeH264(frame.data, { mtu: RTSP_RTP_MTU, sps, pps, nalLengthSize }).payloads;
    payloadCache.set(frame, p);
  }
  return p;
}

function audioPayloads(frame: MediaFrame): Buffer[] {
  let p = payloadCache.get(frame);
  if (!p) {
    p = packetizeAac([frame.data], RTSP_RTP_MTU);
    payloadCache.set(frame, p);
  }
  return p;
}

export class RtspPlayer implements StreamSubscriber {
  private readonly video: TrackState | null;
  private readonly audio: TrackState | null;
  private sps: Buffer[] = [];
  private pps: Buffer[] = [];
  private nalLengthSize = 4;
  private tracks: { video?: Buffer; audio?: Buffer } | null = null;
  private waitingKey: boolean;
  private slowSince = 0;
  /** Wallclock (ms) that media time 0 maps to in sender reports. */
  private ntpBase: number | null = null;
  private msBase: number | null = null;
  done = false;
  framesSent = 0;
  framesSkipped = 0;

  constructor(private readonly o: RtspPlayerOptions) {
    const track = (t: PlayerTrack | undefined, pt: number, rate: number): TrackState | null =>
      t ? { channel: t.channel, ...(t.udp ? { udp: t.udp } : {}), payloadType: pt, ssrc: randomInt(1, 0xffffffff), seq: randomInt(0, 0xffff), base: randomInt(0, 0xffffffff), rate, packets: 0, octets: 0, lastRtp: 0, lastSr: 0, lastMs: 0, nextRtp: null } : null;
    this.video = track(o.video, RTSP_VIDEO_PAYLOAD_TYPE, RTP_VIDEO_CLOCK_RATE);
    this.audio = track(o.audio, RTSP_AUDIO_PAYLOAD_TYPE, 0);
    this.waitingKey = this.video !== null;
  }

  private now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  /** rtpInfo gives each track's first sequence number and RTP timestamp (PLAY's RTP-Info header). */
  rtpInfo(): { video?: { seq: number; rtptime: number }; audio?: { seq: number; rtptime: number } } {
    return {
      ...(this.video ? { video: { seq: this.video.seq, rtptime: this.video.base } } : {}),
      ...(this.audio ? { audio: { seq: this.audio.seq, rtptime: this.audio.base } } : {}),
    };
  }

  /** setAudioRate fixes the audio RTP clock (the sample rate DESCRIBE announced). */
  setAudioRate(rate: number): void {
    if (this.audio) this.audio.rate = rate;
  }

  onTracks(video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined): void {
    if (this.done) return;
    const next = { ...(video ? { video: video.config } : {}), ...(audio ? { audio: audio.config } : {}) };
    if (this.tracks) {
      const same = (a?: Buffer, b?: Buffer) => (a && b ? a.equals(b) : a === b);
      // A track added later (audio header after video) is fine; a changed codec config is not.
      if ((this.tracks.video && !same(this.tracks.video, next.video)) || (this.tracks.audio && !same(this.tracks.audio, next.audio))) {
        this.finish('tracks_changed', 'the publisher changed its codec configuration');
        return;
      }
    }
    this.tracks = next;
    if (video?.codec === 'avc') {
      try {
        const c = parseAvcDecoderConfig(video.config);
        this.sps = c.sps.map((b) => Buffer.from(b));
        this.pps = c.pps.map((b) => Buffer.from(b));
        this.nalLengthSize = c.nalLengthSize;
      } catch {
        // Keyframes then go without parameter sets in front; the SDP carries them too.
      }
    }
  }

  onFrame(frame: MediaFrame): void {
    if (this.done) return;
    const t = frame.kind === 'video' ? this.video : this.audio;
    if (!t || t.rate === 0) return;
    if (frame.kind === 'video' && this.tracks?.video === undefined) return;
    const queued = this.o.sink.queuedBytes();
    const now = this.now();
    if (queued > this.o.maxBytes || (this.slowSince > 0 && now - this.slowSince > this.o.stallMs)) {
      this.finish('slow_reader', `${queued} bytes queued`);
      return;
    }
    if (queued > this.o.skipBytes) {
      if (this.slowSince === 0) this.slowSince = now;
      if (this.video) this.waitingKey = true;
      this.framesSkipped++;
      return;
    }
    if (this.waitingKey) {
      if (frame.kind !== 'video' || !frame.keyframe) {
        this.framesSkipped++;
        return;
      }
      this.waitingKey = false;
      this.slowSince = 0;
      // After a skip, audio restarts its timestamps from this point.
      if (this.audio) this.audio.nextRtp = null;
    } else {
      this.slowSince = 0;
    }
    let payloads: Buffer[];
    try {
      payloads = frame.kind === 'video' ? videoPayloads(frame, this.sps, this.pps, this.nalLengthSize) : audioPayloads(frame);
    } catch {
      this.framesSkipped++;
      return;
    }
    if (payloads.length === 0) return;
    if (this.ntpBase === null) {
      this.ntpBase = now;
      this.msBase = frame.kind === 'video' ? frame.pts : frame.dts;
    }
    const ms = frame.kind === 'video' ? frame.pts : frame.dts;
    let rtp = (t.base + Math.round(((ms - this.msBase!) * t.rate) / 1000)) >>> 0;
    if (frame.kind === 'audio') {
      // Frames 1024 samples apart keep exact sample timestamps (ms rounding would jitter).
      if (t.nextRtp !== null && Math.abs(((rtp - t.nextRtp) | 0)) < AAC_FRAME_SAMPLES / 2) rtp = t.nextRtp;
      t.nextRtp = (rtp + AAC_FRAME_SAMPLES) >>> 0;
    }
    t.lastRtp = rtp;
    t.lastMs = ms;
    if (t.udp) {
      this.sendUdp(t, t.udp, rtp, payloads, now);
      return;
    }
    const parts: Buffer[] = [];
    if (t.packets === 0 || now - t.lastSr >= SR_INTERVAL_MS) parts.push(this.senderReport(t, now));
    // This player's headers for every packet in one allocation; the payloads stay shared.
    const headerBytes = RTSP_INTERLEAVED_HEADER_BYTES + RTP_HEADER_BYTES;
    const headers = Buffer.allocUnsafe(headerBytes * payloads.length);
    let total = parts.reduce((n, b) => n + b.length, 0);
    payloads.forEach((p, i) => {
      const at = i * headerBytes;
      writeInterleavedHeader(headers, at, t.channel, RTP_HEADER_BYTES + p.length);
      encodeRtpHeader({ marker: i === payloads.length - 1, payloadType: t.payloadType, sequenceNumber: t.seq, timestamp: rtp, ssrc: t.ssrc }, headers, at + RTSP_INTERLEAVED_HEADER_BYTES);
      t.seq = (t.seq + 1) & 0xffff;
      parts.push(headers.subarray(at, at + headerBytes), p);
      total += headerBytes + p.length;
      t.packets++;
      t.octets += p.length;
    });
    this.o.sink.write(parts);
    this.o.onBytes?.(total);
    this.framesSent++;
  }

  /** sendUdp sends a frame's packets as datagrams (an SR first when due), each with this player's RTP header. */
  private sendUdp(t: TrackState, udp: PlayerUdpTrack, rtp: number, payloads: Buffer[], now: number): void {
    let total = 0;
    if (t.packets === 0 || now - t.lastSr >= SR_INTERVAL_MS) {
      const sr = this.rawSenderReport(t, now);
      udp.rtcp(sr);
      total += sr.length;
    }
    const headers = Buffer.allocUnsafe(RTP_HEADER_BYTES * payloads.length);
    payloads.forEach((p, i) => {
      const at = i * RTP_HEADER_BYTES;
      encodeRtpHeader({ marker: i === payloads.length - 1, payloadType: t.payloadType, sequenceNumber: t.seq, timestamp: rtp, ssrc: t.ssrc }, headers, at);
      t.seq = (t.seq + 1) & 0xffff;
      udp.rtp([headers.subarray(at, at + RTP_HEADER_BYTES), p]);
      total += RTP_HEADER_BYTES + p.length;
      t.packets++;
      t.octets += p.length;
    });
    this.o.onBytes?.(total);
    this.framesSent++;
  }

  /** senderReport frames an RTCP SR of a track on its RTCP channel (media time → NTP wallclock). */
  private senderReport(t: TrackState, now: number): Buffer {
    const sr = this.rawSenderReport(t, now);
    return Buffer.concat([interleavedHeader(t.channel + 1, sr.length), sr]);
  }

  private rawSenderReport(t: TrackState, now: number): Buffer {
    t.lastSr = now;
    const ntpMs = (this.ntpBase ?? now) + (t.lastMs - (this.msBase ?? t.lastMs));
    return encodeRtcpSenderReport({ ssrc: t.ssrc, ntpMs, rtpTimestamp: t.lastRtp, packetCount: t.packets, octetCount: t.octets });
  }

  onEnd(reason: string): void {
    this.finish('stream_ended', reason);
  }

  private finish(reason: 'stream_ended' | 'tracks_changed' | 'slow_reader', detail: string): void {
    if (this.done) return;
    this.done = true;
    this.o.onEnd(reason, detail);
  }
}
