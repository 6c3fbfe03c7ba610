/**
 * RtspClient: plays one RTSP 1.0 stream (RFC 2326) over TCP interleaved, for pull relays of IP
 * cameras and other RTSP servers. One client = one connection = one session.
 *
 *   OPTIONS ─► DESCRIBE (SDP; Content-Base) ─► SETUP per track (RTP/AVP/TCP;unicast;interleaved=n-n+1)
 *           ─► PLAY (aggregate URL) ─► '$' frames ─► onRtp / onRtcp       keepalive: GET_PARAMETER
 *           (or OPTIONS when the server does not list it) every session timeout / 2; TEARDOWN on close.
 *
 * 401 answers are retried with the URL's credentials (Basic or Digest, src/media/rtsp/auth.ts; a
 * Digest `stale=true` once more); a 301/302 Location is followed once. Every request has its own
 * timeout; media stalls are the caller's (the relay manager's watchdog). Tracks: the first H.264
 * video and the first AAC (mpeg4-generic) audio; other media sections (PCMA/PCMU/Opus/HEVC/metadata)
 * are skipped and listed in `tracks.skipped`. URLs in logs and errors never show credentials.
 */
import net from 'node:net';
import type { Logger } from '../../observability/logger.js';
import { parseRtpPacket, type RtpPacket } from '../../formats/rtp-packet.js';
import { RtspParseError, RtspParser, parseTransportHeader, serializeRequest, sessionIdOf, type RtspHeaderList, type RtspMessage, type RtspResponse } from '../../formats/rtsp-message.js';
import { h264Params, parseSdp, resolveControl, SdpRtspError, type SdpMedia } from '../../formats/sdp-rtsp.js';
import { AAC_RTP_ENCODINGS, aacAudioOf, type RtspAacAudio } from './aac-audio.js';
import { isStale, maskUrl, parseWwwAuthenticate, pickChallenge, RtspAuthenticator, splitUrlCredentials, type RtspCredentials } from './auth.js';
import { DROP_EXTRA_TRACK, DROP_UNSUPPORTED_CODEC, DROP_UNSUPPORTED_PARAMETERS, type DroppedTrack } from '../hub/types.js';
import { droppedMediaOf } from './dropped.js';
import { mediaTypeOf } from '../../net/media-type.js';

export const RTSP_DEFAULT_PORT = 554;
export const RTSP_CLIENT_CONNECT_TIMEOUT_MS = 10_000;
export const RTSP_CLIENT_REQUEST_TIMEOUT_MS = 10_000;
/** Session timeout assumed when the server's Session header has none (RFC 2326 12.37). */
export const RTSP_DEFAULT_SESSION_TIMEOUT_MS = 60_000;
/** Keepalives go at this fraction of the session timeout. */
const KEEPALIVE_FRACTION = 0.5;
/** Floor for the keepalive period (a server announcing timeout=1 is not flooded). */
const KEEPALIVE_MIN_MS = 1_000;
/** How long TEARDOWN gets on the wire before the socket is destroyed. */
const TEARDOWN_GRACE_MS = 1_000;
const MAX_REDIRECTS = 1;
const USER_AGENT = 'onair RTSP client';
const SDP_TYPE = 'application/sdp';

export class RtspClientError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'RtspClientError';
  }
}

export type RtspTrackKind = 'video' | 'audio';

export interface RtspPullVideo {
  payloadType: number;
  control: string;
  sps?: Buffer;
  pps?: Buffer;
  /** Interleaved RTP channel (RTCP is channel + 1), from SETUP's answer. */
  channel?: number;
}

export interface RtspPullAudio extends RtspAacAudio {
  payloadType: number;
  control: string;
  channel?: number;
}

export interface RtspPullTracks {
  video?: RtspPullVideo;
  audio?: RtspPullAudio;
  /** Media sections not pulled, e.g. "audio PCMA/8000". */
  skipped: string[];
  /** The skipped media as the owner's health panel names them. */
  dropped: DroppedTrack[];
}

export interface RtspClientOptions {
  /** rtsp://[user:pass@]host[:port]/path */
  url: string;
  logger?: Logger;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  maxHeaderBytes?: number;
  maxBodyBytes?: number;
  /** One RTP packet of a set-up track (called from the socket's data handler). */
  onRtp?(kind: RtspTrackKind, packet: RtpPacket): void;
  /** One (compound) RTCP packet of a track. */
  onRtcp?(kind: RtspTrackKind, packet: Buffer): void;
  /** The connection ended after play() resolved (not called for close()). */
  onClose?(reason: string): void;
  /** Digest cnonce source (tests). */
  cnonce?: () => string;
}

export interface RtspClientStats {
  rtpPackets: number;
  rtcpPackets: number;
  /** Interleaved frames on channels no track was set up on, or unreadable RTP. */
  junkFrames: number;
  bytesIn: number;
}

interface Pending {
  cseq: number;
  method: string;
  resolve(r: RtspResponse): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** trackOf picks a media section's supported payload type. */
function trackOf(m: SdpMedia): { kind: RtspTrackKind; pt: number } | null {
  for (const pt of m.payloadTypes) {
    const enc = m.rtpmap.get(pt)?.encoding.toUpperCase();
    if (m.type === 'video' && enc === 'H264') return { kind: 'video', pt };
    if (m.type === 'audio' && enc !== undefined && AAC_RTP_ENCODINGS.has(enc)) return { kind: 'audio', pt };
  }
  return null;
}

function describeMedia(m: SdpMedia): string {
  const pt = m.payloadTypes[0];
  const map = pt !== undefined ? m.rtpmap.get(pt) : undefined;
  // Static payload types (RFC 3551) have no rtpmap: 0 PCMU, 8 PCMA.
  const name = map ? `${map.encoding}/${map.clockRate}` : pt === 0 ? 'PCMU/8000' : pt === 8 ? 'PCMA/8000' : `payload type ${pt ?? '?'}`;
  return `${m.type} ${name}`;
}

/** selectTracks reads a DESCRIBE answer's SDP; throws RtspClientError when nothing is playable. */
export function selectTracks(sdpText: string, base: string): { tracks: RtspPullTracks; aggregate: string } {
  let sdp;
  try {
    sdp = parseSdp(sdpText);
  } catch (err) {
    throw new RtspClientError(`bad SDP in DESCRIBE answer (${(err as Error).message})`);
  }
  const tracks: RtspPullTracks = { skipped: [], dropped: [] };
  for (const m of sdp.media) {
    const t = trackOf(m);
    if (t?.kind === 'video' && !tracks.video) {
      const h = h264Params(m.fmtp.get(t.pt));
      if (h.packetizationMode > 1) {
        tracks.skipped.push('video H264 packetization-mode 2');
        tracks.dropped.push({ kind: 'video', codec: 'h264', reason: DROP_UNSUPPORTED_CODEC });
        continue;
      }
      tracks.video = { payloadType: t.pt, control: resolveControl(base, m.control), ...(h.sps ? { sps: h.sps } : {}), ...(h.pps ? { pps: h.pps } : {}) };
    } else if (t?.kind === 'audio' && !tracks.audio) {
      try {
        tracks.audio = { payloadType: t.pt, control: resolveControl(base, m.control), ...aacAudioOf(m, t.pt) };
      } catch (err) {
        if (!(err instanceof SdpRtspError)) throw err;
        const enc = m.rtpmap.get(t.pt)?.encoding.toUpperCase() ?? 'AAC';
        tracks.skipped.push(`audio ${enc} (${err.message})`);
        tracks.dropped.push({ kind: 'audio', codec: enc.toLowerCase(), reason: DROP_UNSUPPORTED_PARAMETERS });
      }
    } else {
      tracks.skipped.push(describeMedia(m));
      tracks.dropped.push(droppedMediaOf(m, t ? DROP_EXTRA_TRACK : DROP_UNSUPPORTED_CODEC));
    }
  }
  if (!tracks.video && !tracks.audio) {
    const what = tracks.skipped.length ? tracks.skipped.join(', ') : 'no media sections';
    throw new RtspClientError(`no H.264 or AAC track in the SDP (${what})`);
  }
  return { tracks, aggregate: resolveControl(base, sdp.control) };
}

/** sessionTimeoutOf reads `Session: id;timeout=N` (seconds) as ms, or the default. */
export function sessionTimeoutOf(value: string | undefined): number {
  const m = /;\s*timeout\s*=\s*(\d{1,6})/i.exec(value ?? '');
  const s = m ? Number(m[1]) : 0;
  return s > 0 ? s * 1000 : RTSP_DEFAULT_SESSION_TIMEOUT_MS;
}

export class RtspClient {
  readonly stats: RtspClientStats = { rtpPackets: 0, rtcpPackets: 0, junkFrames: 0, bytesIn: 0 };
  tracks: RtspPullTracks | null = null;
  sessionId: string | undefined;
  sessionTimeoutMs = RTSP_DEFAULT_SESSION_TIMEOUT_MS;
  /** The URL played (after a redirect), without credentials. */
  url: string;
  private credentials: RtspCredentials | undefined;
  private auth: RtspAuthenticator | null = null;
  private socket: net.Socket | null = null;
  private cseq = 0;
  private pending: Pending[] = [];
  private channels = new Map<number, { kind: RtspTrackKind; rtcp: boolean }>();
  private keepalive: NodeJS.Timeout | null = null;
  private keepaliveMethod = 'OPTIONS';
  private playing = false;
  private closed = false;

  constructor(private readonly o: RtspClientOptions) {
    let split;
    try {
      split = splitUrlCredentials(o.url);
    } catch {
      throw new RtspClientError(`bad RTSP URL ${maskUrl(o.url)}`);
    }
    if (!/^rtsp:$/i.test(new URL(split.url).protocol)) throw new RtspClientError(`not an rtsp:// URL: ${maskUrl(o.url)}`);
    this.url = split.url;
    this.credentials = split.credentials;
  }

  /** maskedUrl is the URL for logs (never with credentials). */
  get maskedUrl(): string {
    return maskUrl(this.url);
  }

  /** play connects and runs OPTIONS → DESCRIBE → SETUP → PLAY; resolves the tracks once PLAY is answered 200. */
  async play(): Promise<RtspPullTracks> {
    try {
      return await this.run();
    } catch (err) {
      this.shutdown();
      const e = err as Error;
      throw e instanceof RtspClientError ? e : new RtspClientError(maskUrl(e.message));
    }
  }

  private async run(): Promise<RtspPullTracks> {
    for (let redirects = 0; ; redirects++) {
      await this.connect();
      const options = await this.exchange('OPTIONS', this.url);
      if (this.redirect(options, redirects)) continue;
      if ((options.headers['public'] ?? '').toUpperCase().split(/[\s,]+/).includes('GET_PARAMETER')) this.keepaliveMethod = 'GET_PARAMETER';
      const describe = await this.exchange('DESCRIBE', this.url, { Accept: SDP_TYPE });
      if (this.redirect(describe, redirects)) continue;
      this.expectOk('DESCRIBE', describe);
      const type = mediaTypeOf(describe.headers['content-type'] ?? SDP_TYPE);
      if (type !== SDP_TYPE) throw new RtspClientError(`DESCRIBE answered ${type}, not ${SDP_TYPE}`);
      const base = describe.headers['content-base'] ?? describe.headers['content-location'] ?? this.url;
      const { tracks, aggregate } = selectTracks(describe.body.toString('utf8'), base);
      for (const s of tracks.skipped) this.o.logger?.info({ url: this.maskedUrl, track: s }, 'RTSP pull: track skipped (only H.264 video and AAC audio are pulled)');
      let next = 0;
      for (const [kind, t] of [['video', tracks.video], ['audio', tracks.audio]] as const) {
        if (!t) continue;
        const res = await this.exchange('SETUP', t.control, { Transport: `RTP/AVP/TCP;unicast;interleaved=${next}-${next + 1}` });
        this.expectOk(`SETUP ${kind}`, res);
        const spec = parseTransportHeader(res.headers['transport'] ?? '')[0];
        if (spec && spec.lowerTransport !== 'TCP') throw new RtspClientError(`SETUP ${kind}: the server answered ${spec.protocol} (only TCP interleaved is supported)`);
        const ch = spec?.interleaved?.[0] ?? next;
        const rtcpCh = spec?.interleaved?.[1] ?? ch + 1;
        t.channel = ch;
        this.channels.set(ch, { kind, rtcp: false });
        this.channels.set(rtcpCh, { kind, rtcp: true });
        next = Math.max(next, ch, rtcpCh) + 1;
        if (this.sessionId === undefined) {
          this.sessionId = sessionIdOf(res.headers['session']);
          if (this.sessionId === undefined) throw new RtspClientError(`SETUP ${kind} answered without a Session header`);
          this.sessionTimeoutMs = sessionTimeoutOf(res.headers['session']);
        }
      }
      this.tracks = tracks;
      const play = await this.exchange('PLAY', aggregate, { Range: 'npt=0.000-' });
      this.expectOk('PLAY', play);
      this.playing = true;
      this.startKeepalive(aggregate);
      this.o.logger?.debug({ url: this.maskedUrl, video: !!tracks.video, audio: !!tracks.audio, skipped: tracks.skipped }, 'RTSP pull playing');
      return tracks;
    }
  }

  /** redirect follows a 301/302 Location once (true: start over on the new URL). */
  private redirect(res: RtspResponse, done: number): boolean {
    if (res.status !== 301 && res.status !== 302) return false;
    const location = res.headers['location'];
    if (!location) throw new RtspClientError(`${res.status} redirect without a Location`, res.status);
    if (done >= MAX_REDIRECTS) throw new RtspClientError(`too many redirects (to ${maskUrl(location)})`, res.status);
    let next;
    try {
      next = splitUrlCredentials(new URL(location, this.url).toString());
    } catch {
      throw new RtspClientError(`bad redirect Location ${maskUrl(location)}`, res.status);
    }
    if (!/^rtsp:$/i.test(new URL(next.url).protocol)) throw new RtspClientError(`redirect to a non-rtsp URL ${maskUrl(next.url)}`, res.status);
    this.o.logger?.info({ from: this.maskedUrl, to: maskUrl(next.url) }, 'RTSP pull redirected');
    this.shutdown(false);
    this.closed = false;
    this.url = next.url;
    if (next.credentials) this.credentials = next.credentials;
    this.auth = null;
    this.sessionId = undefined;
    this.channels.clear();
    return true;
  }

  private expectOk(what: string, res: RtspResponse): void {
    if (res.status >= 200 && res.status < 300) return;
    throw new RtspClientError(`${what} answered ${res.status} ${res.reason}`.trim(), res.status);
  }

  private connect(): Promise<void> {
    const u = new URL(this.url);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = u.port ? Number(u.port) : RTSP_DEFAULT_PORT;
    const timeoutMs = this.o.connectTimeoutMs ?? RTSP_CLIENT_CONNECT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      this.socket = socket;
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RtspClientError(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const parser = new RtspParser({
        onMessage: (m) => this.onMessage(m),
        ...(this.o.maxHeaderBytes ? { maxHeaderBytes: this.o.maxHeaderBytes } : {}),
        ...(this.o.maxBodyBytes ? { maxBodyBytes: this.o.maxBodyBytes } : {}),
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.on('data', (d: Buffer) => {
        if (this.socket !== socket) return;
        this.stats.bytesIn += d.length;
        try {
          parser.push(d);
        } catch (err) {
          const msg = err instanceof RtspParseError ? err.message : (err as Error).message;
          this.lost(`bad data from the server (${msg})`);
        }
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        if (this.socket !== socket) return;
        reject(new RtspClientError(`connection to ${host}:${port} failed (${(err as NodeJS.ErrnoException).code ?? err.message})`));
        this.lost(`connection error (${(err as NodeJS.ErrnoException).code ?? err.message})`);
      });
      socket.on('close', () => {
        clearTimeout(timer);
        if (this.socket !== socket) return;
        reject(new RtspClientError(`connection to ${host}:${port} closed`));
        this.lost('server closed the connection');
      });
    });
  }

  private onMessage(m: RtspMessage): void {
    if (m.kind === 'interleaved') return this.onInterleaved(m.channel, m.payload);
    if (m.kind === 'request') return; // server → client requests (ANNOUNCE, SET_PARAMETER …) are not used
    const cseq = m.headers['cseq'];
    const i = cseq !== undefined ? this.pending.findIndex((p) => String(p.cseq) === cseq.trim()) : 0;
    const p = this.pending[i < 0 ? 0 : i];
    if (!p) return;
    this.pending.splice(this.pending.indexOf(p), 1);
    clearTimeout(p.timer);
    p.resolve(m);
  }

  private onInterleaved(channel: number, payload: Buffer): void {
    const ch = this.channels.get(channel);
    if (!ch) {
      this.stats.junkFrames++;
      return;
    }
    if (ch.rtcp) {
      this.stats.rtcpPackets++;
      this.o.onRtcp?.(ch.kind, payload);
      return;
    }
    let p: RtpPacket;
    try {
      p = parseRtpPacket(payload);
    } catch {
      this.stats.junkFrames++;
      return;
    }
    this.stats.rtpPackets++;
    this.o.onRtp?.(ch.kind, p);
  }

  /** request sends one request and waits for its answer (bounded). */
  private request(method: string, uri: string, headers: RtspHeaderList): Promise<RtspResponse> {
    const socket = this.socket;
    if (!socket || socket.destroyed || this.closed) return Promise.reject(new RtspClientError(`${method}: not connected`));
    const cseq = ++this.cseq;
    const bytes = serializeRequest(method, uri, { CSeq: cseq, 'User-Agent': USER_AGENT, ...(this.sessionId !== undefined ? { Session: this.sessionId } : {}), ...headers });
    const timeoutMs = this.o.requestTimeoutMs ?? RTSP_CLIENT_REQUEST_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = this.pending.filter((p) => p.cseq !== cseq);
        reject(new RtspClientError(`${method} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.push({ cseq, method, resolve, reject, timer });
      socket.write(bytes);
    });
  }

  /** exchange is request() with authentication: a 401 is answered with the URL's credentials (once; a stale Digest nonce once more). */
  private async exchange(method: string, uri: string, headers: RtspHeaderList = {}): Promise<RtspResponse> {
    let retried = false;
    let staleRetried = false;
    for (;;) {
      const h: RtspHeaderList = { ...headers, ...(this.auth ? { Authorization: this.auth.authorization(method, uri) } : {}) };
      const res = await this.request(method, uri, h);
      if (res.status !== 401) return res;
      const challenges = parseWwwAuthenticate(res.headers['www-authenticate'] ?? '');
      if (!this.credentials) throw new RtspClientError(`${method} answered 401 Unauthorized: the server wants credentials (rtsp://USER:PASS@host/...)`, 401);
      const challenge = pickChallenge(challenges);
      if (!challenge) {
        const schemes = challenges.map((c) => c.scheme).join(', ') || 'none';
        throw new RtspClientError(`${method} answered 401 Unauthorized with no supported authentication scheme (offered: ${schemes})`, 401);
      }
      const stale = isStale(challenge);
      if (retried && !(stale && !staleRetried)) {
        throw new RtspClientError(`${method} answered 401 Unauthorized: authentication failed (wrong username or password for ${this.maskedUrl})`, 401);
      }
      if (retried) staleRetried = true;
      retried = true;
      this.auth = new RtspAuthenticator(challenge, this.credentials, this.o.cnonce);
    }
  }

  private startKeepalive(uri: string): void {
    const every = Math.max(KEEPALIVE_MIN_MS, this.sessionTimeoutMs * KEEPALIVE_FRACTION);
    this.keepalive = setInterval(() => {
      this.exchange(this.keepaliveMethod, this.keepaliveMethod === 'OPTIONS' ? this.url : uri)
        .then((res) => {
          // Some servers know no GET_PARAMETER after all: fall back to OPTIONS.
          if (res.status === 405 || res.status === 501) this.keepaliveMethod = 'OPTIONS';
          else if (res.status === 454) this.lost('session expired on the server (454 Session Not Found)');
        })
        .catch((err: Error) => this.lost(`keepalive failed (${err.message})`));
    }, every);
    this.keepalive.unref();
  }

  /** lost ends the connection on an error of the socket (after play(): reported through onClose). */
  private lost(reason: string): void {
    if (this.closed) return;
    const wasPlaying = this.playing;
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(new RtspClientError(`${p.method}: ${reason}`));
    }
    this.shutdown();
    if (wasPlaying) this.o.onClose?.(reason);
  }

  private shutdown(teardown = true): void {
    this.closed = true;
    this.playing = false;
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = null;
    const socket = this.socket;
    this.socket = null;
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(new RtspClientError(`${p.method}: connection closed`));
    }
    if (!socket || socket.destroyed) return;
    if (teardown && this.sessionId !== undefined && socket.writable) {
      const h: RtspHeaderList = { CSeq: ++this.cseq, 'User-Agent': USER_AGENT, Session: this.sessionId };
      try {
        if (this.auth) h['Authorization'] = this.auth.authorization('TEARDOWN', this.url);
        socket.end(serializeRequest('TEARDOWN', this.url, h));
      } catch {
        socket.destroy();
        return;
      }
      setTimeout(() => socket.destroy(), TEARDOWN_GRACE_MS).unref();
    } else {
      socket.destroy();
    }
  }

  /** close sends TEARDOWN (best effort) and closes the connection; onClose is not called. */
  close(): void {
    if (this.closed) return;
    this.shutdown();
  }
}
