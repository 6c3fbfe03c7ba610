/**
 * SrtServer: SRT ingest (live mode, caller → listener, handshake v5, no encryption) on one UDP
 * socket. Sessions are found by the socket id the peer addresses (and must come from the
 * address that opened them).
 *
 *   caller ── INDUCTION ─────────────► listener: no state kept, answers v5 + SRT magic + SYN cookie
 *          ◄─ INDUCTION (cookie) ────
 *          ── CONCLUSION (cookie, HSREQ, SID) ─► cookie checked (so a spoofed source holds nothing),
 *                                               extensions checked, stream id parsed, publish authorized
 *          ◄─ CONCLUSION (HSRSP) or a rejection (handshake type 1000 + reason)
 *          ── data ─────────────────► SrtSession (receiver → TS demux → hub)
 *          ◄─ ACK / NAK / keepalive ─
 *
 * Rejection reasons (docs/srt.md): bad stream id 1400, missing key 1401, wrong key or publish
 * refused 1403, playback asked 1405, channel live 1409, callback down 1503, too many sessions
 * 1402, encryption asked SRT_REJ_UNSECURE, HSv4 SRT_REJ_VERSION, file/stream API
 * SRT_REJ_MESSAGEAPI, packet filter (FEC) SRT_REJ_FILTER, bonding SRT_REJ_GROUP, non-live
 * congestion control SRT_REJ_CONGESTION.
 */
import type { Lease } from '../../net/connection-limits.js';
import { ListenerLimits } from '../../net/listener-limits.js';
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import prom from 'prom-client';
import type { Logger } from '../../observability/logger.js';
import { metricOnce } from '../../observability/metrics.js';
import {
  decodeHsReq, decodeSrtPacket, decodeStreamId, encodeHandshake, encodeHsReq, encodePeerIp, HS_EXT_HSREQ, HS_TYPE_CONCLUSION, HS_TYPE_INDUCTION,
  HS_VERSION_SRT5, REJ_CONGESTION, REJ_FILTER, REJ_GROUP, REJ_MESSAGEAPI, REJ_ROGUE, REJ_UNSECURE, REJ_VERSION, REJX_BAD_MODE, REJX_BAD_REQUEST,
  REJX_CONFLICT, REJX_DOWN, REJX_FORBIDDEN, REJX_OVERLOAD, REJX_UNAUTHORIZED, SRT_CMD_CONGESTION, SRT_CMD_FILTER, SRT_CMD_GROUP, SRT_CMD_HSREQ,
  SRT_CMD_HSRSP, SRT_CMD_KMREQ, SRT_CMD_SID, SRT_HEADER_SIZE, SRT_MAGIC_CODE, SRT_OPT_PERIODICNAK, SRT_OPT_REXMITFLG, SRT_OPT_STREAM,
  SRT_OPT_TLPKTDROP, SRT_OPT_TSBPDRCV, SRT_OPT_TSBPDSND, SRT_REJ_BASE, type Handshake, type SrtPacket,
} from '../../formats/srt-packet.js';
import type { PublishAuthResult } from '../rtmp/session.js';
import type { TsHub } from './ingest.js';
import { parseStreamId } from './streamid.js';
import { SrtSession, type SrtEndReason } from './session.js';

/** The SRT version we announce in HSRSP (1.5.0): callers enable what that version has. */
export const SRT_VERSION = 0x010500;
/** SYN cookies are valid for this window and the one before (the caller answers within seconds). */
const COOKIE_WINDOW_MS = 60_000;
/** How often sessions' timers run (delivery, ACK every 10 ms, NAK repeats, keepalives). */
export const SRT_TICK_MS = 5;
/** A rejected or accepted conclusion is answered the same way if repeated within this time. */
const ANSWER_MEMORY_MS = 10_000;
const MAX_REMEMBERED_ANSWERS = 1024;
/** Handshakes being authorized at once at most (each waits for the publish check). */
const MAX_PENDING = 64;
/** The flow window we offer (packets in flight). */
const FLOW_WINDOW = 8192;
const LIVE_CONGESTION = 'live';

/** SrtRefusal is a handshake rejection: the code on the wire (reason) and what the log says. */
export interface SrtRefusal {
  reason: number;
  message: string;
}

/** REFUSAL_REASON maps the shared publish check's refusal kinds to SRT rejection reasons. */
const REFUSAL_REASON: Record<Extract<PublishAuthResult, { ok: false }>['kind'], number> = {
  key: REJX_FORBIDDEN, live: REJX_CONFLICT, refused: REJX_FORBIDDEN, unavailable: REJX_DOWN,
};

export interface SrtMetrics {
  sessions: prom.Gauge;
  started: prom.Counter;
  ended: prom.Counter<'reason'>;
  refused: prom.Counter<'code'>;
  packets: prom.Counter;
  retransmitted: prom.Counter;
  lost: prom.Counter;
  dropped: prom.Counter;
  naks: prom.Counter;
  ccErrors: prom.Counter;
  rtt: prom.Histogram;
}

/** srtMetrics registers (once per registry) the SRT ingest metrics. */
export function srtMetrics(registry: prom.Registry): SrtMetrics {
  const r = [registry];
  const counter = (name: string, help: string) => metricOnce(registry, name, () => new prom.Counter({ name, help, registers: r }));
  return {
    sessions: metricOnce(registry, 'onair_srt_sessions', () => new prom.Gauge({ name: 'onair_srt_sessions', help: 'SRT publish sessions open now.', registers: r })),
    started: counter('onair_srt_sessions_started_total', 'SRT connections accepted.'),
    ended: metricOnce(registry, 'onair_srt_sessions_ended_total', () => new prom.Counter({ name: 'onair_srt_sessions_ended_total', help: 'SRT sessions ended, by reason.', labelNames: ['reason'], registers: r })),
    refused: metricOnce(registry, 'onair_srt_refused_total', () => new prom.Counter({ name: 'onair_srt_refused_total', help: 'SRT connections refused, by rejection code.', labelNames: ['code'], registers: r })),
    packets: counter('onair_srt_packets_received_total', 'SRT data packets received (retransmissions included).'),
    retransmitted: counter('onair_srt_packets_retransmitted_total', 'SRT data packets received that were retransmissions.'),
    lost: counter('onair_srt_packets_lost_total', 'SRT data packets found missing (a sequence gap), recovered later or not.'),
    dropped: counter('onair_srt_packets_dropped_total', 'SRT data packets given up: not recovered before their delivery time.'),
    naks: counter('onair_srt_naks_sent_total', 'SRT loss reports (NAK packets) sent.'),
    ccErrors: counter('onair_srt_ts_cc_errors_total', 'MPEG-TS continuity counter errors in SRT publishes.'),
    rtt: metricOnce(registry, 'onair_srt_rtt_seconds', () => new prom.Histogram({ name: 'onair_srt_rtt_seconds', help: 'Smoothed RTT of SRT sessions, sampled at each ACKACK.', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: r })),
  };
}

export interface SrtServerOptions {
  logger: Logger;
  hub: TsHub;
  /** The media role's publish check (key, channel free, guards, media.onPublishUrl). */
  authorizePublish(key: string, clientIp: string): Promise<PublishAuthResult>;
  /** Tells media.onUnpublishUrl that a publish that went live has ended. */
  unpublished?(channel: string, clientIp: string, reason: string): void;
  registry?: prom.Registry;
  /** Our receive latency (ms); the session uses the larger of it and the caller's. */
  latencyMs: number;
  /** Largest SRT payload accepted (bytes; libsrt's live default is 1316 = 7 TS packets). */
  maxPayload: number;
  /** A session that hears nothing this long is ended. */
  idleTimeoutMs: number;
  /** Open sessions at most (limits' global cap); more are refused with SRT_REJX_OVERLOAD. */
  maxSessions: number;
  /** Open sessions from one client address (IPv6: one /64) at most (limits.srt.perIp; 0: no cap); more are refused with SRT_REJX_OVERLOAD. */
  maxSessionsPerIp?: number;
  /** limits.exempt: addresses that skip the per-address cap. */
  exempt?: readonly string[];
  /** Receive buffer per session in packets. */
  bufferPackets?: number;
  now?: () => number;
}

export interface SrtSessionStats {
  socketId: number;
  channel: string;
  clientIp: string;
  live: boolean;
  latencyMs: number;
  rttMs: number;
  packets: number;
  retransmitted: number;
  lost: number;
  recovered: number;
  dropped: number;
  naksSent: number;
  ccErrors: number;
  videoFrames: number;
  audioFrames: number;
}

interface Remembered {
  answer: Buffer;
  at: number;
}

export class SrtServer {
  private socket: dgram.Socket | null = null;
  private readonly sessions = new Map<number, SrtSession>();
  private readonly byChannel = new Map<string, SrtSession>();
  /** Callers being authorized: `address:port:socketId`. */
  private readonly pending = new Set<string>();
  /** Answers to recent conclusions by caller, replayed when the caller repeats itself. */
  private readonly answers = new Map<string, Remembered>();
  private readonly latencies = new Map<number, number>();
  /** The connection-limit lease of each session (and of callers being authorized, until they get one). */
  private readonly leases = new Map<number, Lease>();
  readonly limits: ListenerLimits;
  private readonly reported = new Map<number, { packets: number; retransmitted: number; lost: number; dropped: number; naks: number; cc: number }>();
  private readonly cookieSecret = randomBytes(32);
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  readonly metrics: SrtMetrics;
  readonly started = performance.now();
  /** Test hook: incoming data packets for which this answers true are dropped (simulated loss). */
  testDropData?: (seq: number) => boolean;

  constructor(private readonly o: SrtServerOptions) {
    this.metrics = srtMetrics(o.registry ?? new prom.Registry());
    this.limits = new ListenerLimits({
      listener: 'srt', settings: { perIp: o.maxSessionsPerIp ?? 0, global: o.maxSessions }, exempt: o.exempt ?? [], logger: o.logger, ...(o.registry ? { registry: o.registry } : {}),
    });
  }

  private now(): number {
    return this.o.now ? this.o.now() : performance.now();
  }

  get port(): number {
    const a = this.socket?.address();
    return a ? a.port : 0;
  }

  sessionCount(): number {
    return this.sessions.size;
  }

  /** listen binds the UDP socket (port 0 picks one) and resolves the port. */
  async listen(port: number, host: string): Promise<number> {
    this.stopped = false;
    const type = host.includes(':') ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type, recvBufferSize: 4 * 1024 * 1024 });
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port));
    socket.on('error', (err) => this.o.logger.warn({ err: err.message }, 'SRT socket error'));
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        socket.close();
        reject(err);
      };
      socket.once('error', fail);
      socket.bind(port, host, () => {
        socket.off('error', fail);
        resolve();
      });
    });
    try {
      socket.setRecvBufferSize(4 * 1024 * 1024);
    } catch {
      // The OS may cap it; the default works at modest rates.
    }
    this.socket = socket;
    return this.port;
  }

  /** close ends every session (a SHUTDOWN to each peer) and closes the socket. */
  async close(): Promise<void> {
    this.stopped = true;
    for (const s of [...this.sessions.values()]) s.close('stopped', true);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  stats(): SrtSessionStats[] {
    return [...this.sessions.values()].map((s) => {
      const r = s.receiver.stats;
      return {
        socketId: s.socketId, channel: s.channel, clientIp: s.address, live: s.ingest.live, latencyMs: this.latencies.get(s.socketId) ?? this.o.latencyMs,
        rttMs: Math.round(s.receiver.rttMs * 10) / 10, packets: r.packets, retransmitted: r.retransmitted, lost: r.lost, recovered: r.recovered,
        dropped: r.dropped, naksSent: r.naksSent, ccErrors: s.ingest.demuxStats.ccErrors, videoFrames: s.ingest.stats.videoFrames, audioFrames: s.ingest.stats.audioFrames,
      };
    });
  }

  /** kick ends the channel's SRT publish; false when there is none. */
  kick(channel: string): boolean {
    const s = this.byChannel.get(channel);
    if (!s) return false;
    s.close('kicked', true);
    return true;
  }

  private sendTo(buf: Buffer, port: number, address: string): void {
    this.socket?.send(buf, port, address);
  }

  private onMessage(msg: Buffer, address: string, port: number): void {
    if (msg.length < SRT_HEADER_SIZE || msg.length > SRT_HEADER_SIZE + Math.max(this.o.maxPayload, 1500)) return;
    let p: SrtPacket;
    try {
      p = decodeSrtPacket(msg);
    } catch {
      return;
    }
    if (p.kind === 'handshake' && p.destinationSocketId === 0) {
      this.onHandshake(p.handshake, address, port);
      return;
    }
    const s = this.sessions.get(p.destinationSocketId);
    if (!s || s.address !== address || s.port !== port) return;
    if (p.kind === 'data') {
      if (p.payload.length > this.o.maxPayload) return;
      if (this.testDropData?.(p.seq)) return;
    }
    s.handle(p);
  }

  // ---------------------------------------------------------------- handshake

  private cookie(address: string, port: number, window: number): number {
    return createHmac('sha256', this.cookieSecret).update(`${address}|${port}|${window}`).digest().readUInt32BE(0);
  }

  private cookieValid(cookie: number, address: string, port: number): boolean {
    const w = Math.floor(Date.now() / COOKIE_WINDOW_MS);
    return cookie === this.cookie(address, port, w) || cookie === this.cookie(address, port, w - 1);
  }

  private onHandshake(h: Handshake, address: string, port: number): void {
    if (h.type === HS_TYPE_INDUCTION) {
      // Stateless: everything the conclusion needs comes back in it.
      const answer: Handshake = {
        version: HS_VERSION_SRT5, encryption: 0, extensionField: SRT_MAGIC_CODE, initialSeq: h.initialSeq, mtu: h.mtu, flowWindow: h.flowWindow,
        type: HS_TYPE_INDUCTION, socketId: 0, synCookie: this.cookie(address, port, Math.floor(Date.now() / COOKIE_WINDOW_MS)),
        peerIp: encodePeerIp(address), extensions: [],
      };
      this.sendTo(encodeHandshake(answer, this.timestamp(), h.socketId), port, address);
      return;
    }
    if (h.type !== HS_TYPE_CONCLUSION) return; // rendezvous (WAVEAHAND/AGREEMENT) is not offered
    if (!this.cookieValid(h.synCookie, address, port)) return; // a spoofed or stale source: no answer, no state
    const callerKey = `${address}:${port}:${h.socketId}`;
    const now = this.now();
    const known = this.answers.get(callerKey);
    if (known && now - known.at < ANSWER_MEMORY_MS) {
      this.sendTo(known.answer, port, address);
      return;
    }
    if (this.pending.has(callerKey)) return;
    const check = this.checkConclusion(h);
    if ('reason' in check) {
      this.reject(h, address, port, callerKey, check);
      return;
    }
    if (this.pending.size >= MAX_PENDING) {
      this.reject(h, address, port, callerKey, { reason: REJX_OVERLOAD, message: 'too many SRT handshakes at once' });
      return;
    }
    this.pending.add(callerKey);
    void this.authorize(h, address, port, callerKey, check.key, check.latencyMs, check.peerRcvLatencyMs).finally(() => this.pending.delete(callerKey));
  }

  /** checkConclusion validates the caller's conclusion before the publish check. */
  private checkConclusion(h: Handshake): SrtRefusal | { key: string; latencyMs: number; peerRcvLatencyMs: number } {
    if (h.version !== HS_VERSION_SRT5) return { reason: REJ_VERSION, message: `handshake version ${h.version} (onair speaks HSv5, SRT 1.3 and later)` };
    const ext = (type: number) => h.extensions.find((e) => e.type === type);
    if (ext(SRT_CMD_KMREQ) || h.encryption !== 0) return { reason: REJ_UNSECURE, message: 'encryption (passphrase) is not supported by onair SRT ingest yet; connect without a passphrase' };
    const hsreq = ext(SRT_CMD_HSREQ);
    if (!hsreq) return { reason: REJ_ROGUE, message: 'conclusion without the HSREQ extension' };
    let req;
    try {
      req = decodeHsReq(hsreq.data);
    } catch (err) {
      return { reason: REJ_ROGUE, message: (err as Error).message };
    }
    if (req.flags & SRT_OPT_STREAM) return { reason: REJ_MESSAGEAPI, message: 'only live mode (transtype=live) is supported' };
    if (ext(SRT_CMD_FILTER)) return { reason: REJ_FILTER, message: 'packet filters (FEC) are not supported' };
    if (ext(SRT_CMD_GROUP)) return { reason: REJ_GROUP, message: 'connection bonding (groups) is not supported' };
    const cc = ext(SRT_CMD_CONGESTION);
    if (cc && decodeStreamId(cc.data) !== LIVE_CONGESTION) return { reason: REJ_CONGESTION, message: `congestion control "${decodeStreamId(cc.data)}" is not supported (live only)` };
    const sid = ext(SRT_CMD_SID);
    const streamId = sid ? decodeStreamId(sid.data) : '';
    const parsed = parseStreamId(streamId);
    if (!parsed.ok) return { reason: REJX_BAD_REQUEST, message: parsed.reason };
    if (parsed.mode !== 'publish') return { reason: REJX_BAD_MODE, message: 'playback over SRT is not offered (use HTTP-FLV, LL-HLS or WHEP); publish with streamid=publish:KEY' };
    if (!parsed.key) return { reason: REJX_UNAUTHORIZED, message: 'no stream key: set streamid=publish:KEY' };
    // The sender's delay is what it wants us to receive with; ours is the floor.
    const latencyMs = Math.max(this.o.latencyMs, req.flags & SRT_OPT_TSBPDSND ? req.senderDelayMs : 0);
    return { key: parsed.key, latencyMs, peerRcvLatencyMs: Math.max(this.o.latencyMs, req.receiverDelayMs) };
  }

  private async authorize(h: Handshake, address: string, port: number, callerKey: string, key: string, latencyMs: number, peerRcvLatencyMs: number): Promise<void> {
    if (this.stopped) return this.reject(h, address, port, callerKey, { reason: REJX_DOWN, message: 'the server is shutting down' });
    // Callers being authorized hold a slot too, so a flood of handshakes cannot overshoot the caps.
    const admission = this.limits.admit(address);
    if (!admission.ok) {
      const message = admission.reason === 'global'
        ? `SRT sessions are at their limit (${this.o.maxSessions})`
        : `too many SRT sessions from this address (limits.srt.perIp = ${this.limits.settings.perIp})`;
      return this.reject(h, address, port, callerKey, { reason: REJX_OVERLOAD, message });
    }
    const lease = admission.lease;
    let auth: PublishAuthResult;
    try {
      auth = await this.o.authorizePublish(key, address);
    } catch (err) {
      auth = { ok: false, reason: `publish check failed: ${(err as Error).message}`, kind: 'unavailable' };
    }
    if (this.stopped || !this.socket) return lease.release();
    if (!auth.ok) {
      lease.release();
      return this.reject(h, address, port, callerKey, { reason: REFUSAL_REASON[auth.kind], message: auth.reason });
    }
    const channel = auth.channel;
    if (this.byChannel.has(channel)) {
      lease.release();
      return this.reject(h, address, port, callerKey, { reason: REJX_CONFLICT, message: `channel ${channel} is already publishing` });
    }
    let socketId = 0;
    while (socketId === 0 || this.sessions.has(socketId)) socketId = randomInt(1, 0x7fff_ffff);
    const session = new SrtSession({
      socketId, peerSocketId: h.socketId, address, port, channel, initialSeq: h.initialSeq, latencyMs,
      bufferPackets: this.o.bufferPackets ?? FLOW_WINDOW, idleTimeoutMs: this.o.idleTimeoutMs, hub: this.o.hub, logger: this.o.logger,
      send: (buf, p, a) => this.sendTo(buf, p, a),
      onClosed: (s, reason) => this.sessionClosed(s, reason),
      onLive: (s) => this.o.logger.info({ channel: s.channel, clientIp: s.address, latencyMs }, 'SRT publish is live'),
      onRtt: (ms) => this.metrics.rtt.observe(ms / 1000),
      ...(this.o.now ? { now: this.o.now } : {}),
    });
    const answer: Handshake = {
      version: HS_VERSION_SRT5, encryption: 0, extensionField: HS_EXT_HSREQ, initialSeq: h.initialSeq, mtu: h.mtu,
      flowWindow: FLOW_WINDOW, type: HS_TYPE_CONCLUSION, socketId, synCookie: h.synCookie, peerIp: encodePeerIp(address),
      extensions: [{
        type: SRT_CMD_HSRSP,
        data: encodeHsReq({
          srtVersion: SRT_VERSION,
          flags: SRT_OPT_TSBPDSND | SRT_OPT_TSBPDRCV | SRT_OPT_TLPKTDROP | SRT_OPT_PERIODICNAK | SRT_OPT_REXMITFLG,
          receiverDelayMs: latencyMs,
          senderDelayMs: peerRcvLatencyMs,
        }),
      }],
    };
    const bytes = encodeHandshake(answer, this.timestamp(), h.socketId);
    session.conclusionResponse = bytes;
    this.sessions.set(socketId, session);
    this.leases.set(socketId, lease);
    // The timers (ACK, NAK, delivery, idle) run only while there are sessions: no wakeups when idle.
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), SRT_TICK_MS);
      this.timer.unref();
    }
    this.byChannel.set(channel, session);
    this.latencies.set(socketId, latencyMs);
    this.remember(callerKey, bytes);
    this.metrics.started.inc();
    this.metrics.sessions.inc();
    this.o.logger.info({ channel, clientIp: address, port, latencyMs, socketId }, 'SRT publish connected');
    this.sendTo(bytes, port, address);
  }

  private reject(h: Handshake, address: string, port: number, callerKey: string, r: SrtRefusal): void {
    const answer: Handshake = {
      version: HS_VERSION_SRT5, encryption: 0, extensionField: 0, initialSeq: h.initialSeq, mtu: h.mtu, flowWindow: h.flowWindow,
      type: SRT_REJ_BASE + r.reason, socketId: 0, synCookie: h.synCookie, peerIp: encodePeerIp(address), extensions: [],
    };
    const bytes = encodeHandshake(answer, this.timestamp(), h.socketId);
    this.remember(callerKey, bytes);
    this.metrics.refused.inc({ code: String(r.reason) });
    this.o.logger.info({ clientIp: address, port, code: r.reason, reason: r.message }, 'SRT publish refused');
    this.sendTo(bytes, port, address);
  }

  private remember(callerKey: string, answer: Buffer): void {
    const now = this.now();
    if (this.answers.size >= MAX_REMEMBERED_ANSWERS) {
      for (const [k, v] of this.answers) if (now - v.at >= ANSWER_MEMORY_MS || this.answers.size >= MAX_REMEMBERED_ANSWERS) this.answers.delete(k);
    }
    this.answers.set(callerKey, { answer, at: now });
  }

  private timestamp(): number {
    return Math.floor((this.now() - this.started) * 1000) % 2 ** 32;
  }

  // ---------------------------------------------------------------- sessions

  private tick(): void {
    for (const s of this.sessions.values()) {
      s.tick();
      this.report(s);
    }
  }

  /** report moves a session's counters into the metrics (deltas, so the hot path stays plain numbers). */
  private report(s: SrtSession): void {
    const r = s.receiver.stats;
    const cc = s.ingest.demuxStats.ccErrors;
    const last = this.reported.get(s.socketId) ?? { packets: 0, retransmitted: 0, lost: 0, dropped: 0, naks: 0, cc: 0 };
    if (r.packets !== last.packets) this.metrics.packets.inc(r.packets - last.packets);
    if (r.retransmitted !== last.retransmitted) this.metrics.retransmitted.inc(r.retransmitted - last.retransmitted);
    if (r.lost !== last.lost) this.metrics.lost.inc(r.lost - last.lost);
    if (r.dropped !== last.dropped) this.metrics.dropped.inc(r.dropped - last.dropped);
    if (r.naksSent !== last.naks) this.metrics.naks.inc(r.naksSent - last.naks);
    if (cc !== last.cc) this.metrics.ccErrors.inc(cc - last.cc);
    this.reported.set(s.socketId, { packets: r.packets, retransmitted: r.retransmitted, lost: r.lost, dropped: r.dropped, naks: r.naksSent, cc });
  }

  private sessionClosed(s: SrtSession, reason: SrtEndReason): void {
    if (this.sessions.get(s.socketId) !== s) return;
    this.report(s);
    this.sessions.delete(s.socketId);
    if (this.sessions.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
    this.reported.delete(s.socketId);
    this.latencies.delete(s.socketId);
    this.leases.get(s.socketId)?.release();
    this.leases.delete(s.socketId);
    if (this.byChannel.get(s.channel) === s) this.byChannel.delete(s.channel);
    this.metrics.sessions.dec();
    this.metrics.ended.inc({ reason });
    const r = s.receiver.stats;
    this.o.logger.info({ channel: s.channel, clientIp: s.address, reason, packets: r.packets, lost: r.lost, recovered: r.recovered, dropped: r.dropped, retransmitted: r.retransmitted }, 'SRT publish ended');
    if (s.wentLive) this.o.unpublished?.(s.channel, s.address, reason);
  }
}
