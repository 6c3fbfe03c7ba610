/**
 * RTMP chunk stream (RTMP 1.0 spec, section 5.3): a push parser that reassembles messages
 * from chunks split anywhere in the input, an encoder that turns a message into chunks,
 * and the protocol control / user control messages. Pure: no sockets, no timers.
 * Malformed input throws RtmpChunkError; the parser stays failed afterwards.
 *
 *   chunk       = basicHeader messageHeader [extendedTimestamp] payload(<= chunkSize)
 *   basicHeader = fmt(2) csid(6) | fmt(2) 0 csid-64(8) | fmt(2) 1 csid-64(16 LE)
 *   fmt 0: timestamp(24) length(24) typeId(8) streamId(32 LE)   — 11 bytes
 *   fmt 1: delta(24) length(24) typeId(8)                       — 7 bytes
 *   fmt 2: delta(24)                                            — 3 bytes
 *   fmt 3: nothing; the extended timestamp repeats if the stream's header used one
 */

export const RTMP_MSG_SET_CHUNK_SIZE = 1;
export const RTMP_MSG_ABORT = 2;
export const RTMP_MSG_ACK = 3;
export const RTMP_MSG_USER_CONTROL = 4;
export const RTMP_MSG_WINDOW_ACK_SIZE = 5;
export const RTMP_MSG_SET_PEER_BANDWIDTH = 6;
export const RTMP_MSG_AUDIO = 8;
export const RTMP_MSG_VIDEO = 9;
export const RTMP_MSG_DATA_AMF3 = 15;
export const RTMP_MSG_SHARED_OBJECT_AMF3 = 16;
export const RTMP_MSG_COMMAND_AMF3 = 17;
export const RTMP_MSG_DATA_AMF0 = 18;
export const RTMP_MSG_SHARED_OBJECT_AMF0 = 19;
export const RTMP_MSG_COMMAND_AMF0 = 20;
export const RTMP_MSG_AGGREGATE = 22;

export const USER_CONTROL_STREAM_BEGIN = 0;
export const USER_CONTROL_STREAM_EOF = 1;
export const USER_CONTROL_STREAM_DRY = 2;
export const USER_CONTROL_SET_BUFFER_LENGTH = 3;
export const USER_CONTROL_STREAM_IS_RECORDED = 4;
export const USER_CONTROL_PING_REQUEST = 6;
export const USER_CONTROL_PING_RESPONSE = 7;

export const PEER_BANDWIDTH_HARD = 0;
export const PEER_BANDWIDTH_SOFT = 1;
export const PEER_BANDWIDTH_DYNAMIC = 2;

/** Chunk stream ids we send on, by convention. */
export const CSID_PROTOCOL = 2;
export const CSID_COMMAND = 3;
export const CSID_AUDIO = 4;
export const CSID_DATA = 5;
export const CSID_VIDEO = 6;

export const RTMP_DEFAULT_CHUNK_SIZE = 128;
/** Largest chunk size we accept from a peer (the spec allows 2^31-1; real encoders use <= 64 KiB). */
export const RTMP_MAX_CHUNK_SIZE = 0xffffff;
const EXTENDED_TIMESTAMP = 0xffffff;
const MAX_CSID = 65599;
/** Open chunk streams per connection; legitimate peers use fewer than ten. */
const MAX_CHUNK_STREAMS = 64;

/** RtmpChunkError is the only error the chunk parser throws. */
export class RtmpChunkError extends Error {
  constructor(message: string) {
    super(`rtmp chunk: ${message}`);
    this.name = 'RtmpChunkError';
  }
}

export interface RtmpMessage {
  csid: number;
  type: number;
  streamId: number;
  /** Absolute timestamp in ms (uint32). */
  timestamp: number;
  payload: Buffer;
}

interface ChunkStreamState {
  timestamp: number;
  delta: number;
  length: number;
  type: number;
  streamId: number;
  /** The last header carried an extended timestamp; fmt 3 chunks repeat it. */
  extended: boolean;
  extendedValue: number;
  hasHeader: boolean;
  parts: Buffer[];
  received: number;
}

/** ChunkLimits bound what a peer can make the parser hold. */
export interface ChunkLimits {
  /** Largest message length a header may declare. */
  maxMessageSize: number;
  /** Largest sum of the declared lengths of the messages being reassembled at once (all chunk streams; default: no bound beyond maxMessageSize each). */
  maxPendingBytes?: number;
}

export interface ChunkParserOptions extends ChunkLimits {
  onMessage(msg: RtmpMessage): void;
}

const enum State {
  Basic,
  Header,
  Payload,
}

/** ChunkParser reassembles RTMP messages; it applies Set Chunk Size and Abort itself. */
export class ChunkParser {
  chunkSize = RTMP_DEFAULT_CHUNK_SIZE;
  /** Total bytes consumed, for acknowledgements. */
  bytesIn = 0;
  private streams = new Map<number, ChunkStreamState>();
  private leftover: Buffer | null = null;
  private state = State.Basic;
  private cur: ChunkStreamState | null = null;
  private curCsid = 0;
  private payloadLeft = 0;
  private failed: RtmpChunkError | null = null;
  /** Sum of the declared lengths of messages begun and not yet complete (bounded by maxPendingBytes). */
  private pending = 0;
  private limits: Required<ChunkLimits>;

  constructor(private readonly opts: ChunkParserOptions) {
    this.limits = { maxMessageSize: opts.maxMessageSize, maxPendingBytes: opts.maxPendingBytes ?? Infinity };
  }

  /** setLimits changes the bounds for messages that begin from now on (e.g. wider once a session is accepted). */
  setLimits(limits: ChunkLimits): void {
    this.limits = { maxMessageSize: limits.maxMessageSize, maxPendingBytes: limits.maxPendingBytes ?? Infinity };
  }

  /** push feeds bytes; messages are delivered synchronously through onMessage. */
  push(input: Buffer): void {
    if (this.failed) throw this.failed;
    this.bytesIn += input.length;
    let buf = input;
    if (this.leftover) {
      buf = Buffer.concat([this.leftover, input]);
      this.leftover = null;
    }
    try {
      let o = 0;
      while (o < buf.length) {
        if (this.state === State.Payload) {
          const n = Math.min(this.payloadLeft, buf.length - o);
          this.appendPayload(buf.subarray(o, o + n));
          o += n;
          this.payloadLeft -= n;
          if (this.payloadLeft === 0) this.endChunk();
          continue;
        }
        const used = this.parseHeader(buf, o);
        if (used === 0) {
          this.leftover = Buffer.from(buf.subarray(o));
          return;
        }
        o += used;
      }
    } catch (err) {
      this.failed = err instanceof RtmpChunkError ? err : new RtmpChunkError(String((err as Error)?.message ?? err));
      throw this.failed;
    }
  }

  /** parseHeader parses one complete chunk header at o; returns bytes used or 0 if incomplete. */
  private parseHeader(buf: Buffer, o: number): number {
    const start = o;
    const avail = buf.length - o;
    const b0 = buf.readUInt8(o);
    const fmt = b0 >> 6;
    let csid = b0 & 0x3f;
    o++;
    if (csid === 0) {
      if (avail < 2) return 0;
      csid = buf.readUInt8(o) + 64;
      o++;
    } else if (csid === 1) {
      if (avail < 3) return 0;
      csid = buf.readUInt8(o) + buf.readUInt8(o + 1) * 256 + 64;
      o += 2;
    }
    if (csid > MAX_CSID) throw new RtmpChunkError(`chunk stream id ${csid} out of range`);
    const headerLen = fmt === 0 ? 11 : fmt === 1 ? 7 : fmt === 2 ? 3 : 0;
    if (buf.length - o < headerLen) return 0;
    let st = this.streams.get(csid);
    if (!st) {
      if (fmt !== 0 && fmt !== 1) {
        // fmt 2/3 need a previous header on this chunk stream
        throw new RtmpChunkError(`fmt ${fmt} chunk on chunk stream ${csid} without a previous header`);
      }
      if (this.streams.size >= MAX_CHUNK_STREAMS) throw new RtmpChunkError('too many chunk streams');
      st = { timestamp: 0, delta: 0, length: 0, type: 0, streamId: 0, extended: false, extendedValue: 0, hasHeader: false, parts: [], received: 0 };
      this.streams.set(csid, st);
    }
    const midMessage = st.received > 0;
    let ts = 0;
    if (fmt <= 2) {
      ts = buf.readUIntBE(o, 3);
      if (fmt <= 1) {
        const length = buf.readUIntBE(o + 3, 3);
        const type = buf.readUInt8(o + 6);
        if (midMessage) throw new RtmpChunkError(`new message header on chunk stream ${csid} before the previous message ended`);
        st.length = length;
        st.type = type;
        if (fmt === 0) st.streamId = buf.readUInt32LE(o + 7);
      } else if (midMessage) {
        throw new RtmpChunkError(`fmt 2 chunk on chunk stream ${csid} in the middle of a message`);
      }
      o += headerLen;
      const extended = ts === EXTENDED_TIMESTAMP;
      if (extended) {
        if (buf.length - o < 4) return 0;
        ts = buf.readUInt32BE(o);
        o += 4;
      }
      st.extended = extended;
      st.extendedValue = ts;
      if (fmt === 0) {
        st.timestamp = ts;
        st.delta = ts;
      } else {
        st.delta = ts;
        st.timestamp = (st.timestamp + ts) >>> 0;
      }
      st.hasHeader = true;
    } else {
      if (!st.hasHeader) throw new RtmpChunkError(`fmt 3 chunk on chunk stream ${csid} without a previous header`);
      if (st.extended) {
        if (buf.length - o < 4) return 0;
        const v = buf.readUInt32BE(o);
        if (!midMessage) {
          o += 4;
          st.extendedValue = v;
          st.delta = v;
        } else if (v === st.extendedValue) {
          // Most peers repeat the extended timestamp in continuation chunks; some do not.
          o += 4;
        }
      }
      if (!midMessage) st.timestamp = (st.timestamp + st.delta) >>> 0;
    }
    if (!midMessage && st.length > this.limits.maxMessageSize) {
      throw new RtmpChunkError(`message of ${st.length} bytes exceeds limit ${this.limits.maxMessageSize}`);
    }
    if (!midMessage && st.length > 0) {
      // Reserve the whole declared length now, so many half-sent messages cannot add up past the bound.
      if (this.pending + st.length > this.limits.maxPendingBytes) {
        throw new RtmpChunkError(`messages in progress would hold ${this.pending + st.length} bytes, more than the limit ${this.limits.maxPendingBytes}`);
      }
      this.pending += st.length;
    }
    this.cur = st;
    this.curCsid = csid;
    this.payloadLeft = Math.min(this.chunkSize, st.length - st.received);
    if (this.payloadLeft === 0) this.endChunk();
    else this.state = State.Payload;
    return o - start;
  }

  private appendPayload(part: Buffer): void {
    const st = this.cur!;
    st.parts.push(part);
    st.received += part.length;
  }

  private endChunk(): void {
    const st = this.cur!;
    this.state = State.Basic;
    if (st.received < st.length) return;
    const only = st.parts.length === 1 ? st.parts[0] : undefined;
    const payload = only ?? Buffer.concat(st.parts, st.received);
    this.pending -= st.length;
    st.parts = [];
    st.received = 0;
    const msg: RtmpMessage = { csid: this.curCsid, type: st.type, streamId: st.streamId, timestamp: st.timestamp, payload };
    this.applyControl(msg);
    this.opts.onMessage(msg);
  }

  private applyControl(msg: RtmpMessage): void {
    if (msg.type === RTMP_MSG_SET_CHUNK_SIZE) {
      if (msg.payload.length < 4) throw new RtmpChunkError('short Set Chunk Size');
      const size = msg.payload.readUInt32BE(0) & 0x7fffffff;
      if (size < 1 || size > RTMP_MAX_CHUNK_SIZE) throw new RtmpChunkError(`chunk size ${size} out of range`);
      this.chunkSize = size;
    } else if (msg.type === RTMP_MSG_ABORT) {
      if (msg.payload.length < 4) throw new RtmpChunkError('short Abort');
      const st = this.streams.get(msg.payload.readUInt32BE(0));
      if (st) {
        if (st.received > 0) this.pending -= st.length;
        st.parts = [];
        st.received = 0;
      }
    }
  }
}

// ---------------------------------------------------------------- encoding

function basicHeaderSize(csid: number): number {
  return csid < 64 ? 1 : csid < 320 ? 2 : 3;
}

function writeBasicHeader(b: Buffer, o: number, fmt: number, csid: number): number {
  if (csid < 2 || csid > MAX_CSID) throw new RangeError(`rtmp: bad chunk stream id ${csid}`);
  if (csid < 64) {
    b[o] = (fmt << 6) | csid;
    return o + 1;
  }
  if (csid < 320) {
    b[o] = fmt << 6;
    b[o + 1] = csid - 64;
    return o + 2;
  }
  b[o] = (fmt << 6) | 1;
  b[o + 1] = (csid - 64) & 0xff;
  b[o + 2] = (csid - 64) >> 8;
  return o + 3;
}

/**
 * encodeChunks turns one message into chunks in a single buffer: a fmt 0 chunk (absolute
 * timestamp, so the bytes do not depend on what the receiver saw before) and fmt 3
 * continuations, repeating the extended timestamp when one is used.
 */
export function encodeChunks(csid: number, type: number, streamId: number, timestamp: number, payload: Buffer, chunkSize: number): Buffer {
  const ts = timestamp >>> 0;
  const extended = ts >= EXTENDED_TIMESTAMP;
  const bh = basicHeaderSize(csid);
  const ext = extended ? 4 : 0;
  const nChunks = Math.max(1, Math.ceil(payload.length / chunkSize));
  const size = bh + 11 + ext + (nChunks - 1) * (bh + ext) + payload.length;
  const b = Buffer.allocUnsafe(size);
  let o = writeBasicHeader(b, 0, 0, csid);
  b.writeUIntBE(extended ? EXTENDED_TIMESTAMP : ts, o, 3);
  b.writeUIntBE(payload.length, o + 3, 3);
  b[o + 6] = type;
  b.writeUInt32LE(streamId, o + 7);
  o += 11;
  if (extended) o = b.writeUInt32BE(ts, o);
  let p = 0;
  for (let i = 0; i < nChunks; i++) {
    if (i > 0) {
      o = writeBasicHeader(b, o, 3, csid);
      if (extended) o = b.writeUInt32BE(ts, o);
    }
    const n = Math.min(chunkSize, payload.length - p);
    payload.copy(b, o, p, p + n);
    o += n;
    p += n;
  }
  return b;
}

function control(type: number, payload: Buffer): Buffer {
  return encodeChunks(CSID_PROTOCOL, type, 0, 0, payload, RTMP_DEFAULT_CHUNK_SIZE);
}

function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

/** setChunkSizeMessage announces our outgoing chunk size. */
export function setChunkSizeMessage(size: number): Buffer {
  return control(RTMP_MSG_SET_CHUNK_SIZE, u32(size & 0x7fffffff));
}
export function abortMessage(csid: number): Buffer {
  return control(RTMP_MSG_ABORT, u32(csid));
}
export function ackMessage(sequence: number): Buffer {
  return control(RTMP_MSG_ACK, u32(sequence));
}
export function windowAckSizeMessage(size: number): Buffer {
  return control(RTMP_MSG_WINDOW_ACK_SIZE, u32(size));
}
export function setPeerBandwidthMessage(size: number, limitType: number): Buffer {
  const b = Buffer.allocUnsafe(5);
  b.writeUInt32BE(size, 0);
  b[4] = limitType;
  return control(RTMP_MSG_SET_PEER_BANDWIDTH, b);
}
/** userControlMessage: event type(16) then one or two 32-bit values. */
export function userControlMessage(event: number, ...values: number[]): Buffer {
  const b = Buffer.allocUnsafe(2 + 4 * values.length);
  b.writeUInt16BE(event, 0);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 2 + 4 * i));
  return control(RTMP_MSG_USER_CONTROL, b);
}

export interface UserControlEvent {
  event: number;
  value: number;
  value2?: number;
}

/** parseUserControl reads a User Control message payload. */
export function parseUserControl(payload: Buffer): UserControlEvent {
  if (payload.length < 6) throw new RtmpChunkError('short User Control message');
  const ev: UserControlEvent = { event: payload.readUInt16BE(0), value: payload.readUInt32BE(2) };
  if (payload.length >= 10) ev.value2 = payload.readUInt32BE(6);
  return ev;
}
