/**
 * RtspServer: RTSP 1.0 over TCP (RFC 2326), media as RTP/RTCP interleaved on the same connection
 * or, per track, as RTP/AVP over unicast UDP from a port pair of media.rtsp.udpPortRange.
 *
 *   publish:  OPTIONS → ANNOUNCE rtsp://HOST:8554/live/{streamKey} (SDP: H.264 + AAC mpeg4-generic or MP4A-LATM)
 *             → SETUP per track (RTP/AVP/TCP;interleaved=a-b or RTP/AVP;unicast;client_port=a-b; mode=record)
 *             → RECORD → '$' frames or datagrams (through a jitter buffer; receiver reports back) … → TEARDOWN
 *   play:     OPTIONS → DESCRIBE rtsp://HOST:8554/live/{channel} (SDP from the hub's codec headers)
 *             → SETUP per track (interleaved or client_port) → PLAY → '$' frames or datagrams … → TEARDOWN
 *
 * A UDP track's sockets only take datagrams from the RTSP connection's address; they are closed when
 * the session ends (TEARDOWN, connection closed, session timeout, kick), and datagrams keep the
 * session alive like interleaved frames do.
 *
 * Refusals (status, reason phrase; docs/rtsp.md): missing or wrong stream key 403, publish refused
 * by a guard or media.onPublishUrl 403, channel already live 409, callback down 503, channel not
 * live 404, no H.264/AAC track 415, multicast (or UDP when no port range is set) 461, no free UDP port pair 453, a method in the wrong state
 * 455, an unknown session 454, unknown method 501, a malformed request 400 (and the connection is
 * closed), too many connections 503. Interleaved frames on channels nobody set up are ignored.
 * A session that sends nothing (no request, no RTP/RTCP) for sessionTimeoutMs is closed.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import prom from 'prom-client';
import type { Logger } from '../../observability/logger.js';
import { metricOnce } from '../../observability/metrics.js';
import { parseAvcDecoderConfig } from '../../formats/avc.js';
import dgram from 'node:dgram';
import { encodeRtcpReceiverReport, NTP_UNIX_OFFSET_SECONDS, parseRtcpSenderReports, parseRtpPacket, type RtpPacket } from '../../formats/rtp-packet.js';
import {
  parseTransportHeader, RtspParseError, RtspParser, serializeResponse, sessionIdOf, type RtspHeaderList, type RtspMessage, type RtspRequest,
} from '../../formats/rtsp-message.js';
import { buildSdp, h264Params, parseSdp, resolveControl, SdpRtspError, type SdpMedia } from '../../formats/sdp-rtsp.js';
import { AAC_RTP_ENCODINGS, aacAudioOf, type RtspAacAudio } from './aac-audio.js';
import type { PublishAuthResult } from '../rtmp/session.js';
import { DROP_EXTRA_TRACK, DROP_UNSUPPORTED_CODEC, DROP_UNSUPPORTED_PARAMETERS, type DroppedTrack, type PlaybackHub, type VideoTrackInfo, type AudioTrackInfo } from '../hub/types.js';
import { RtspIngest, type RtspHub } from './ingest.js';
import { droppedMediaOf } from './dropped.js';
import { RtspPlayer, RTSP_AUDIO_PAYLOAD_TYPE, RTSP_VIDEO_PAYLOAD_TYPE } from './player.js';
import { ProxyProtocolGate, type ProxyProtocolOptions } from '../proxy-protocol-gate.js';
import type { Lease } from '../../net/connection-limits.js';
import { ListenerLimits } from '../../net/listener-limits.js';
import { mediaTypeOf } from '../../net/media-type.js';
import { RtpReorderBuffer } from './reorder.js';
import { UdpPortPool, type UdpPair } from './udp-ports.js';

/** The application path: rtsp://HOST:PORT/live/{streamKey | channel}. */
export const RTSP_APP = 'live';
const CHANNEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const PUBLIC_METHODS = 'OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, RECORD, TEARDOWN, GET_PARAMETER, SET_PARAMETER';
const SERVER_NAME = 'onair';
const SDP_TYPE = 'application/sdp';
/** How often publishers' H.264 reorder holes are expired. */
const TICK_MS = 100;
/** UDP publish: packets held waiting for a missing one at most, and for how long, before it counts as lost. */
const UDP_REORDER_MAX_PACKETS = 64;
const UDP_REORDER_MAX_WAIT_MS = 150;
/** UDP publish: how often a receiver report goes back to the sender. */
const RECEIVER_REPORT_INTERVAL_MS = 5000;

export type RtspSessionKind = 'publish' | 'play';
/** Reasons a request or connection is refused (metric label). */
export type RtspRefusal = 'key' | 'live' | 'refused' | 'unavailable' | 'not_found' | 'unsupported_media' | 'transport' | 'bad_request' | 'state' | 'session' | 'method' | 'overload';

export interface RtspMetrics {
  sessions: prom.Gauge<'kind'>;
  bytesIn: prom.Counter;
  bytesOut: prom.Counter;
  refused: prom.Counter<'reason'>;
  ended: prom.Counter<'kind' | 'reason'>;
}

/** rtspMetrics registers (once per registry) the RTSP metrics. */
export function rtspMetrics(registry: prom.Registry): RtspMetrics {
  const r = [registry];
  return {
    sessions: metricOnce(registry, 'onair_rtsp_sessions', () => new prom.Gauge({ name: 'onair_rtsp_sessions', help: 'RTSP sessions recording or playing now, by kind.', labelNames: ['kind'], registers: r })),
    bytesIn: metricOnce(registry, 'onair_rtsp_received_bytes_total', () => new prom.Counter({ name: 'onair_rtsp_received_bytes_total', help: 'Bytes received on RTSP connections (requests and interleaved RTP/RTCP).', registers: r })),
    bytesOut: metricOnce(registry, 'onair_rtsp_sent_bytes_total', () => new prom.Counter({ name: 'onair_rtsp_sent_bytes_total', help: 'Bytes of RTP/RTCP sent to RTSP players.', registers: r })),
    refused: metricOnce(registry, 'onair_rtsp_refused_total', () => new prom.Counter({ name: 'onair_rtsp_refused_total', help: 'RTSP requests refused, by reason.', labelNames: ['reason'], registers: r })),
    ended: metricOnce(registry, 'onair_rtsp_sessions_ended_total', () => new prom.Counter({ name: 'onair_rtsp_sessions_ended_total', help: 'RTSP sessions ended, by kind and reason.', labelNames: ['kind', 'reason'], registers: r })),
  };
}

export interface RtspServerOptions {
  logger: Logger;
  /** media.proxyProtocol: a TCP load balancer in front sends the client's address first. */
  proxyProtocol?: ProxyProtocolOptions;
  /** The hub: publishes claim channels in it, players subscribe (to local or edge streams: PlaybackHub). */
  hub: RtspHub & PlaybackHub;
  authorizePublish(key: string, clientIp: string): Promise<PublishAuthResult>;
  unpublished?(channel: string, clientIp: string, reason: string): void;
  registry?: prom.Registry;
  /** Close a session after this long without a request or RTP/RTCP from the client. */
  sessionTimeoutMs: number;
  /** Open connections at most (the global cap); more get 503. */
  maxConnections: number;
  /** Open connections from one client address (IPv6: one /64) at most (limits.rtsp.perIp; 0: no cap); more get 503. */
  maxConnectionsPerIp?: number;
  /** limits.exempt: addresses that skip the per-address cap. */
  exempt?: readonly string[];
  maxHeaderBytes: number;
  maxBodyBytes: number;
  /** Player backpressure (media.viewerQueueSkipBytes / viewerQueueMaxBytes / viewerStallSeconds). */
  skipBytes: number;
  maxBytes: number;
  stallMs: number;
  /** B-frame reorder delay for H.264 above Baseline (frames). */
  reorderFrames: number;
  /** media.rtsp.udpPortRange: RTP/AVP over UDP from these ports; absent, only TCP interleaved is offered (461). */
  udpPortRange?: string;
}

/** UdpTrack is a track set up over UDP: our port pair and where the client receives. */
interface UdpTrack {
  pair: UdpPair;
  address: string;
  clientRtp: number;
  clientRtcp: number;
  /** Publish: the jitter buffer, our receiver-report SSRC, the last sender report (for LSR/DLSR). */
  reorder?: RtpReorderBuffer;
  ssrc: number;
  lastSr?: { mid: number; at: number };
  lastRr: number;
}

interface SetupTrack {
  kind: 'video' | 'audio';
  control: string;
  /** Interleaved RTP channel (TCP); RTCP is channel + 1. */
  channel?: number;
  udp?: UdpTrack;
}

const isSetUp = (t: SetupTrack): boolean => t.channel !== undefined || t.udp !== undefined;

/** middleNtp gives the middle 32 bits of an NTP timestamp (RFC 3550 LSR) from Unix ms. */
function middleNtp(ntpMs: number): number {
  const secs = Math.floor(ntpMs / 1000) + NTP_UNIX_OFFSET_SECONDS;
  const frac = Math.floor(((ntpMs % 1000) / 1000) * 65536);
  return (((secs & 0xffff) << 16) | (frac & 0xffff)) >>> 0;
}

interface PublishState {
  kind: 'publish';
  id: string;
  channel: string;
  ingest: RtspIngest;
  tracks: SetupTrack[];
  recording: boolean;
}

interface PlayState {
  kind: 'play';
  id: string;
  channel: string;
  video?: VideoTrackInfo;
  audio?: AudioTrackInfo;
  tracks: SetupTrack[];
  player?: RtspPlayer;
  unsubscribe?: () => void;
}

function newSessionId(): string {
  return randomBytes(8).toString('hex');
}

/** pathOf splits an rtsp:// URL's path ("/live/x/trackID=0" → ["live", "x", "trackID=0"]); null if it is not a URL. */
function pathOf(uri: string): string[] | null {
  try {
    const u = new URL(uri);
    if (u.protocol !== 'rtsp:' && u.protocol !== 'rtsps:') return null;
    return u.pathname.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  } catch {
    return null;
  }
}

/** trackOf finds the media type of an H.264 or AAC section. */
function trackKind(m: SdpMedia): { kind: 'video' | 'audio'; pt: number } | null {
  for (const pt of m.payloadTypes) {
    const map = m.rtpmap.get(pt);
    if (!map) continue;
    const enc = map.encoding.toUpperCase();
    if (m.type === 'video' && enc === 'H264') return { kind: 'video', pt };
    if (m.type === 'audio' && AAC_RTP_ENCODINGS.has(enc)) return { kind: 'audio', pt };
  }
  return null;
}

class Refusal extends Error {
  constructor(readonly status: number, readonly reason: RtspRefusal, readonly phrase: string) {
    super(phrase);
  }
}

export class RtspConnection {
  private readonly parser: RtspParser;
  private state: PublishState | PlayState | null = null;
  /** Interleaved channel → what it carries. */
  private readonly channels = new Map<number, { kind: 'video' | 'audio'; rtcp: boolean }>();
  private lastActivity = Date.now();
  /** Requests are answered in order (ANNOUNCE awaits the publish check). */
  private queue: Promise<void> = Promise.resolve();
  closed = false;
  readonly clientIp: string;

  constructor(private readonly server: RtspServer, readonly socket: net.Socket, clientIp: string) {
    this.clientIp = clientIp;
    const o = server.o;
    this.parser = new RtspParser({ onMessage: (m) => this.onMessage(m), maxHeaderBytes: o.maxHeaderBytes, maxBodyBytes: o.maxBodyBytes });
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => this.close('socket error'));
    socket.on('close', () => this.close('connection closed'));
  }

  get kind(): RtspSessionKind | null {
    return this.state?.kind ?? null;
  }

  get channel(): string | null {
    return this.state?.channel ?? null;
  }

  get idleMs(): number {
    return Date.now() - this.lastActivity;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastActivity = Date.now();
    this.server.metrics.bytesIn.inc(chunk.length);
    try {
      this.parser.push(chunk);
    } catch (err) {
      const reason = err instanceof RtspParseError ? err.message : 'bad request';
      this.server.metrics.refused.inc({ reason: 'bad_request' });
      this.server.o.logger.info({ clientIp: this.clientIp, err: reason }, 'RTSP: malformed request; closing');
      this.send(serializeResponse(400, {}, Buffer.alloc(0), `Bad Request (${reason.replace(/^rtsp: /, '')})`));
      this.close('malformed request', true);
    }
  }

  private onMessage(m: RtspMessage): void {
    if (this.closed) return;
    if (m.kind === 'interleaved') {
      this.onInterleaved(m.channel, m.payload);
      return;
    }
    if (m.kind === 'response') return; // answers to requests we never send
    this.queue = this.queue.then(() => this.handle(m)).catch((err: unknown) => {
      this.server.o.logger.warn({ err: (err as Error).message, clientIp: this.clientIp }, 'RTSP request failed');
      this.reply(m, 500, {});
    });
  }

  private onInterleaved(channel: number, payload: Buffer): void {
    const st = this.state;
    const ch = this.channels.get(channel);
    if (!ch || !st) return;
    if (st.kind !== 'publish' || !st.recording) return; // players' RTCP receiver reports only keep the session alive
    if (ch.rtcp) {
      st.ingest.rtcp(ch.kind, payload);
      return;
    }
    let p: RtpPacket;
    try {
      p = parseRtpPacket(payload);
    } catch {
      return;
    }
    if (ch.kind === 'video') st.ingest.videoPacket(p);
    else st.ingest.audioPacket(p);
  }

  private send(b: Buffer): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(b);
  }

  /** sendAll writes buffers corked, so the kernel gets them in one writev without copying them together. */
  private sendAll(parts: Buffer[]): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.cork();
    for (const p of parts) this.socket.write(p);
    this.socket.uncork();
  }

  private reply(req: RtspRequest, status: number, headers: RtspHeaderList, body?: Buffer | string, phrase?: string): void {
    const h: RtspHeaderList = { ...(req.headers['cseq'] !== undefined ? { CSeq: req.headers['cseq'] } : {}), Server: SERVER_NAME, ...headers };
    this.send(serializeResponse(status, h, body, phrase));
  }

  private refuse(req: RtspRequest, r: Refusal): void {
    this.server.metrics.refused.inc({ reason: r.reason });
    // The path may hold a stream key: only the method goes to the log.
    this.server.o.logger.info({ clientIp: this.clientIp, method: req.method, status: r.status, reason: r.phrase }, 'RTSP request refused');
    this.reply(req, r.status, {}, undefined, r.phrase);
  }

  private sessionHeader(id: string): string {
    return `${id};timeout=${Math.round(this.server.o.sessionTimeoutMs / 1000)}`;
  }

  private async handle(req: RtspRequest): Promise<void> {
    if (this.closed) return;
    try {
      await this.dispatch(req);
    } catch (err) {
      if (err instanceof Refusal) this.refuse(req, err);
      else throw err;
    }
  }

  private checkSession(req: RtspRequest): void {
    const id = sessionIdOf(req.headers['session']);
    if (id !== undefined && this.state && id !== this.state.id) throw new Refusal(454, 'session', 'Session Not Found');
  }

  private async dispatch(req: RtspRequest): Promise<void> {
    switch (req.method) {
      case 'OPTIONS':
        this.reply(req, 200, { Public: PUBLIC_METHODS });
        return;
      case 'GET_PARAMETER':
      case 'SET_PARAMETER':
        this.checkSession(req);
        this.reply(req, 200, this.state ? { Session: this.sessionHeader(this.state.id) } : {});
        return;
      case 'ANNOUNCE':
        return this.announce(req);
      case 'DESCRIBE':
        return this.describe(req);
      case 'SETUP':
        return this.setup(req);
      case 'RECORD':
        return this.record(req);
      case 'PLAY':
        return this.play(req);
      case 'TEARDOWN':
        this.checkSession(req);
        this.reply(req, 200, {});
        this.endSession('teardown');
        return;
      default:
        this.server.metrics.refused.inc({ reason: 'method' });
        this.reply(req, 501, { Public: PUBLIC_METHODS }, undefined, `Not Implemented (${req.method.slice(0, 32)})`);
    }
  }

  /** appName gives the second path segment of rtsp://HOST/live/{name}[/...]. */
  private nameOf(req: RtspRequest): string {
    const path = pathOf(req.uri);
    if (!path || path[0] !== RTSP_APP || !path[1]) throw new Refusal(404, 'not_found', `Not Found (use rtsp://HOST:PORT/${RTSP_APP}/{name})`);
    return path[1];
  }

  private async announce(req: RtspRequest): Promise<void> {
    if (this.state) throw new Refusal(455, 'state', 'Method Not Valid in This State (a session is open on this connection)');
    const key = this.nameOf(req);
    const type = mediaTypeOf(req.headers['content-type'] ?? '');
    if (type !== SDP_TYPE) throw new Refusal(415, 'unsupported_media', 'Unsupported Media Type (ANNOUNCE needs an application/sdp body)');
    let video: { sps?: Buffer; pps?: Buffer } | undefined;
    let audio: RtspAacAudio | undefined;
    let audioRefused: string | undefined;
    const tracks: SetupTrack[] = [];
    const dropped: DroppedTrack[] = [];
    try {
      const sdp = parseSdp(req.body.toString('utf8'));
      const base = req.headers['content-base'] ?? req.uri;
      for (const m of sdp.media) {
        const t = trackKind(m);
        if (!t || (t.kind === 'video' && video) || (t.kind === 'audio' && audio)) {
          dropped.push(droppedMediaOf(m, t ? DROP_EXTRA_TRACK : DROP_UNSUPPORTED_CODEC));
          continue;
        }
        if (t.kind === 'video' && !video) {
          const h = h264Params(m.fmtp.get(t.pt));
          if (h.packetizationMode > 1) throw new SdpRtspError('H.264 packetization-mode 2 (interleaved) is not supported');
          video = { ...(h.sps ? { sps: h.sps } : {}), ...(h.pps ? { pps: h.pps } : {}) };
          tracks.push({ kind: 'video', control: resolveControl(base, m.control) });
        } else if (t.kind === 'audio' && !audio) {
          try {
            audio = aacAudioOf(m, t.pt);
          } catch (err) {
            // AAC whose parameters cannot be read: the stream goes on without it, and the owner is told.
            if (!(err instanceof SdpRtspError)) throw err;
            const codec = m.rtpmap.get(t.pt)?.encoding.toLowerCase() ?? 'aac';
            dropped.push({ kind: 'audio', codec, reason: DROP_UNSUPPORTED_PARAMETERS });
            audioRefused = err.message;
            this.server.o.logger.warn({ clientIp: this.clientIp, codec, err: err.message }, 'RTSP publish: audio track not taken');
            continue;
          }
          tracks.push({ kind: 'audio', control: resolveControl(base, m.control) });
        }
      }
    } catch (err) {
      if (err instanceof SdpRtspError) throw new Refusal(415, 'unsupported_media', `Unsupported Media Type (${err.message})`);
      throw err;
    }
    if (!video && !audio) throw new Refusal(415, 'unsupported_media', `Unsupported Media Type (${audioRefused ?? 'no H.264 or AAC (mpeg4-generic, MP4A-LATM) track'})`);
    const auth = await this.server.o.authorizePublish(key, this.clientIp);
    if (this.closed) return;
    if (!auth.ok) {
      const status = { key: 403, live: 409, refused: 403, unavailable: 503 }[auth.kind];
      const words = { key: 'Forbidden', live: 'Conflict', refused: 'Forbidden', unavailable: 'Service Unavailable' }[auth.kind];
      throw new Refusal(status, auth.kind, `${words} (${auth.reason})`);
    }
    const channel = auth.channel;
    const ingest = new RtspIngest({
      channel, hub: this.server.o.hub, logger: this.server.o.logger, clientIp: this.clientIp,
      ...(video ? { video } : {}), ...(audio ? { audio } : {}), dropped, reorderFrames: this.server.o.reorderFrames,
      onEnd: (reason) => this.close(`kicked: ${reason}`, true),
    });
    this.state = { kind: 'publish', id: newSessionId(), channel, ingest, tracks, recording: false };
    this.reply(req, 200, {});
  }

  private async describe(req: RtspRequest): Promise<void> {
    const channel = this.nameOf(req);
    // Not live here: maybe on another media node, which the edge pull brings here.
    const open = CHANNEL_NAME.test(channel) && (await this.server.o.hub.openForPlay(channel));
    if (this.closed) return;
    const tracks = open ? this.currentTracks(channel) : null;
    if (!tracks || (!tracks.video && !tracks.audio)) throw new Refusal(404, 'not_found', `Not Found (channel ${channel.slice(0, 64)} is not live)`);
    const base = req.uri.replace(/\/+$/, '');
    const sdp = this.sdpFor(channel, tracks);
    if (!sdp) throw new Refusal(415, 'unsupported_media', `Unsupported Media Type (channel ${channel} is not H.264/AAC)`);
    this.reply(req, 200, { 'Content-Base': `${base}/`, 'Content-Type': SDP_TYPE }, sdp);
  }

  private currentTracks(channel: string): { video?: VideoTrackInfo; audio?: AudioTrackInfo } | null {
    if (!this.server.o.hub.playable(channel)) return null;
    let got: { video?: VideoTrackInfo; audio?: AudioTrackInfo } = {};
    // The hub hands a new subscriber the current codec headers at once.
    const off = this.server.o.hub.subscribe(channel, {
      onTracks: (v, a) => { got = { ...(v ? { video: v } : {}), ...(a ? { audio: a } : {}) }; },
      onFrame: () => {},
    }, { playback: true });
    off();
    return got;
  }

  private sdpFor(channel: string, t: { video?: VideoTrackInfo; audio?: AudioTrackInfo }): string | null {
    let video: { payloadType: number; control: string; sps: Buffer; pps: Buffer } | undefined;
    if (t.video?.codec === 'avc') {
      try {
        const c = parseAvcDecoderConfig(t.video.config);
        if (c.sps[0] && c.pps[0]) video = { payloadType: RTSP_VIDEO_PAYLOAD_TYPE, control: 'trackID=0', sps: c.sps[0], pps: c.pps[0] };
      } catch {
        video = undefined;
      }
    }
    const audio = t.audio?.codec === 'aac'
      ? { payloadType: RTSP_AUDIO_PAYLOAD_TYPE, control: 'trackID=1', sampleRate: t.audio.sampleRate, channels: t.audio.channels, config: t.audio.config }
      : undefined;
    if (!video && !audio) return null;
    return buildSdp({ sessionId: String(Date.now()), address: '0.0.0.0', name: channel, ...(video ? { video } : {}), ...(audio ? { audio } : {}) });
  }

  private async setup(req: RtspRequest): Promise<void> {
    this.checkSession(req);
    const specs = parseTransportHeader(req.headers['transport'] ?? '');
    const udpPorts = this.server.udpPorts;
    // The client's first transport onair offers: TCP interleaved, or unicast UDP with its ports.
    const spec = specs.find((s) => s.protocol.startsWith('RTP/AVP') && (s.lowerTransport === 'TCP' || (udpPorts !== null && s.unicast && s.clientPort !== undefined)));
    if (!spec) {
      throw new Refusal(461, 'transport', udpPorts
        ? 'Unsupported Transport (RTP/AVP over TCP interleaved or unicast UDP with client_port; no multicast)'
        : 'Unsupported Transport (only RTP/AVP/TCP interleaved; use TCP, e.g. ffmpeg -rtsp_transport tcp)');
    }
    let st = this.state;
    if (!st) {
      // A player's first SETUP opens its session.
      const path = pathOf(req.uri);
      const channel = path?.[0] === RTSP_APP ? path[1] : undefined;
      const tracks = channel && CHANNEL_NAME.test(channel) ? this.currentTracks(channel) : null;
      if (!channel || !tracks || (!tracks.video && !tracks.audio)) throw new Refusal(404, 'not_found', `Not Found (channel ${String(channel).slice(0, 64)} is not live)`);
      const base = req.uri.replace(/\/trackID=\d+\/?$/, '');
      const setupTracks: SetupTrack[] = [];
      if (tracks.video?.codec === 'avc') setupTracks.push({ kind: 'video', control: `${base}/trackID=0` });
      if (tracks.audio?.codec === 'aac') setupTracks.push({ kind: 'audio', control: `${base}/trackID=1` });
      st = this.state = { kind: 'play', id: newSessionId(), channel, ...(tracks.video ? { video: tracks.video } : {}), ...(tracks.audio ? { audio: tracks.audio } : {}), tracks: setupTracks };
    }
    const track = this.trackFor(st, req.uri);
    if (!track) throw new Refusal(404, 'not_found', 'Not Found (no such track)');
    if (st.kind === 'publish' && st.recording) throw new Refusal(455, 'state', 'Method Not Valid in This State (already recording)');
    if (st.kind === 'play' && st.player) throw new Refusal(455, 'state', 'Method Not Valid in This State (already playing)');
    const mode = st.kind === 'publish' ? ';mode=record' : '';
    if (spec.lowerTransport === 'UDP' && spec.clientPort && udpPorts) {
      const pair = await udpPorts.allocate();
      if (!pair) throw new Refusal(453, 'transport', 'Not Enough Bandwidth (no free UDP port pair; use TCP)');
      if (this.closed || this.state !== st) {
        udpPorts.release(pair);
        return;
      }
      this.dropTransport(track);
      const [clientRtp, clientRtcp] = spec.clientPort;
      const udp: UdpTrack = {
        pair, address: this.peerAddress(pair), clientRtp, clientRtcp, ssrc: randomBytes(4).readUInt32BE(0), lastRr: Date.now(),
        ...(st.kind === 'publish' ? { reorder: new RtpReorderBuffer({ maxHeld: UDP_REORDER_MAX_PACKETS, maxWaitMs: UDP_REORDER_MAX_WAIT_MS }) } : {}),
      };
      track.udp = udp;
      const kind = track.kind;
      for (const [sock, rtcp] of [[pair.rtp, false], [pair.rtcp, true]] as const) {
        sock.on('error', () => undefined); // ICMP unreachable from a player gone away; the session timeout ends it
        sock.on('message', (msg, rinfo) => this.onUdp(kind, udp, rtcp, msg, rinfo));
      }
      this.reply(req, 200, {
        Transport: `RTP/AVP;unicast;client_port=${clientRtp}-${clientRtcp};server_port=${pair.port}-${pair.port + 1}${mode}`,
        Session: this.sessionHeader(st.id),
      });
      return;
    }
    let ch = spec.interleaved?.[0];
    if (ch === undefined || ch > 254 || this.channels.has(ch) || this.channels.has(ch + 1)) {
      ch = 0;
      while (this.channels.has(ch) || this.channels.has(ch + 1)) ch += 2;
    }
    this.dropTransport(track);
    track.channel = ch;
    this.channels.set(ch, { kind: track.kind, rtcp: false });
    this.channels.set(ch + 1, { kind: track.kind, rtcp: true });
    this.reply(req, 200, { Transport: `RTP/AVP/TCP;unicast;interleaved=${ch}-${ch + 1}${mode}`, Session: this.sessionHeader(st.id) });
  }

  /** dropTransport undoes a track's earlier SETUP (a client may SETUP a track again). */
  private dropTransport(track: SetupTrack): void {
    if (track.channel !== undefined) {
      this.channels.delete(track.channel);
      this.channels.delete(track.channel + 1);
      delete track.channel;
    }
    if (track.udp) {
      this.server.udpPorts?.release(track.udp.pair);
      delete track.udp;
    }
  }

  /**
   * peerAddress is where datagrams to the client go, in the pair's family: the client's address (behind a
   * PROXY-protocol balancer the one its header named, since UDP does not pass the balancer).
   */
  private peerAddress(pair: UdpPair): string {
    return pair.rtp.address().family === 'IPv4' ? this.clientIp.replace(/^::ffff:/i, '') : this.clientIp;
  }

  /** onUdp takes a datagram on a track's port pair: only from the client's address; RTP/RTCP of a publish go to the ingest. */
  private onUdp(kind: 'video' | 'audio', udp: UdpTrack, rtcp: boolean, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed || rinfo.address.replace(/^::ffff:/i, '') !== udp.address.replace(/^::ffff:/i, '')) return;
    this.lastActivity = Date.now();
    this.server.metrics.bytesIn.inc(msg.length);
    const st = this.state;
    if (!st || st.kind !== 'publish' || !st.recording) return; // players' receiver reports only keep the session alive
    if (rtcp) {
      const sr = parseRtcpSenderReports(msg)[0];
      if (sr) udp.lastSr = { mid: middleNtp(sr.ntpMs), at: Date.now() };
      st.ingest.rtcp(kind, msg);
      return;
    }
    let p: RtpPacket;
    try {
      p = parseRtpPacket(msg);
    } catch {
      return;
    }
    for (const q of udp.reorder?.push(p, Date.now()) ?? [p]) this.ingestPacket(st, kind, q);
  }

  private ingestPacket(st: PublishState, kind: 'video' | 'audio', p: RtpPacket): void {
    if (kind === 'video') st.ingest.videoPacket(p);
    else st.ingest.audioPacket(p);
  }

  /** udpTick releases packets held too long behind a loss and sends receiver reports (UDP publish). */
  private udpTick(st: PublishState, now: number): void {
    for (const t of st.tracks) {
      const u = t.udp;
      if (!u?.reorder) continue;
      for (const p of u.reorder.expire(now)) this.ingestPacket(st, t.kind, p);
      if (now - u.lastRr < RECEIVER_REPORT_INTERVAL_MS || u.reorder.stats.received === 0) continue;
      u.lastRr = now;
      const r = u.reorder.report();
      const rr = encodeRtcpReceiverReport(u.ssrc, [{
        ssrc: u.reorder.ssrc, ...r, jitter: 0,
        lastSr: u.lastSr?.mid ?? 0, delaySinceLastSr: u.lastSr ? Math.round(((now - u.lastSr.at) / 1000) * 65536) : 0,
      }]);
      u.pair.rtcp.send(rr, u.clientRtcp, u.address);
    }
  }

  /** trackFor matches a SETUP URL to a track by its control URL, else to the first track not set up yet. */
  private trackFor(st: PublishState | PlayState, uri: string): SetupTrack | undefined {
    const clean = (s: string) => s.replace(/\/+$/, '');
    return st.tracks.find((t) => clean(t.control) === clean(uri))
      ?? st.tracks.find((t) => clean(uri).endsWith('/' + clean(t.control).split('/').pop()!))
      ?? (st.tracks.length === 1 ? st.tracks[0] : st.tracks.find((t) => !isSetUp(t)));
  }

  private record(req: RtspRequest): void {
    this.checkSession(req);
    const st = this.state;
    if (!st || st.kind !== 'publish') throw new Refusal(455, 'state', 'Method Not Valid in This State (ANNOUNCE and SETUP first)');
    if (!st.tracks.some(isSetUp)) throw new Refusal(455, 'state', 'Method Not Valid in This State (SETUP a track first)');
    if (st.recording) {
      this.reply(req, 200, { Session: this.sessionHeader(st.id) });
      return;
    }
    if (!st.ingest.claim()) throw new Refusal(409, 'live', `Conflict (channel ${st.channel} is already publishing)`);
    st.recording = true;
    this.server.sessionStarted(this, 'publish');
    this.server.o.logger.info({ channel: st.channel, clientIp: this.clientIp, tracks: st.tracks.filter(isSetUp).map((t) => `${t.kind}/${t.udp ? 'udp' : 'tcp'}`) }, 'RTSP publish started');
    this.reply(req, 200, { Session: this.sessionHeader(st.id) });
  }

  private play(req: RtspRequest): void {
    this.checkSession(req);
    const st = this.state;
    if (!st || st.kind !== 'play') throw new Refusal(455, 'state', 'Method Not Valid in This State (DESCRIBE and SETUP first)');
    if (st.player) {
      this.reply(req, 200, { Session: this.sessionHeader(st.id) });
      return;
    }
    const v = st.tracks.find((t) => t.kind === 'video' && isSetUp(t));
    const a = st.tracks.find((t) => t.kind === 'audio' && isSetUp(t));
    if (!v && !a) throw new Refusal(455, 'state', 'Method Not Valid in This State (SETUP a track first)');
    if (!this.server.o.hub.playable(st.channel)) throw new Refusal(404, 'not_found', `Not Found (channel ${st.channel} is not live)`);
    const o = this.server.o;
    const playerTrack = (t: SetupTrack) => {
      const u = t.udp;
      if (!u) return { channel: t.channel ?? 0 };
      return { channel: 0, udp: { rtp: (parts: Buffer[]) => u.pair.rtp.send(parts, u.clientRtp, u.address), rtcp: (b: Buffer) => u.pair.rtcp.send(b, u.clientRtcp, u.address) } };
    };
    // UDP has no backpressure to speak of: what the kernel has not sent yet stands in for the socket queue.
    const udpQueued = (): number => st.tracks.reduce((n, t) => n + (t.udp ? t.udp.pair.rtp.getSendQueueSize() : 0), 0);
    const player = new RtspPlayer({
      sink: { write: (parts) => this.sendAll(parts), queuedBytes: () => this.socket.writableLength + udpQueued() },
      ...(v ? { video: playerTrack(v) } : {}),
      ...(a ? { audio: playerTrack(a) } : {}),
      skipBytes: o.skipBytes, maxBytes: o.maxBytes, stallMs: o.stallMs,
      onBytes: (n) => this.server.metrics.bytesOut.inc(n),
      onEnd: (reason, detail) => {
        this.server.endedReason(this, reason);
        o.logger.info({ channel: st.channel, clientIp: this.clientIp, reason, detail }, 'RTSP player ended');
        this.close(reason, true);
      },
    });
    if (st.audio) player.setAudioRate(st.audio.sampleRate);
    st.player = player;
    const info = player.rtpInfo();
    const rtpInfo = [
      ...(v && info.video ? [`url=${v.control};seq=${info.video.seq};rtptime=${info.video.rtptime}`] : []),
      ...(a && info.audio ? [`url=${a.control};seq=${info.audio.seq};rtptime=${info.audio.rtptime}`] : []),
    ].join(',');
    this.reply(req, 200, { Session: this.sessionHeader(st.id), Range: 'npt=0.000-', 'RTP-Info': rtpInfo });
    this.server.sessionStarted(this, 'play');
    // After the answer: the GOP burst follows at once.
    st.unsubscribe = o.hub.subscribe(st.channel, player, { playback: true });
  }

  /** endSession stops what the session runs (TEARDOWN, close). */
  private endSession(reason: string): void {
    const st = this.state;
    if (!st) return;
    this.state = null;
    this.channels.clear();
    for (const t of st.tracks) this.dropTransport(t);
    if (st.kind === 'publish') {
      const wasLive = st.recording;
      st.ingest.end(reason);
      if (wasLive) {
        this.server.sessionEnded(this, 'publish', reason);
        this.server.o.unpublished?.(st.channel, this.clientIp, reason);
        this.server.o.logger.info({ channel: st.channel, clientIp: this.clientIp, reason, video: st.ingest.stats.videoFrames, audio: st.ingest.stats.audioFrames }, 'RTSP publish ended');
      }
    } else {
      st.unsubscribe?.();
      if (st.player) {
        st.player.done = true;
        this.server.sessionEnded(this, 'play', reason);
      }
    }
  }

  /** tick runs the session timeout and the publisher's reorder timer. */
  tick(): void {
    if (this.closed) return;
    if (this.idleMs > this.server.o.sessionTimeoutMs) {
      this.server.endedReason(this, 'timeout');
      this.close('session timeout', true);
      return;
    }
    const st = this.state;
    if (st?.kind === 'publish' && st.recording) {
      this.udpTick(st, Date.now());
      st.ingest.tick();
    }
  }

  /** close ends the session and the connection (after queued bytes when `flush`). */
  close(reason: string, flush = false): void {
    if (this.closed) return;
    this.endSession(reason);
    this.closed = true;
    this.server.connectionClosed(this);
    if (flush) this.socket.end();
    else this.socket.destroy();
    // A peer that does not read its last bytes is not waited for.
    if (flush) setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}

export class RtspServer {
  private server: net.Server | null = null;
  readonly connections = new Set<RtspConnection>();
  private timer: NodeJS.Timeout | null = null;
  readonly metrics: RtspMetrics;
  /** Sessions whose end reason was already counted (slow reader, timeout). */
  private readonly counted = new WeakSet<RtspConnection>();
  private readonly live = new WeakMap<RtspConnection, RtspSessionKind>();

  /** gate decides each connection's client address (media.proxyProtocol) before it is served. */
  private readonly gate: ProxyProtocolGate;
  /** limits counts connections per client address and in all (limits.rtsp.perIp, media.rtsp.maxConnections). */
  readonly limits: ListenerLimits;
  private readonly leases = new Map<RtspConnection, Lease>();
  /** RTP/RTCP port pairs for UDP transport (null: UDP is not offered). */
  udpPorts: UdpPortPool | null = null;

  constructor(readonly o: RtspServerOptions) {
    this.gate = new ProxyProtocolGate(o.proxyProtocol ?? { enabled: false, trusted: [], headerTimeoutMs: 0 }, o.logger);
    this.limits = new ListenerLimits({
      listener: 'rtsp', settings: { perIp: o.maxConnectionsPerIp ?? 0, global: o.maxConnections }, exempt: o.exempt ?? [], logger: o.logger, ...(o.registry ? { registry: o.registry } : {}),
    });
    this.metrics = rtspMetrics(o.registry ?? new prom.Registry());
    // Pre-create the label sets so the series exist at 0.
    this.metrics.sessions.set({ kind: 'publish' }, 0);
    this.metrics.sessions.set({ kind: 'play' }, 0);
  }

  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  /** listen opens the TCP listener (port 0 picks one) and resolves the port. */
  async listen(port: number, host: string): Promise<number> {
    const server = net.createServer((socket) => this.gate.admit(socket, (s, clientIp) => this.onConnection(s, clientIp)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.o.logger.warn({ err: err.message }, 'RTSP listener error'));
    this.server = server;
    if (this.o.udpPortRange) this.udpPorts = new UdpPortPool(this.o.udpPortRange, host);
    this.timer = setInterval(() => {
      for (const c of [...this.connections]) c.tick();
    }, TICK_MS);
    this.timer.unref();
    return this.port;
  }

  private onConnection(socket: net.Socket, clientIp: string): void {
    const admission = this.limits.admit(clientIp);
    if (!admission.ok) {
      this.metrics.refused.inc({ reason: 'overload' });
      const phrase = admission.reason === 'global' ? 'Service Unavailable (too many RTSP connections)' : 'Service Unavailable (too many RTSP connections from this address)';
      socket.end(serializeResponse(503, {}, Buffer.alloc(0), phrase));
      socket.on('error', () => {});
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const c = new RtspConnection(this, socket, clientIp);
    this.leases.set(c, admission.lease);
    this.connections.add(c);
  }

  sessionStarted(c: RtspConnection, kind: RtspSessionKind): void {
    this.counted.delete(c);
    this.live.set(c, kind);
    this.metrics.sessions.inc({ kind });
  }

  /** endedReason counts a session's end with a specific reason (before close). */
  endedReason(c: RtspConnection, reason: string): void {
    const kind = this.live.get(c);
    if (!kind || this.counted.has(c)) return;
    this.counted.add(c);
    this.metrics.ended.inc({ kind, reason });
  }

  sessionEnded(c: RtspConnection, kind: RtspSessionKind, reason: string): void {
    if (this.live.get(c) !== kind) return;
    this.live.delete(c);
    this.metrics.sessions.dec({ kind });
    if (!this.counted.has(c)) {
      this.counted.add(c);
      const label = reason === 'teardown' || reason === 'connection closed' || reason === 'socket error' || reason.startsWith('kicked') || reason === 'stopped' ? reason.replace(/:.*$/s, '') : 'other';
      this.metrics.ended.inc({ kind, reason: label });
    }
  }

  connectionClosed(c: RtspConnection): void {
    this.connections.delete(c);
    this.leases.get(c)?.release();
    this.leases.delete(c);
  }

  /** sessions lists open sessions (for stats and tests). */
  sessions(): { kind: RtspSessionKind; channel: string; clientIp: string }[] {
    const out: { kind: RtspSessionKind; channel: string; clientIp: string }[] = [];
    for (const c of this.connections) if (c.kind && c.channel) out.push({ kind: c.kind, channel: c.channel, clientIp: c.clientIp });
    return out;
  }

  /** close ends every session and connection and closes the listener. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.gate.close();
    for (const c of [...this.connections]) c.close('stopped');
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
