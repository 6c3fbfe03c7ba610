/**
 * RtmpSession is one accepted RTMP connection: handshake, chunk stream, NetConnection and
 * NetStream commands, then either a publisher feeding the hub or a player fed by it.
 * A peer that breaks the protocol is disconnected with a logged reason; nothing else is touched.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../observability/logger.js';
import { Amf0Error, type Amf0Object, type Amf0Value } from '../../formats/amf0.js';
import {
  ChunkParser, RtmpChunkError, ackMessage, setChunkSizeMessage, setPeerBandwidthMessage, userControlMessage, windowAckSizeMessage,
  parseUserControl, PEER_BANDWIDTH_DYNAMIC, RTMP_MSG_ACK, RTMP_MSG_AGGREGATE, RTMP_MSG_AUDIO, RTMP_MSG_COMMAND_AMF0, RTMP_MSG_COMMAND_AMF3,
  RTMP_MSG_DATA_AMF0, RTMP_MSG_DATA_AMF3, RTMP_MSG_SET_CHUNK_SIZE, RTMP_MSG_ABORT, RTMP_MSG_SET_PEER_BANDWIDTH, RTMP_MSG_USER_CONTROL,
  RTMP_MSG_VIDEO, RTMP_MSG_WINDOW_ACK_SIZE, USER_CONTROL_PING_REQUEST, USER_CONTROL_PING_RESPONSE, USER_CONTROL_STREAM_BEGIN,
  USER_CONTROL_STREAM_EOF, RTMP_MSG_SHARED_OBJECT_AMF0, RTMP_MSG_SHARED_OBJECT_AMF3, type RtmpMessage,
} from '../../formats/rtmp-chunk.js';
import { FLV_TAG_AUDIO, FLV_TAG_VIDEO, FLV_TAG_SCRIPT, FLV_TAG_HEADER_SIZE } from '../../formats/flv.js';
import { HANDSHAKE_SIZE, RTMP_VERSION, serverHandshake } from './handshake.js';
import {
  commandMessage, dataMessage, decodeCommandPayload, onStatusMessage, streamNameOf, DEFAULT_WINDOW_ACK_SIZE, NC_CONNECT_SUCCESS,
  NC_CONNECT_REJECTED, NS_PUBLISH_START, NS_PUBLISH_BADNAME, NS_UNPUBLISH_SUCCESS, NS_PLAY_RESET, NS_PLAY_START, NS_PLAY_STOP,
  NS_PLAY_STREAM_NOT_FOUND, NS_PLAY_UNPUBLISH_NOTIFY,
} from './messages.js';
import type { LiveStream, StreamHub } from '../hub/hub.js';
import { signQueryOf } from './nms-sign.js';
import { FlvFrameReader, metadataOf } from '../flv/frame-reader.js';
import { SHARED_RTMP_STREAM_ID, rtmpChunksFor, type Batch } from '../hub/batch.js';
import type { StartInfo, Viewer } from '../hub/viewer.js';

/**
 * Until a publish or play is accepted, a session may hold at most this much of half-received
 * messages (commands are small): an unauthenticated peer cannot park megabytes here. Afterwards
 * rtmp.maxMessageBytes applies.
 */
const PRE_AUTH_CHUNK_LIMITS = { maxMessageSize: 64 * 1024, maxPendingBytes: 64 * 1024 };

/** The only application name we serve, for publishers and players alike. */
export const RTMP_APP = 'live';
/** Time a refused peer gets to read its error status before the socket is destroyed. */
const REFUSE_LINGER_MS = 1000;

/**
 * PublishAuthResult: the channel to publish, or a refusal with its kind (WHIP maps the kind to an
 * HTTP status; RTMP sends the reason in its publish status).
 */
export type PublishAuthResult =
  | { ok: true; channel: string }
  | { ok: false; reason: string; kind: 'key' | 'live' | 'refused' | 'unavailable' };

export interface RtmpSessionContext {
  logger: Logger;
  hub: StreamHub;
  chunkSize: number;
  maxMessageBytes: number;
  idleTimeoutMs: number;
  /** The transport, named in the hub's publisher stats and the callbacks: rtmps for sessions inside TLS (default rtmp). */
  protocol?: RtmpTransport;
  /** authorizePublish maps a stream key to a channel (and runs the on-publish callback). */
  authorizePublish(key: string, clientIp: string, protocol: RtmpTransport, credentials?: PublishCredentials): Promise<PublishAuthResult>;
  /** onUnpublished runs after a publisher's stream ended (on-unpublish callback). */
  onUnpublished(channel: string, clientIp: string, reason: string, protocol: RtmpTransport): void;
}

/** RtmpTransport says whether a session runs over plain TCP or inside TLS. */
export type RtmpTransport = 'rtmp' | 'rtmps';

/** PublishCredentials are what a publish carries besides its key (today: Node-Media-Server's `?sign=`). */
export interface PublishCredentials {
  sign?: string;
}

const enum Phase {
  C0C1,
  C2,
  Open,
  Closed,
}

/** ProtocolError is a peer mistake that ends the session. */
class ProtocolError extends Error {}

let nextId = 1;

export class RtmpSession {
  readonly id = nextId++;
  readonly clientIp: string;
  private phase = Phase.C0C1;
  private hs: Buffer[] = [];
  private hsLen = 0;
  private parser: ChunkParser;
  private app = '';
  private connected = false;
  private nextStreamId = SHARED_RTMP_STREAM_ID;
  /** The publish in progress: its hub stream and the FLV edge that turns its messages into frames. */
  private publishing: { streamId: number; stream: LiveStream; channel: string; reader: FlvFrameReader } | null = null;
  private publishPending = false;
  private playing: { streamId: number; detach: () => void; channel: string } | null = null;
  /** A play waiting for the channel to be pulled from another media node (the cluster's edge pull). */
  private playPending = false;
  private peerWindow = 0;
  private lastAck = 0;
  private closed = false;
  private readonly log: Logger;
  private readonly transport: RtmpTransport;

  /** clientIp, when given, is the client address the listener decided (PROXY protocol); else the socket's peer. */
  constructor(readonly socket: Socket, private readonly ctx: RtmpSessionContext, private readonly onGone: (s: RtmpSession) => void, clientIp?: string) {
    this.clientIp = clientIp ?? (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.transport = ctx.protocol ?? 'rtmp';
    this.log = ctx.logger.child({ rtmpSession: this.id, clientIp: this.clientIp, ...(this.transport === 'rtmp' ? {} : { transport: this.transport }) });
    this.parser = new ChunkParser({ ...PRE_AUTH_CHUNK_LIMITS, onMessage: (m) => this.onMessage(m) });
    socket.setNoDelay(true);
    socket.setTimeout(ctx.idleTimeoutMs);
    socket.on('timeout', () => this.fail('idle timeout'));
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'rtmp socket error'));
    socket.on('close', () => this.cleanup('connection closed'));
  }

  get role(): 'publisher' | 'player' | 'idle' {
    return this.publishing ? 'publisher' : this.playing ? 'player' : 'idle';
  }

  private onData(d: Buffer): void {
    if (this.phase === Phase.Closed) return;
    try {
      if (this.phase !== Phase.Open) {
        d = this.handshake(d);
        if ((this.phase as Phase) !== Phase.Open || d.length === 0) return;
      }
      this.parser.push(d);
      this.maybeAck();
    } catch (err) {
      if (err instanceof RtmpChunkError || err instanceof Amf0Error || err instanceof ProtocolError) this.fail(err.message);
      else {
        this.log.error({ err }, 'rtmp session failed');
        this.fail('internal error');
      }
    }
  }

  /** handshake consumes handshake bytes and returns what follows them. */
  private handshake(d: Buffer): Buffer {
    this.hs.push(d);
    this.hsLen += d.length;
    const need = this.phase === Phase.C0C1 ? 1 + HANDSHAKE_SIZE : HANDSHAKE_SIZE;
    if (this.hsLen < need) return Buffer.alloc(0);
    const all = Buffer.concat(this.hs, this.hsLen);
    this.hs = [];
    this.hsLen = 0;
    if (this.phase === Phase.C0C1) {
      if (all[0] !== RTMP_VERSION) throw new ProtocolError(`unsupported RTMP version ${all[0]}`);
      const { response, complex } = serverHandshake(all.subarray(1, 1 + HANDSHAKE_SIZE));
      this.log.debug({ complex }, 'rtmp handshake');
      this.socket.write(response);
      this.phase = Phase.C2;
      return this.handshake(all.subarray(1 + HANDSHAKE_SIZE));
    }
    // C2: we do not verify it (clients differ); what follows is the chunk stream.
    this.phase = Phase.Open;
    return all.subarray(HANDSHAKE_SIZE);
  }

  private maybeAck(): void {
    if (this.peerWindow > 0 && this.parser.bytesIn - this.lastAck >= this.peerWindow) {
      this.lastAck = this.parser.bytesIn;
      this.socket.write(ackMessage(this.parser.bytesIn >>> 0));
    }
  }

  private send(b: Buffer): void {
    if (!this.closed) this.socket.write(b);
  }

  // ---------------------------------------------------------------- messages

  private onMessage(msg: RtmpMessage): void {
    switch (msg.type) {
      case RTMP_MSG_AUDIO:
      case RTMP_MSG_VIDEO:
        if (this.publishing) this.publishing.reader.tag(msg.type === RTMP_MSG_AUDIO ? FLV_TAG_AUDIO : FLV_TAG_VIDEO, msg.timestamp, msg.payload);
        return;
      case RTMP_MSG_DATA_AMF0:
      case RTMP_MSG_DATA_AMF3:
        this.onDataMessage(msg);
        return;
      case RTMP_MSG_COMMAND_AMF0:
      case RTMP_MSG_COMMAND_AMF3:
        this.onCommand(msg, decodeCommandPayload(msg));
        return;
      case RTMP_MSG_AGGREGATE:
        this.onAggregate(msg);
        return;
      case RTMP_MSG_USER_CONTROL: {
        const ev = parseUserControl(msg.payload);
        if (ev.event === USER_CONTROL_PING_REQUEST) this.send(userControlMessage(USER_CONTROL_PING_RESPONSE, ev.value));
        return;
      }
      case RTMP_MSG_WINDOW_ACK_SIZE:
        if (msg.payload.length < 4) throw new ProtocolError('short Window Acknowledgement Size');
        this.peerWindow = msg.payload.readUInt32BE(0);
        return;
      case RTMP_MSG_SET_CHUNK_SIZE:
      case RTMP_MSG_ABORT:
      case RTMP_MSG_ACK:
      case RTMP_MSG_SET_PEER_BANDWIDTH:
      case RTMP_MSG_SHARED_OBJECT_AMF0:
      case RTMP_MSG_SHARED_OBJECT_AMF3:
        return; // chunk size and abort are applied by the parser; the rest needs no answer
      default:
        this.log.debug({ type: msg.type }, 'ignoring unknown RTMP message type');
    }
  }

  private onDataMessage(msg: RtmpMessage): void {
    if (!this.publishing) return;
    let values: Amf0Value[];
    try {
      values = decodeCommandPayload(msg);
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'ignoring undecodable data message');
      return;
    }
    const meta = metadataOf(values);
    if (meta) this.publishing.reader.metadata(meta);
  }

  private onAggregate(msg: RtmpMessage): void {
    if (!this.publishing) return;
    const p = msg.payload;
    let o = 0;
    let base = -1;
    while (o + FLV_TAG_HEADER_SIZE <= p.length) {
      const type = p.readUInt8(o);
      const size = p.readUIntBE(o + 1, 3);
      const ts = (p.readUIntBE(o + 4, 3) | (p.readUInt8(o + 7) << 24)) >>> 0;
      const end = o + FLV_TAG_HEADER_SIZE + size;
      if (end + 4 > p.length) throw new ProtocolError('aggregate message sub-tag overruns the message');
      if (base < 0) base = ts;
      const body = p.subarray(o + FLV_TAG_HEADER_SIZE, end);
      const at = (msg.timestamp + (ts - base)) >>> 0;
      if (type === FLV_TAG_AUDIO || type === FLV_TAG_VIDEO) this.publishing.reader.tag(type, at, body);
      else if (type === FLV_TAG_SCRIPT) this.onDataMessage({ ...msg, type: RTMP_MSG_DATA_AMF0, payload: body });
      o = end + 4;
    }
  }

  private onCommand(msg: RtmpMessage, values: Amf0Value[]): void {
    const [name, tid, , ...args] = values;
    const transactionId = typeof tid === 'number' ? tid : 0;
    const cmdObj = values[2];
    const cs = this.ctx.chunkSize;
    switch (name) {
      case 'connect':
        return this.onConnect(transactionId, cmdObj);
      case 'releaseStream':
      case 'FCPublish':
      case 'FCUnpublish':
      case 'getStreamLength':
        if (!this.connected) throw new ProtocolError(`${name} before connect`);
        if (name === 'FCUnpublish' && this.publishing) this.stopPublishing('unpublished');
        if (transactionId > 0) this.send(commandMessage(cs, 0, '_result', transactionId, null, name === 'getStreamLength' ? 0 : undefined));
        return;
      case 'createStream': {
        if (!this.connected) throw new ProtocolError('createStream before connect');
        if (this.nextStreamId > 16) throw new ProtocolError('too many streams');
        this.send(commandMessage(cs, 0, '_result', transactionId, null, this.nextStreamId++));
        return;
      }
      case 'publish':
        return this.onPublish(msg.streamId, args[0]);
      case 'play':
        return this.onPlay(msg.streamId, args[0]);
      case 'deleteStream':
      case 'closeStream': {
        const sid = name === 'deleteStream' && typeof args[0] === 'number' ? args[0] : msg.streamId;
        if (this.publishing && this.publishing.streamId === sid) this.stopPublishing('unpublished');
        if (this.playing && this.playing.streamId === sid) this.stopPlaying();
        return;
      }
      case '_result':
      case '_error':
      case 'onStatus':
      case 'pause':
      case 'seek':
      case 'receiveAudio':
      case 'receiveVideo':
      case 'FCSubscribe':
      case 'FCUnsubscribe':
        return;
      default:
        if (typeof name !== 'string') throw new ProtocolError('command without a name');
        this.log.debug({ command: name }, 'ignoring unknown RTMP command');
        if (transactionId > 0) this.send(commandMessage(cs, 0, '_error', transactionId, null, { level: 'error', code: 'NetConnection.Call.Failed', description: `unknown command ${name}` }));
    }
  }

  private onConnect(tid: number, cmdObj: Amf0Value): void {
    if (this.connected) throw new ProtocolError('second connect');
    const obj = (cmdObj && typeof cmdObj === 'object' && !Array.isArray(cmdObj) ? cmdObj : {}) as Amf0Object;
    this.app = streamNameOf(obj.app);
    const cs = this.ctx.chunkSize;
    // Our chunk size goes first: every later message, a refusal included, is chunked with it.
    this.send(setChunkSizeMessage(cs));
    if (this.app !== RTMP_APP) {
      this.log.info({ app: this.app }, 'refusing RTMP connect to an unknown app');
      this.send(commandMessage(cs, 0, '_error', tid, null, { level: 'error', code: NC_CONNECT_REJECTED, description: `unknown application "${this.app}"; use "${RTMP_APP}"` }));
      return this.refuse(`unknown app ${this.app}`);
    }
    this.connected = true;
    this.send(windowAckSizeMessage(DEFAULT_WINDOW_ACK_SIZE));
    this.send(setPeerBandwidthMessage(DEFAULT_WINDOW_ACK_SIZE, PEER_BANDWIDTH_DYNAMIC));
    const encoding = typeof obj.objectEncoding === 'number' ? obj.objectEncoding : 0;
    this.send(
      commandMessage(cs, 0, '_result', tid, { fmsVer: 'FMS/3,0,1,123', capabilities: 31 }, {
        level: 'status', code: NC_CONNECT_SUCCESS, description: 'Connection succeeded.', objectEncoding: encoding,
      }),
    );
  }

  private onPublish(streamId: number, rawName: Amf0Value): void {
    if (!this.connected) throw new ProtocolError('publish before connect');
    const cs = this.ctx.chunkSize;
    if (this.publishing || this.publishPending || this.playing || this.playPending) {
      this.send(onStatusMessage(cs, streamId, 'error', NS_PUBLISH_BADNAME, 'this connection already publishes or plays'));
      return;
    }
    const key = streamNameOf(rawName);
    const sign = signQueryOf(rawName);
    this.publishPending = true;
    // While the key is checked nothing is published; media that arrives early is dropped.
    this.ctx
      .authorizePublish(key, this.clientIp, this.transport, sign !== undefined ? { sign } : undefined)
      .then((res) => {
        this.publishPending = false;
        if (this.closed) return;
        if (!res.ok) {
          this.log.info({ reason: res.reason }, 'refused RTMP publish');
          this.send(onStatusMessage(cs, streamId, 'error', NS_PUBLISH_BADNAME, res.reason));
          return this.refuse(res.reason);
        }
        const stream = this.ctx.hub.publish(res.channel, { protocol: this.transport, clientIp: this.clientIp, close: (reason) => this.kick(reason) });
        if (!stream) {
          this.log.info({ channel: res.channel }, 'refused a second publisher');
          this.send(onStatusMessage(cs, streamId, 'error', NS_PUBLISH_BADNAME, `channel ${res.channel} is already publishing`));
          return this.refuse('already publishing');
        }
        this.publishing = { streamId, stream, channel: res.channel, reader: new FlvFrameReader(stream) };
        this.parser.setLimits({ maxMessageSize: this.ctx.maxMessageBytes });
        this.send(userControlMessage(USER_CONTROL_STREAM_BEGIN, streamId));
        this.send(onStatusMessage(cs, streamId, 'status', NS_PUBLISH_START, `${res.channel} is now published.`, { details: res.channel }));
      })
      .catch((err: unknown) => {
        this.publishPending = false;
        this.log.error({ err }, 'publish authorization failed');
        this.send(onStatusMessage(cs, streamId, 'error', NS_PUBLISH_BADNAME, 'authorization unavailable'));
        this.refuse('authorization error');
      });
  }

  private onPlay(streamId: number, rawName: Amf0Value): void {
    if (!this.connected) throw new ProtocolError('play before connect');
    const cs = this.ctx.chunkSize;
    const channel = streamNameOf(rawName);
    if (this.publishing || this.playing || this.playPending) {
      this.send(onStatusMessage(cs, streamId, 'error', NS_PLAY_STREAM_NOT_FOUND, 'this connection already publishes or plays'));
      return;
    }
    if (this.ctx.hub.playable(channel)) return this.startPlay(streamId, channel);
    // Not live here: maybe on another media node, which the edge pull brings here.
    this.playPending = true;
    void this.ctx.hub.openForPlay(channel).then((ok) => {
      this.playPending = false;
      if (this.closed) return;
      if (ok) return this.startPlay(streamId, channel);
      this.send(onStatusMessage(cs, streamId, 'error', NS_PLAY_STREAM_NOT_FOUND, `channel ${channel} is not live`, { details: channel }));
      this.refuse('stream not found');
    });
  }

  private startPlay(streamId: number, channel: string): void {
    const cs = this.ctx.chunkSize;
    // Players only receive; silence from them is normal, so the idle timeout no longer applies.
    this.socket.setTimeout(0);
    this.socket.cork();
    this.send(userControlMessage(USER_CONTROL_STREAM_BEGIN, streamId));
    this.send(onStatusMessage(cs, streamId, 'status', NS_PLAY_RESET, `Playing and resetting ${channel}.`, { details: channel }));
    this.send(onStatusMessage(cs, streamId, 'status', NS_PLAY_START, `Started playing ${channel}.`, { details: channel }));
    this.send(dataMessage(cs, streamId, '|RtmpSampleAccess', true, true));
    const viewer = new RtmpPlayerViewer(this, streamId, cs);
    const detach = this.ctx.hub.addViewer(channel, viewer);
    this.socket.uncork();
    if (!detach) return this.refuse('stream not found');
    this.playing = { streamId, detach, channel };
    this.parser.setLimits({ maxMessageSize: this.ctx.maxMessageBytes });
    this.log.debug({ channel }, 'rtmp play started');
  }

  /** playEnded is called by the viewer when the hub ends the stream or drops the player. */
  playEnded(reason: string, clean: boolean): void {
    if (!this.playing) return;
    const { streamId, channel } = this.playing;
    this.playing = null;
    if (!clean) return this.close(reason);
    const cs = this.ctx.chunkSize;
    this.send(userControlMessage(USER_CONTROL_STREAM_EOF, streamId));
    this.send(onStatusMessage(cs, streamId, 'status', NS_PLAY_UNPUBLISH_NOTIFY, `${channel} is now unpublished.`, { details: channel }));
    this.send(onStatusMessage(cs, streamId, 'status', NS_PLAY_STOP, `Stopped playing ${channel}.`, { details: channel }));
    this.refuse(reason);
  }

  private stopPlaying(): void {
    const p = this.playing;
    this.playing = null;
    p?.detach();
  }

  private stopPublishing(reason: string): void {
    const p = this.publishing;
    if (!p) return;
    this.publishing = null;
    this.send(onStatusMessage(this.ctx.chunkSize, p.streamId, 'status', NS_UNPUBLISH_SUCCESS, `${p.channel} is now unpublished.`, { details: p.channel }));
    p.stream.end(reason);
    this.ctx.onUnpublished(p.channel, this.clientIp, reason, this.transport);
  }

  /** kick is the hub closing this publisher (kick, shutdown). */
  private kick(reason: string): void {
    const p = this.publishing;
    this.publishing = null;
    if (p) this.ctx.onUnpublished(p.channel, this.clientIp, reason, this.transport);
    this.close(reason);
  }

  // ---------------------------------------------------------------- teardown

  /** refuse lets the peer read what we sent, then closes. */
  private refuse(reason: string): void {
    if (this.closed) return;
    this.log.debug({ reason }, 'closing RTMP session');
    this.socket.end();
    const t = setTimeout(() => this.close(reason), REFUSE_LINGER_MS);
    t.unref();
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.log.warn({ reason, role: this.role }, 'disconnecting RTMP peer');
    this.close(reason);
  }

  close(reason: string): void {
    this.cleanup(reason);
    this.socket.destroy();
  }

  private cleanup(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.phase = Phase.Closed;
    if (this.publishing) {
      const p = this.publishing;
      this.publishing = null;
      p.stream.end(reason === 'connection closed' ? 'publisher disconnected' : reason);
      this.ctx.onUnpublished(p.channel, this.clientIp, reason, this.transport);
    }
    this.stopPlaying();
    this.onGone(this);
  }
}

/** RtmpPlayerViewer feeds one RTMP player from shared chunk bytes. */
class RtmpPlayerViewer implements Viewer {
  readonly protocol = 'rtmp' as const;
  onClose?: () => void;

  constructor(private readonly session: RtmpSession, private readonly streamId: number, private readonly chunkSize: number) {}

  queuedBytes(): number {
    return this.session.socket.writableLength;
  }

  start(info: StartInfo): number {
    let n = 0;
    const sock = this.session.socket;
    for (const t of [...info.headers, ...info.gop]) {
      const b = rtmpChunksFor(t, this.chunkSize, this.streamId);
      sock.write(b);
      n += b.length;
    }
    return n;
  }

  write(batch: Batch): number {
    const sock = this.session.socket;
    if (this.streamId === SHARED_RTMP_STREAM_ID) {
      const b = batch.rtmp(this.chunkSize);
      sock.write(b);
      return b.length;
    }
    let n = 0;
    sock.cork();
    for (const t of batch.tags) {
      const b = rtmpChunksFor(t, this.chunkSize, this.streamId);
      sock.write(b);
      n += b.length;
    }
    sock.uncork();
    return n;
  }

  end(reason: string, clean: boolean): void {
    this.session.playEnded(reason, clean);
  }
}
