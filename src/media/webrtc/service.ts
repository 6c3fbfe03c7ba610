/**
 * The WebRTC playback service: WHEP (draft-ietf-wish-whep) resources under /live/{channel}/whep.
 *
 *   OPTIONS /live/{channel}/whep        204, Accept-Post: application/sdp (+ CORS)
 *   POST    /live/{channel}/whep        SDP offer in → 201, SDP answer, Location, ETag
 *   DELETE  /live/{channel}/whep/{id}   204 (404 when unknown)
 *   PATCH   /live/{channel}/whep/{id}   405: every candidate is in the answer (no trickle)
 *
 * One WhepChannel per channel with viewers owns the hub subscription, the shared RTP payloads
 * and the Opus transcoder; each WhepSession owns one browser's peer connection.
 */
import type { FastifyInstance } from 'fastify';
import prom from 'prom-client';
import type { OnairConfig } from '../../config/index.js';
import type { Logger } from '../../observability/logger.js';
import { AppError } from '../../http/errors.js';
import type { PlaybackHub, StreamHubApi } from '../hub/types.js';
import { WhepChannel } from './channel.js';
import { SdpError } from './sdp.js';
import type { WhepSession, EndReason, SessionNetwork } from './session.js';
import { metricOnce } from '../../observability/metrics.js';
import { registerSdpResource } from './http.js';
import type { Lease } from '../../net/connection-limits.js';
import { listenerLimits, refusalError, type ListenerLimits } from '../../net/listener-limits.js';

/** Live channel names as the other /live/ routes accept them (hub names, ABR renditions included). */
const CHANNEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Seconds a refused viewer is asked to wait (Retry-After) when the cap is reached. */
const RETRY_AFTER_SECONDS = 10;

export interface WhepMetrics {
  sessions: prom.Gauge;
  started: prom.Counter;
  ended: prom.Counter<'reason'>;
  packets: prom.Counter;
  bytes: prom.Counter;
  restarts: prom.Counter;
  badFrames: prom.Counter;
}

/** whepMetrics registers (once per registry) the WebRTC gauges and counters. */
export function whepMetrics(registry: prom.Registry): WhepMetrics {
  const r = [registry];
  return {
    sessions: metricOnce(registry, 'onair_webrtc_sessions', () => new prom.Gauge({ name: 'onair_webrtc_sessions', help: 'WHEP sessions open now (answered, connecting or playing).', registers: r })),
    started: metricOnce(registry, 'onair_webrtc_sessions_started_total', () => new prom.Counter({ name: 'onair_webrtc_sessions_started_total', help: 'WHEP sessions answered.', registers: r })),
    ended: metricOnce(registry, 'onair_webrtc_sessions_ended_total', () => new prom.Counter({ name: 'onair_webrtc_sessions_ended_total', help: 'WHEP sessions ended, by reason.', labelNames: ['reason'], registers: r })),
    packets: metricOnce(registry, 'onair_webrtc_rtp_packets_sent_total', () => new prom.Counter({ name: 'onair_webrtc_rtp_packets_sent_total', help: 'RTP packets sent to WebRTC viewers (first transmissions).', registers: r })),
    bytes: metricOnce(registry, 'onair_webrtc_rtp_payload_bytes_sent_total', () => new prom.Counter({ name: 'onair_webrtc_rtp_payload_bytes_sent_total', help: 'RTP payload bytes sent to WebRTC viewers (before RTP headers and SRTP).', registers: r })),
    restarts: metricOnce(registry, 'onair_webrtc_opus_transcoder_restarts_total', () => new prom.Counter({ name: 'onair_webrtc_opus_transcoder_restarts_total', help: 'Opus transcoders (ffmpeg) that exited while viewers watched; restarted with backoff.', registers: r })),
    badFrames: metricOnce(registry, 'onair_webrtc_bad_frames_total', () => new prom.Counter({ name: 'onair_webrtc_bad_frames_total', help: 'Video frames the RTP packetizer refused (skipped; viewers wait for a keyframe).', registers: r })),
  };
}

export interface WhepServiceDeps {
  config: OnairConfig;
  logger: Logger;
  /** Local streams and edge streams alike (PlaybackHub): a WHEP viewer on an edge gets the pulled channel. */
  hub: StreamHubApi & PlaybackHub;
  registry?: prom.Registry;
  /** ffmpeg path for Opus audio (src/media/ffmpeg.ts); undefined: video only. */
  ffmpeg?: string;
}

/** WhepStats describes one channel's WebRTC output. */
export interface WhepStats {
  channel: string;
  sessions: number;
  connected: number;
  bFrames: boolean;
  opusPid?: number;
}

/** WhepAnswer is what POST answers. */
export interface WhepAnswer {
  sessionId: string;
  location: string;
  etag: string;
  sdp: string;
}

/** networkOf derives the ICE settings from the config. */
export function networkOf(config: OnairConfig): SessionNetwork {
  const w = config.media.webrtc;
  const bound = config.host !== '0.0.0.0' && config.host !== '::' ? [config.host] : [];
  return {
    iceServers: w.iceServers.map((urls) => ({ urls })),
    ...(w.udpPortMin > 0 && w.udpPortMax > w.udpPortMin ? { icePortRange: [w.udpPortMin, w.udpPortMax] as [number, number] } : {}),
    hostAddresses: w.candidateAddresses.length > 0 ? w.candidateAddresses : bound,
    ...(w.announcedIp ? { announcedIp: w.announcedIp } : {}),
    iceLite: w.iceLite,
  };
}

export class WhepService {
  private readonly sessions = new Map<string, WhepSession>();
  private readonly channels = new Map<string, WhepChannel>();
  readonly metrics: WhepMetrics;
  private readonly net: SessionNetwork;
  private stopped = false;
  /** limits counts viewers per client address (limits.whep.perIp) and in all (media.webrtc.maxViewers). */
  readonly limits: ListenerLimits;
  private readonly leases = new Map<WhepSession, Lease>();

  constructor(private readonly d: WhepServiceDeps) {
    this.metrics = whepMetrics(d.registry ?? new prom.Registry());
    this.limits = listenerLimits(d.config, 'whep', d.logger, d.registry);
    this.net = networkOf(d.config);
  }

  /** viewers counts a channel's open sessions (hub stats, `webrtc` protocol). */
  viewers(channel: string): number {
    return this.channels.get(channel)?.sessions.size ?? 0;
  }

  stats(): WhepStats[] {
    return [...this.channels.values()].map((c) => ({
      channel: c.name,
      sessions: c.sessions.size,
      connected: [...c.sessions].filter((s) => s.connected).length,
      bFrames: c.bFrames,
      ...(c.opusPid ? { opusPid: c.opusPid } : {}),
    }));
  }

  /** sessionCount is the number of open sessions on this node. */
  sessionCount(): number {
    return this.sessions.size;
  }

  /** createSession answers a viewer's offer for a live channel. Errors are AppErrors (404, 400, 503). */
  async createSession(channel: string, offer: string, clientIp = ''): Promise<WhepAnswer> {
    if (this.stopped) throw new AppError('unavailable', 'the server is shutting down');
    // werift comes with the first WebRTC session, not at start (docs/benchmarks.md, idle RSS).
    const { WhepSession } = await import('./session.js');
    if (!CHANNEL_NAME.test(channel) || !(await this.d.hub.openForPlay(channel))) throw new AppError('not_found', `channel ${channel} is not live`);
    if (this.stopped) throw new AppError('unavailable', 'the server is shutting down');
    const admission = this.limits.admit(clientIp);
    if (!admission.ok) {
      if (admission.reason === 'per_ip') throw refusalError('whep', 'per_ip', this.limits.settings);
      const cap = this.limits.settings.global;
      throw new AppError('unavailable', `WebRTC viewer limit reached (${cap}); try again later or watch over LL-HLS`, { retryAfterSeconds: RETRY_AFTER_SECONDS });
    }
    const lease = admission.lease;
    const ch = this.channelFor(channel);
    if (ch.videoCodec && ch.videoCodec !== 'avc') {
      lease.release();
      this.releaseIfIdle(ch);
      throw new AppError('not_found', `channel ${channel} is live in ${ch.videoCodec}; WebRTC playback needs H.264`);
    }
    const session = new WhepSession(channel, this.net, {
      onConnected: (s) => ch.sessionConnected(s),
      onClosed: (s, reason) => this.sessionClosed(ch, s, reason),
      onSent: (packets, bytes) => { this.metrics.packets.inc(packets); this.metrics.bytes.inc(bytes); },
    }, this.d.logger, () => ch.wallOffset());
    // Counted from the start, so concurrent offers cannot pass the cap together.
    this.sessions.set(session.id, session);
    this.leases.set(session, lease);
    ch.sessions.add(session);
    let sdp: string;
    try {
      sdp = await session.answer(offer, { profile: ch.profile });
    } catch (err) {
      const endedMeanwhile = session.closed;
      session.close('error');
      this.forget(ch, session);
      if (err instanceof SdpError) throw new AppError('bad_request', `bad offer: ${err.message}`);
      if (endedMeanwhile) throw new AppError('not_found', `channel ${channel} is not live`);
      throw err;
    }
    if (session.closed || !this.d.hub.playable(channel)) {
      session.close('stream_ended');
      this.forget(ch, session);
      throw new AppError('not_found', `channel ${channel} is not live`);
    }
    session.answered = true;
    this.metrics.started.inc();
    this.metrics.sessions.inc();
    this.d.logger.debug({ channel, session: session.id, pt: session.videoPayloadType, audio: session.hasAudio }, 'WHEP session answered');
    // Behind a load balancer, the session lives on this node only: an absolute Location sends the
    // viewer's DELETE here, whichever node the balancer would pick (docs/load-balancing.md).
    const base = this.d.config.media.control.advertiseUrl?.replace(/\/+$/, '') ?? '';
    return { sessionId: session.id, location: `${base}/live/${encodeURIComponent(channel)}/whep/${session.id}`, etag: session.etag, sdp };
  }

  /** deleteSession ends a viewer's session; false when there is no such session on that channel. */
  deleteSession(channel: string, id: string): boolean {
    const s = this.sessions.get(id);
    if (!s || s.channel !== channel) return false;
    s.close('deleted');
    return true;
  }

  private channelFor(channel: string): WhepChannel {
    let ch = this.channels.get(channel);
    if (ch) return ch;
    const w = this.d.config.media.webrtc;
    ch = new WhepChannel({
      channel, hub: this.d.hub, logger: this.d.logger, mtu: w.mtu, gopMaxFrames: this.d.config.media.gopCacheMaxFrames,
      ...(w.audio && this.d.ffmpeg ? { ffmpeg: this.d.ffmpeg } : {}),
      restartMinMs: this.d.config.media.abr.restartMinMs, restartMaxMs: this.d.config.media.abr.restartMaxMs,
      onTranscoderRestart: () => this.metrics.restarts.inc(),
      onBadFrame: () => this.metrics.badFrames.inc(),
      onEnd: (name) => {
        const c = this.channels.get(name);
        if (!c) return;
        for (const s of [...c.sessions]) s.close('stream_ended');
        this.channels.delete(name);
      },
    });
    this.channels.set(channel, ch);
    ch.start();
    return ch;
  }

  private releaseIfIdle(ch: WhepChannel): void {
    if (ch.sessions.size > 0) return;
    ch.stop();
    if (this.channels.get(ch.name) === ch) this.channels.delete(ch.name);
  }

  private forget(ch: WhepChannel, s: WhepSession): void {
    if (this.sessions.get(s.id) === s) this.sessions.delete(s.id);
    this.leases.get(s)?.release();
    this.leases.delete(s);
    ch.sessions.delete(s);
    this.releaseIfIdle(ch);
  }

  private sessionClosed(ch: WhepChannel, s: WhepSession, reason: EndReason): void {
    if (this.sessions.get(s.id) !== s) return;
    this.forget(ch, s);
    // Sessions that were never answered (bad offer, stream gone meanwhile) are not counted.
    if (!s.answered) return;
    this.metrics.sessions.dec();
    this.metrics.ended.inc({ reason });
  }

  registerHttp(app: FastifyInstance): void {
    registerSdpResource(app, {
      name: 'WHEP',
      path: '/live/:channel/whep',
      create: async (req, offer) => {
        if (!offer.trim()) throw new AppError('bad_request', 'empty offer');
        return this.createSession((req.params as { channel: string }).channel, offer, req.clientIp);
      },
      remove: (req, id) => this.deleteSession((req.params as { channel: string }).channel, id),
      refused: (err, reply) => {
        if (err.status === 503 || err.status === 429) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      },
    });
  }

  async start(): Promise<void> {
    this.stopped = false;
  }

  /** stop ends every session and transcoder. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of [...this.sessions.values()]) s.close('shutdown');
    for (const ch of [...this.channels.values()]) ch.stop();
    this.channels.clear();
  }
}

/** createWhepService builds the WebRTC playback output on a hub. */
export function createWhepService(d: WhepServiceDeps): WhepService {
  return new WhepService(d);
}
