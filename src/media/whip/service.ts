/**
 * WebRTC ingest over WHIP (RFC 9725): a browser or OBS publishes a channel.
 *
 *   OPTIONS /whip        204, Accept-Post: application/sdp (+ CORS)
 *   POST    /whip        Authorization: Bearer {streamKey}, SDP offer → 201, SDP answer, Location /whip/{id}
 *                        401 wrong/missing key · 409 channel live · 400 bad offer / no H.264 / no Opus · 415 not SDP
 *   DELETE  /whip/{id}   204: the publish ends, the channel goes offline (404 when unknown)
 *   PATCH   /whip/{id}   405: every candidate is in the answer (no trickle)
 *
 * One WhipSession per publisher; the hub stream starts at its first keyframe. media.onPublishUrl /
 * onUnpublishUrl are called as for RTMP (with protocol "whip"); a refusal is 403.
 */
import type { Lease } from '../../net/connection-limits.js';
import { FULL_RETRY_AFTER_SECONDS, listenerLimits, type ListenerLimits } from '../../net/listener-limits.js';
import type { FastifyInstance } from 'fastify';
import prom from 'prom-client';
import type { OnairConfig } from '../../config/index.js';
import type { Logger } from '../../observability/logger.js';
import { AppError } from '../../http/errors.js';
import { SdpError } from '../webrtc/sdp.js';
import { networkOf } from '../webrtc/service.js';
import type { SessionNetwork } from '../webrtc/session.js';
import type { WhipHub } from './ingest.js';
import type { WhipSession, WhipEndReason } from './session.js';
import type { PublishAuthResult } from '../rtmp/session.js';
import type { ErrorCode } from '../../http/errors.js';
import { metricOnce } from '../../observability/metrics.js';
import { registerSdpResource } from '../webrtc/http.js';

const BEARER = /^Bearer\s+(\S+)\s*$/i;
/** HTTP answer to each kind of publish refusal: 401 key, 409 live, 403 guard or callback, 503 callback down. */
const REFUSAL_ERROR: Record<Extract<PublishAuthResult, { ok: false }>['kind'], ErrorCode> = { key: 'unauthorized', live: 'conflict', refused: 'forbidden', unavailable: 'unavailable' };
export const WHIP_PATH = '/whip';

export interface WhipMetrics {
  sessions: prom.Gauge;
  started: prom.Counter;
  ended: prom.Counter<'reason'>;
  refused: prom.Counter<'status'>;
  framesIn: prom.Counter<'kind'>;
  packetsLost: prom.Counter;
  plis: prom.Counter;
  audioFailures: prom.Counter;
  audioDelay: prom.Histogram;
}

/** whipMetrics registers (once per registry) the WHIP gauges and counters. */
export function whipMetrics(registry: prom.Registry): WhipMetrics {
  const r = [registry];
  return {
    sessions: metricOnce(registry, 'onair_whip_sessions', () => new prom.Gauge({ name: 'onair_whip_sessions', help: 'WHIP publish sessions open now (answered, connecting or live).', registers: r })),
    started: metricOnce(registry, 'onair_whip_sessions_started_total', () => new prom.Counter({ name: 'onair_whip_sessions_started_total', help: 'WHIP offers answered.', registers: r })),
    ended: metricOnce(registry, 'onair_whip_sessions_ended_total', () => new prom.Counter({ name: 'onair_whip_sessions_ended_total', help: 'WHIP sessions ended, by reason.', labelNames: ['reason'], registers: r })),
    refused: metricOnce(registry, 'onair_whip_refused_total', () => new prom.Counter({ name: 'onair_whip_refused_total', help: 'WHIP offers refused, by HTTP status.', labelNames: ['status'], registers: r })),
    framesIn: metricOnce(registry, 'onair_whip_frames_in_total', () => new prom.Counter({ name: 'onair_whip_frames_in_total', help: 'Frames fed to the hub from WHIP publishers (video access units, AAC frames).', labelNames: ['kind'], registers: r })),
    packetsLost: metricOnce(registry, 'onair_whip_rtp_packets_lost_total', () => new prom.Counter({ name: 'onair_whip_rtp_packets_lost_total', help: 'Video RTP packets from WHIP publishers declared lost (never arrived within the reorder window).', registers: r })),
    plis: metricOnce(registry, 'onair_whip_plis_sent_total', () => new prom.Counter({ name: 'onair_whip_plis_sent_total', help: 'Picture loss indications sent to WHIP publishers (keyframe requests).', registers: r })),
    audioDelay: metricOnce(registry, 'onair_whip_audio_transcode_delay_seconds', () => new prom.Histogram({ name: 'onair_whip_audio_transcode_delay_seconds', help: 'Time WHIP audio spends in the Opus→AAC transcoder (ffmpeg), packet in to AAC frame out: how far audio trails video at the live edge.', buckets: [0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 1, 2], registers: r })),
    audioFailures: metricOnce(registry, 'onair_whip_audio_transcoder_failures_total', () => new prom.Counter({ name: 'onair_whip_audio_transcoder_failures_total', help: 'Opus→AAC transcoders (ffmpeg) that failed; the publish went on without audio.', registers: r })),
  };
}

/** WhipServiceDeps: the hub must be the media role's StreamHub (publish, isLive). */
export interface WhipServiceDeps {
  config: OnairConfig;
  logger: Logger;
  hub: WhipHub & { isLive(channel: string): boolean };
  /** The media role's publish check (key, channel free, guards, media.onPublishUrl), as for RTMP. */
  authorizePublish(key: string, clientIp: string): Promise<PublishAuthResult>;
  /** Tells media.onUnpublishUrl that a publish that went live has ended. */
  unpublished?(channel: string, clientIp: string, reason: string): void;
  registry?: prom.Registry;
  /** ffmpeg for Opus → AAC; undefined: video only. */
  ffmpeg?: string;
}

export interface WhipAnswer {
  sessionId: string;
  channel: string;
  location: string;
  etag: string;
  sdp: string;
}

export interface WhipStats {
  id: string;
  channel: string;
  connected: boolean;
  live: boolean;
  width: number;
  height: number;
  packets: number;
  lost: number;
  units: number;
  dropped: number;
  keyframeRequests: number;
  aacPid?: number;
  /** Time the newest AAC frame spent in the Opus→AAC transcoder, ms (-1: no audio yet). */
  audioDelayMs: number;
  /** Largest such delay over the last 3 s and 10 s, ms (-1: none). */
  audioDelayMax3sMs: number;
  audioDelayMax10sMs: number;
}

export class WhipService {
  private readonly sessions = new Map<string, WhipSession>();
  /** Channel → its session (one publisher per channel, from the offer on). */
  private readonly byChannel = new Map<string, WhipSession>();
  readonly metrics: WhipMetrics;
  private readonly net: SessionNetwork;
  private stopped = false;
  /** Test hook: video RTP packets of new sessions for which this answers true are dropped (simulated loss). */
  testDropVideo?: (sequenceNumber: number) => boolean;

  /** limits counts publishers per client address and in all (limits.whip). */
  readonly limits: ListenerLimits;
  private readonly leases = new Map<WhipSession, Lease>();

  constructor(private readonly d: WhipServiceDeps) {
    this.metrics = whipMetrics(d.registry ?? new prom.Registry());
    this.limits = listenerLimits(d.config, 'whip', d.logger, d.registry);
    this.net = networkOf(d.config);
  }

  sessionCount(): number {
    return this.sessions.size;
  }

  stats(): WhipStats[] {
    return [...this.sessions.values()].map((s) => {
      const st = s.stats;
      return {
        id: s.id, channel: s.channel, connected: s.connected, live: s.live, width: st.width, height: st.height,
        packets: st.packets, lost: st.lost, units: st.units, dropped: st.dropped, keyframeRequests: st.keyframeRequests,
        ...(st.aacPid ? { aacPid: st.aacPid } : {}),
        audioDelayMs: st.audioDelayMs, audioDelayMax3sMs: st.audioDelayMax3sMs, audioDelayMax10sMs: st.audioDelayMax10sMs,
      };
    });
  }

  /**
   * createSession answers a publisher's offer. Errors are AppErrors: 401 (key), 409 (live),
   * 400 (offer), 503 (stopping).
   */
  async createSession(streamKey: string | undefined, offer: string, clientIp?: string): Promise<WhipAnswer> {
    if (this.stopped) throw new AppError('unavailable', 'the server is shutting down');
    if (!streamKey) throw new AppError('unauthorized', 'a WHIP publish needs the stream key as a bearer token (Authorization: Bearer KEY)');
    // werift comes with the first WebRTC session, not at start (docs/benchmarks.md, idle RSS).
    const { WhipSession } = await import('./session.js');
    // The slot is taken before the publish check, so one address cannot run many checks at once either.
    const lease = this.limits.admitOrThrow(clientIp ?? '');
    let channel: string;
    try {
      const auth = await this.d.authorizePublish(streamKey, clientIp ?? '');
      if (!auth.ok) throw new AppError(REFUSAL_ERROR[auth.kind], auth.reason);
      channel = auth.channel;
      if (this.byChannel.has(channel)) throw new AppError('conflict', `channel ${channel} is already publishing`);
      if (!offer.trim()) throw new AppError('bad_request', 'empty offer');
    } catch (err) {
      lease.release();
      throw err;
    }
    const ffmpeg = this.d.config.media.whip.audio ? this.d.ffmpeg : undefined;
    const session = new WhipSession({
      channel, hub: this.d.hub, net: this.net, logger: this.d.logger,
      mediaTimeoutMs: this.d.config.media.whip.mediaTimeoutSeconds * 1000,
      keyframeIntervalMs: this.d.config.media.whip.keyframeIntervalSeconds * 1000,
      ...(clientIp ? { clientIp } : {}),
      ...(ffmpeg ? { ffmpeg } : {}),
      dropVideo: (seq) => this.testDropVideo?.(seq) ?? false,
      hooks: {
        onLive: () => this.d.logger.info({ channel, session: session.id }, 'WHIP publish is live'),
        onClosed: (s, reason) => this.sessionClosed(s, reason),
        onPli: () => this.metrics.plis.inc(),
        onFrame: (kind) => this.metrics.framesIn.inc({ kind }),
        onAudioFailed: () => this.metrics.audioFailures.inc(),
        onAudioDelay: (ms) => this.metrics.audioDelay.observe(ms / 1000),
        onLost: (n) => this.metrics.packetsLost.inc(n),
      },
    });
    // Held from now on, so a concurrent offer for the channel gets 409.
    this.sessions.set(session.id, session);
    this.leases.set(session, lease);
    this.byChannel.set(channel, session);
    let sdp: string;
    try {
      sdp = await session.answer(offer);
    } catch (err) {
      session.close('error');
      this.forget(session);
      if (err instanceof SdpError) throw new AppError('bad_request', `bad offer: ${err.message}`);
      throw err;
    }
    if (session.closed) {
      this.forget(session);
      throw new AppError('unavailable', 'the publish ended while it was being answered');
    }
    session.answered = true;
    this.metrics.started.inc();
    this.metrics.sessions.inc();
    this.d.logger.info({ channel, session: session.id, clientIp }, 'WHIP publish answered');
    return { sessionId: session.id, channel, location: `${WHIP_PATH}/${session.id}`, etag: session.etag, sdp };
  }

  private unpublishCallback(s: WhipSession, reason: WhipEndReason): void {
    if (s.wentLive) this.d.unpublished?.(s.channel, s.clientIp ?? '', reason);
  }

  /** deleteSession ends a publish; false when there is no such session. */
  deleteSession(id: string): boolean {
    const s = this.sessions.get(id);
    if (!s) return false;
    s.close('deleted');
    return true;
  }

  private forget(s: WhipSession): void {
    if (this.sessions.get(s.id) === s) this.sessions.delete(s.id);
    this.leases.get(s)?.release();
    this.leases.delete(s);
    if (this.byChannel.get(s.channel) === s) this.byChannel.delete(s.channel);
  }

  private sessionClosed(s: WhipSession, reason: WhipEndReason): void {
    if (this.sessions.get(s.id) !== s) return;
    this.forget(s);
    this.unpublishCallback(s, reason);
    if (!s.answered) return;
    this.metrics.sessions.dec();
    this.metrics.ended.inc({ reason });
  }

  registerHttp(app: FastifyInstance): void {
    registerSdpResource(app, {
      name: 'WHIP',
      path: WHIP_PATH,
      create: (req, offer) => this.createSession(BEARER.exec(req.headers.authorization ?? '')?.[1], offer, req.clientIp),
      remove: (_req, id) => this.deleteSession(id),
      refused: (err, reply) => {
        this.metrics.refused.inc({ status: String(err.status) });
        if (err.status === 401) reply.header('www-authenticate', 'Bearer');
        if (err.code === 'server_full') reply.header('retry-after', String(FULL_RETRY_AFTER_SECONDS));
      },
    });
  }

  async start(): Promise<void> {
    this.stopped = false;
  }

  /** stop ends every publish (their channels go offline). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of [...this.sessions.values()]) s.close('shutdown');
  }
}

/** createWhipService builds the WHIP ingest on a hub. */
export function createWhipService(d: WhipServiceDeps): WhipService {
  return new WhipService(d);
}
