/**
 * RtmpClient: a small RTMP client that publishes to or plays from an RTMP server. Used by
 * relays (pull and push), tests and the benchmark. One client = one connection = one stream.
 *
 *   connect → [releaseStream, FCPublish,] createStream → publish | play → onStatus
 *
 * rtmps:// is the same protocol inside TLS: the client connects with node:tls (SNI = the
 * host name, the server's certificate verified against the built-in CAs plus an optional
 * extra CA bundle) and, once the TLS session is up, everything else is unchanged.
 */
import { EventEmitter } from 'node:events';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, rootCertificates, type SecureContext, type TLSSocket } from 'node:tls';
import type { Amf0Object, Amf0Value } from '../../formats/amf0.js';
import {
  ChunkParser, encodeChunks, setChunkSizeMessage, userControlMessage, ackMessage, parseUserControl, windowAckSizeMessage,
  CSID_AUDIO, CSID_VIDEO, CSID_DATA, CSID_COMMAND, RTMP_MSG_AUDIO, RTMP_MSG_VIDEO, RTMP_MSG_DATA_AMF0, RTMP_MSG_DATA_AMF3,
  RTMP_MSG_COMMAND_AMF0, RTMP_MSG_COMMAND_AMF3, RTMP_MSG_USER_CONTROL, RTMP_MSG_WINDOW_ACK_SIZE, RTMP_MSG_AGGREGATE,
  USER_CONTROL_PING_REQUEST, USER_CONTROL_PING_RESPONSE, USER_CONTROL_SET_BUFFER_LENGTH, USER_CONTROL_STREAM_EOF, type RtmpMessage,
} from '../../formats/rtmp-chunk.js';
import { FLV_TAG_AUDIO, FLV_TAG_VIDEO, FLV_TAG_SCRIPT, FLV_TAG_HEADER_SIZE } from '../../formats/flv.js';
import { encodeAmf0 } from '../../formats/amf0.js';
import { clientHello, clientFinish, HANDSHAKE_SIZE } from './handshake.js';
import { decodeCommandPayload, DEFAULT_WINDOW_ACK_SIZE, NS_PLAY_START, NS_PUBLISH_START, NS_PLAY_STOP, NS_PLAY_UNPUBLISH_NOTIFY } from './messages.js';

export const RTMP_DEFAULT_PORT = 1935;
/** rtmps:// without a port: 443, as Facebook Live and YouTube publish their RTMPS ingest. */
export const RTMPS_DEFAULT_PORT = 443;

export interface RtmpUrl {
  /** Host name or IP literal to connect to (no brackets around IPv6). */
  host: string;
  port: number;
  app: string;
  stream: string;
  /** scheme://host:port/app, sent in the connect command (the scheme as given: rtmp or rtmps). */
  tcUrl: string;
  /** rtmps://: the connection is TLS. */
  tls: boolean;
}

/**
 * parseRtmpUrl splits rtmp[s]://host[:port]/app/stream[?query] (the query stays with the
 * stream name). The tcUrl always names the port, as FFmpeg and OBS send it.
 */
export function parseRtmpUrl(url: string): RtmpUrl {
  const u = new URL(url);
  if (u.protocol !== 'rtmp:' && u.protocol !== 'rtmps:') throw new Error(`not an rtmp:// or rtmps:// URL: ${url}`);
  const tls = u.protocol === 'rtmps:';
  const parts = u.pathname.replace(/^\/+/, '').split('/');
  if (parts.length < 2 || !parts[0] || !parts.slice(1).join('/')) throw new Error(`RTMP URL needs /app/stream: ${url}`);
  const app = decodeURIComponent(parts[0]);
  const stream = decodeURIComponent(parts.slice(1).join('/')) + u.search;
  const port = u.port ? Number(u.port) : tls ? RTMPS_DEFAULT_PORT : RTMP_DEFAULT_PORT;
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { host, port, app, stream, tcUrl: `${tls ? 'rtmps' : 'rtmp'}://${u.hostname}:${port}/${app}`, tls };
}

/** The last secure context built, by extra CA: relays reconnect with the same CA over and over. */
let cachedContext: { ca: string; ctx: SecureContext } | null = null;

/** secureContextFor trusts Node's built-in CAs plus the given PEM bundle. */
function secureContextFor(ca: string | Buffer): SecureContext {
  const pem = typeof ca === 'string' ? ca : ca.toString('utf8');
  if (cachedContext?.ca !== pem) cachedContext = { ca: pem, ctx: createSecureContext({ ca: [...rootCertificates, pem] }) };
  return cachedContext.ctx;
}

/**
 * tlsFailure names why a TLS connection did not come up: the TCP connect (the error as it is),
 * the certificate check (the socket then carries authorizationError) or the handshake itself.
 */
function tlsFailure(socket: TLSSocket, err: NodeJS.ErrnoException, tcpUp: boolean): Error {
  if (socket.authorizationError) return new RtmpClientError(`TLS certificate verify failed: ${err.message}`, String(socket.authorizationError));
  if (!tcpUp) return err;
  return new RtmpClientError(`TLS handshake failed: ${err.message}`, err.code);
}

export interface RtmpClientOptions {
  /** Send a digest (complex) C1 and verify the server's digests. Default true. */
  complexHandshake?: boolean;
  /** Outgoing chunk size. Default 4096. */
  chunkSize?: number;
  /** Time allowed for connect..publish/play start (TLS handshake included). Default 10 s. */
  timeoutMs?: number;
  maxMessageBytes?: number;
  /**
   * rtmps://: PEM CA certificate(s) trusted in addition to Node's built-in CAs (an internal CA
   * or a test CA). The server's certificate is always verified.
   */
  ca?: string | Buffer;
  /**
   * The IP address to connect to instead of resolving the URL's host (the restream address check
   * resolved and approved it, so a later DNS answer cannot send the push elsewhere). The URL's
   * host still names the server in the RTMP tcUrl and in TLS (SNI and the certificate check).
   */
  connectAddress?: string;
}

/** Media messages held for a 'media' listener that is not there yet (a few seconds of a stream). */
const EARLY_MEDIA_MAX = 1024;

export interface RtmpMediaMessage {
  /** FLV tag type: 8 audio, 9 video, 18 script data. */
  type: number;
  timestamp: number;
  payload: Buffer;
}

export class RtmpClientError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'RtmpClientError';
  }
}

/**
 * RtmpClient events: 'media' (RtmpMediaMessage) while playing, 'status' (code, info),
 * 'end' (reason) when the stream ends or the connection closes (once). Media that arrives
 * before the first 'media' listener is held and given to it, so nothing sent right after
 * Play.Start (the sequence headers) is lost.
 */
export class RtmpClient extends EventEmitter {
  private socket!: Socket;
  private parser: ChunkParser;
  private outChunk: number;
  private nextTid = 1;
  private pendingTx = new Map<number, { resolve: (v: Amf0Value[]) => void; reject: (e: Error) => void }>();
  private statusWaiter: { codes: string[]; resolve: () => void; reject: (e: Error) => void } | null = null;
  private peerWindow = 0;
  private lastAck = 0;
  private ended = false;
  /** Media received before anyone listened to 'media' (null once flushed). */
  private early: RtmpMediaMessage[] | null = [];
  /** Where connect..start is (named in the timeout error: a TLS handshake to a plain RTMP port never ends). */
  private phase = 'TCP connect';
  streamId = 0;
  bytesIn = 0;

  private constructor(readonly url: RtmpUrl, private readonly opts: RtmpClientOptions) {
    super();
    this.on('newListener', (event: string | symbol) => {
      if (event !== 'media' || !this.early) return;
      // after the listener is in place (newListener runs before it is added)
      queueMicrotask(() => {
        const held = this.early;
        this.early = null;
        for (const m of held ?? []) this.emit('media', m);
      });
    });
    this.outChunk = opts.chunkSize ?? 4096;
    this.parser = new ChunkParser({ maxMessageSize: opts.maxMessageBytes ?? 16 * 1024 * 1024, onMessage: (m) => this.onMessage(m) });
  }

  /** publish connects and starts publishing; resolves once the server said Publish.Start. */
  static async publish(url: string, opts: RtmpClientOptions = {}): Promise<RtmpClient> {
    const c = new RtmpClient(parseRtmpUrl(url), opts);
    await c.run('publish');
    return c;
  }

  /** play connects and starts playing; media arrives as 'media' events. */
  static async play(url: string, opts: RtmpClientOptions = {}): Promise<RtmpClient> {
    const c = new RtmpClient(parseRtmpUrl(url), opts);
    await c.run('play');
    return c;
  }

  private async run(mode: 'publish' | 'play'): Promise<void> {
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RtmpClientError(`RTMP ${mode} timed out after ${timeoutMs} ms (${this.phase})`, 'ETIMEDOUT')), timeoutMs);
    });
    try {
      await Promise.race([this.handshakeAndStart(mode), timeout]);
    } catch (err) {
      this.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async handshakeAndStart(mode: 'publish' | 'play'): Promise<void> {
    const complex = this.opts.complexHandshake ?? true;
    const socket = this.url.tls ? this.connectTls() : netConnect({ host: this.opts.connectAddress ?? this.url.host, port: this.url.port, noDelay: true });
    this.socket = socket;
    socket.on('close', () => this.finish('connection closed'));
    await new Promise<void>((resolve, reject) => {
      let tcpUp = false;
      const onTcp = () => {
        tcpUp = true;
        if (this.url.tls) this.phase = 'TLS handshake';
      };
      const onError = (err: NodeJS.ErrnoException) => {
        socket.off('connect', onTcp).off(this.url.tls ? 'secureConnect' : 'connect', onUp);
        const e = this.url.tls ? tlsFailure(socket as TLSSocket, err, tcpUp) : err;
        this.fail(e);
        reject(e);
      };
      const onUp = () => {
        socket.off('connect', onTcp).off('error', onError);
        socket.on('error', (err: Error) => this.fail(err));
        resolve();
      };
      socket.once('connect', onTcp);
      socket.once('error', onError);
      socket.once(this.url.tls ? 'secureConnect' : 'connect', onUp);
    });
    this.phase = 'RTMP handshake';
    const hello = clientHello(complex);
    socket.write(hello.c0c1);
    const s0s1s2 = await this.readExactly(1 + 2 * HANDSHAKE_SIZE);
    socket.write(clientFinish(hello.c1, s0s1s2.head, complex));
    socket.on('data', (d: Buffer) => this.onData(d));
    if (s0s1s2.rest.length) this.onData(s0s1s2.rest);

    socket.write(setChunkSizeMessage(this.outChunk));
    this.phase = 'connect command';
    const connectObj: Amf0Object = {
      app: this.url.app, type: 'nonprivate', flashVer: 'FMLE/3.0 (compatible; onair)', tcUrl: this.url.tcUrl,
    };
    if (mode === 'play') Object.assign(connectObj, { fpad: false, capabilities: 15, audioCodecs: 3191, videoCodecs: 252, videoFunction: 1 });
    const [, info] = await this.call('connect', connectObj);
    const code = (info as Amf0Object | undefined)?.code;
    if (code !== 'NetConnection.Connect.Success') throw new RtmpClientError(`connect refused: ${String(code)}`, String(code));
    socket.write(windowAckSizeMessage(DEFAULT_WINDOW_ACK_SIZE));
    if (mode === 'publish') {
      // OBS-style sequence; servers answer or ignore these.
      this.callNoWait('releaseStream', null, this.url.stream);
      this.callNoWait('FCPublish', null, this.url.stream);
    }
    this.phase = 'createStream';
    const [, sid] = await this.call('createStream', null);
    if (typeof sid !== 'number') throw new RtmpClientError('createStream gave no stream id');
    this.streamId = sid;
    this.phase = `waiting for ${mode === 'publish' ? NS_PUBLISH_START : NS_PLAY_START}`;
    const started = this.waitStatus(mode === 'publish' ? [NS_PUBLISH_START] : [NS_PLAY_START]);
    if (mode === 'publish') {
      this.sendCommand(sid, 'publish', 0, null, this.url.stream, 'live');
    } else {
      this.sendCommand(sid, 'play', 0, null, this.url.stream, -2000);
      socket.write(userControlMessage(USER_CONTROL_SET_BUFFER_LENGTH, sid, 3000));
    }
    await started;
  }

  /** connectTls opens the TLS connection of an rtmps:// URL (SNI only for host names, as RFC 6066 wants). */
  private connectTls(): TLSSocket {
    const { host, port } = this.url;
    const socket = tlsConnect({
      host: this.opts.connectAddress ?? host,
      port,
      ...(isIP(host) ? {} : { servername: host }),
      ...(this.opts.ca ? { secureContext: secureContextFor(this.opts.ca) } : {}),
      rejectUnauthorized: true,
    });
    socket.setNoDelay(true);
    return socket;
  }

  private readExactly(n: number): Promise<{ head: Buffer; rest: Buffer }> {
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      let len = 0;
      const onData = (d: Buffer) => {
        parts.push(d);
        len += d.length;
        if (len >= n) {
          cleanup();
          const all = Buffer.concat(parts, len);
          resolve({ head: all.subarray(0, n), rest: all.subarray(n) });
        }
      };
      const onClose = () => {
        cleanup();
        reject(new RtmpClientError('connection closed during handshake'));
      };
      const cleanup = () => {
        this.socket.off('data', onData);
        this.socket.off('close', onClose);
      };
      this.socket.on('data', onData);
      this.socket.on('close', onClose);
    });
  }

  private sendCommand(streamId: number, name: string, tid: number, ...args: Amf0Value[]): void {
    this.socket.write(encodeChunks(CSID_COMMAND, RTMP_MSG_COMMAND_AMF0, streamId, 0, encodeAmf0(name, tid, ...args), this.outChunk));
  }

  private call(name: string, ...args: Amf0Value[]): Promise<Amf0Value[]> {
    const tid = this.nextTid++;
    return new Promise((resolve, reject) => {
      this.pendingTx.set(tid, { resolve, reject });
      this.sendCommand(0, name, tid, ...args);
    });
  }

  private callNoWait(name: string, ...args: Amf0Value[]): void {
    this.sendCommand(0, name, this.nextTid++, ...args);
  }

  private waitStatus(codes: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.statusWaiter = { codes, resolve, reject };
    });
  }

  private onData(d: Buffer): void {
    this.bytesIn += d.length;
    try {
      this.parser.push(d);
    } catch (err) {
      return this.fail(err as Error);
    }
    if (this.peerWindow > 0 && this.parser.bytesIn - this.lastAck >= this.peerWindow) {
      this.lastAck = this.parser.bytesIn;
      this.socket.write(ackMessage(this.parser.bytesIn >>> 0));
    }
  }

  private onMessage(msg: RtmpMessage): void {
    switch (msg.type) {
      case RTMP_MSG_AUDIO:
      case RTMP_MSG_VIDEO:
        this.emitMedia({ type: msg.type === RTMP_MSG_AUDIO ? FLV_TAG_AUDIO : FLV_TAG_VIDEO, timestamp: msg.timestamp, payload: msg.payload });
        return;
      case RTMP_MSG_DATA_AMF0:
      case RTMP_MSG_DATA_AMF3: {
        const payload = msg.type === RTMP_MSG_DATA_AMF3 && msg.payload[0] === 0 ? msg.payload.subarray(1) : msg.payload;
        this.emitMedia({ type: FLV_TAG_SCRIPT, timestamp: msg.timestamp, payload });
        return;
      }
      case RTMP_MSG_AGGREGATE: {
        const p = msg.payload;
        let o = 0;
        let base = -1;
        while (o + FLV_TAG_HEADER_SIZE <= p.length) {
          const size = p.readUIntBE(o + 1, 3);
          const ts = (p.readUIntBE(o + 4, 3) | (p.readUInt8(o + 7) << 24)) >>> 0;
          if (o + FLV_TAG_HEADER_SIZE + size + 4 > p.length) break;
          if (base < 0) base = ts;
          this.emitMedia({ type: p.readUInt8(o), timestamp: (msg.timestamp + ts - base) >>> 0, payload: p.subarray(o + FLV_TAG_HEADER_SIZE, o + FLV_TAG_HEADER_SIZE + size) });
          o += FLV_TAG_HEADER_SIZE + size + 4;
        }
        return;
      }
      case RTMP_MSG_COMMAND_AMF0:
      case RTMP_MSG_COMMAND_AMF3:
        return this.onCommand(decodeCommandPayload(msg));
      case RTMP_MSG_USER_CONTROL: {
        const ev = parseUserControl(msg.payload);
        if (ev.event === USER_CONTROL_PING_REQUEST) this.socket.write(userControlMessage(USER_CONTROL_PING_RESPONSE, ev.value));
        else if (ev.event === USER_CONTROL_STREAM_EOF) this.emit('status', 'StreamEOF', {});
        return;
      }
      case RTMP_MSG_WINDOW_ACK_SIZE:
        if (msg.payload.length >= 4) this.peerWindow = msg.payload.readUInt32BE(0);
        return;
      default:
    }
  }

  /**
   * emitMedia hands a message to the 'media' listeners. Until the first listener is added, messages
   * are held (at most EARLY_MEDIA_MAX): a server sends the sequence headers right after
   * Play.Start, often in the same read, before play()'s caller could have subscribed.
   */
  private emitMedia(m: RtmpMediaMessage): void {
    if (this.early) {
      if (this.early.length < EARLY_MEDIA_MAX) this.early.push(m);
      return;
    }
    this.emit('media', m);
  }

  private onCommand(values: Amf0Value[]): void {
    const [name, tid] = values;
    if ((name === '_result' || name === '_error') && typeof tid === 'number') {
      const tx = this.pendingTx.get(tid);
      if (!tx) return;
      this.pendingTx.delete(tid);
      if (name === '_result') tx.resolve(values.slice(2));
      else {
        const info = values[3] as Amf0Object | undefined;
        tx.reject(new RtmpClientError(`${String(info?.code ?? 'error')}: ${String(info?.description ?? '')}`, String(info?.code ?? '')));
      }
      return;
    }
    if (name === 'onStatus') {
      const info = (values[3] ?? {}) as Amf0Object;
      const code = String(info.code ?? '');
      this.emit('status', code, info);
      const w = this.statusWaiter;
      if (w && w.codes.includes(code)) {
        this.statusWaiter = null;
        w.resolve();
      } else if (w && info.level === 'error') {
        this.statusWaiter = null;
        w.reject(new RtmpClientError(`${code}: ${String(info.description ?? '')}`, code));
      }
      if (code === NS_PLAY_UNPUBLISH_NOTIFY || code === NS_PLAY_STOP) this.finish('stream ended');
    }
  }

  /** sendTag publishes one FLV-style tag body (audio, video or script data). */
  sendTag(type: number, timestamp: number, body: Buffer): boolean {
    if (this.ended) return false;
    const msgType = type === FLV_TAG_AUDIO ? RTMP_MSG_AUDIO : type === FLV_TAG_VIDEO ? RTMP_MSG_VIDEO : RTMP_MSG_DATA_AMF0;
    const csid = type === FLV_TAG_AUDIO ? CSID_AUDIO : type === FLV_TAG_VIDEO ? CSID_VIDEO : CSID_DATA;
    return this.socket.write(encodeChunks(csid, msgType, this.streamId, timestamp, body, this.outChunk));
  }

  /** sendMetadata publishes @setDataFrame onMetaData. */
  sendMetadata(meta: Amf0Object): void {
    if (this.ended) return;
    this.socket.write(encodeChunks(CSID_DATA, RTMP_MSG_DATA_AMF0, this.streamId, 0, encodeAmf0('@setDataFrame', 'onMetaData', meta), this.outChunk));
  }

  /** writableLength is what is queued towards the server (relays use it for back-pressure). */
  get writableLength(): number {
    return this.socket?.writableLength ?? 0;
  }

  /** close unpublishes politely (when publishing) and closes the connection. */
  close(): void {
    if (this.socket && !this.socket.destroyed && this.streamId && !this.ended) {
      try {
        this.sendCommand(0, 'FCUnpublish', 0, null, this.url.stream);
        this.sendCommand(this.streamId, 'deleteStream', 0, null, this.streamId);
      } catch {
        // socket already gone
      }
      this.socket.end();
      const t = setTimeout(() => this.socket.destroy(), 500);
      t.unref();
    } else {
      this.socket?.destroy();
    }
    this.finish('closed');
  }

  private fail(err: Error): void {
    for (const tx of this.pendingTx.values()) tx.reject(err);
    this.pendingTx.clear();
    this.statusWaiter?.reject(err);
    this.statusWaiter = null;
    this.socket?.destroy();
    this.finish(err.message);
  }

  private finish(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    const err = new RtmpClientError(`connection ended: ${reason}`);
    for (const tx of this.pendingTx.values()) tx.reject(err);
    this.pendingTx.clear();
    this.statusWaiter?.reject(err);
    this.statusWaiter = null;
    this.emit('end', reason);
  }
}
