/**
 * SRT packets (draft-sharabayko-srt, section 3): pure encode/decode of the 16-byte header, the
 * control packets a live-mode listener exchanges (handshake v5 with its extensions, ACK, ACKACK,
 * NAK, keepalive, shutdown, drop request) and the sequence-number arithmetic. Malformed input
 * throws SrtPacketError.
 *
 *   data:    0(1) seq(31) | PP(2) O(1) KK(2) R(1) msgno(26) | timestamp(32) | dst socket id(32) | payload
 *   control: 1(1) type(15) subtype(16) | type-specific info(32) | timestamp(32) | dst socket id(32) | CIF
 *
 *   handshake CIF = version(32) encryption(16) extension(16) isn(32) mtu(32) flow window(32)
 *                   handshake type(32) socket id(32) syn cookie(32) peer ip(128)
 *                   { ext type(16) ext length in 32-bit words(16) contents }*
 */

export class SrtPacketError extends Error {
  constructor(message: string) {
    super(`srt: ${message}`);
    this.name = 'SrtPacketError';
  }
}

export const SRT_HEADER_SIZE = 16;
export const SRT_HANDSHAKE_CIF_SIZE = 48;
/** Sequence numbers are 31 bits; message numbers 26 bits. */
export const SRT_SEQ_MODULO = 0x8000_0000;
export const SRT_MSGNO_MASK = 0x03ff_ffff;
const CONTROL_BIT = 0x8000_0000;

// Control types (section 3.2).
export const CTRL_HANDSHAKE = 0x0000;
export const CTRL_KEEPALIVE = 0x0001;
export const CTRL_ACK = 0x0002;
export const CTRL_NAK = 0x0003;
export const CTRL_CONGESTION_WARNING = 0x0004;
export const CTRL_SHUTDOWN = 0x0005;
export const CTRL_ACKACK = 0x0006;
export const CTRL_DROPREQ = 0x0007;
export const CTRL_PEERERROR = 0x0008;
export const CTRL_USER_DEFINED = 0x7fff;

// Handshake types (section 3.2.1, table 4); rejections are SRT_REJ_BASE + reason.
export const HS_TYPE_DONE = 0xffff_fffd;
export const HS_TYPE_AGREEMENT = 0xffff_fffe;
export const HS_TYPE_CONCLUSION = 0xffff_ffff;
export const HS_TYPE_WAVEAHAND = 0x0000_0000;
export const HS_TYPE_INDUCTION = 0x0000_0001;
/** A handshake type at or above this is a rejection: the reason is type - SRT_REJ_BASE. */
export const SRT_REJ_BASE = 1000;

export const HS_VERSION_UDT4 = 4;
export const HS_VERSION_SRT5 = 5;
/** The listener's induction answer puts this in the extension field to say "I speak HSv5". */
export const SRT_MAGIC_CODE = 0x4a17;
/** What an HSv4/HSv5 caller's induction request carries in the extension field (UDT_DGRAM). */
export const UDT_DGRAM = 2;

// Handshake extension flags (the extension field of a CONCLUSION).
export const HS_EXT_HSREQ = 0x1;
export const HS_EXT_KMREQ = 0x2;
export const HS_EXT_CONFIG = 0x4;

// Handshake extension types.
export const SRT_CMD_HSREQ = 1;
export const SRT_CMD_HSRSP = 2;
export const SRT_CMD_KMREQ = 3;
export const SRT_CMD_KMRSP = 4;
export const SRT_CMD_SID = 5;
export const SRT_CMD_CONGESTION = 6;
export const SRT_CMD_FILTER = 7;
export const SRT_CMD_GROUP = 8;

// HSREQ/HSRSP flags (section 3.2.1.1.1).
export const SRT_OPT_TSBPDSND = 0x01;
export const SRT_OPT_TSBPDRCV = 0x02;
export const SRT_OPT_CRYPT = 0x04;
export const SRT_OPT_TLPKTDROP = 0x08;
export const SRT_OPT_PERIODICNAK = 0x10;
export const SRT_OPT_REXMITFLG = 0x20;
export const SRT_OPT_STREAM = 0x40;
export const SRT_OPT_PACKET_FILTER = 0x80;

/** Packet position flags (PP) of a data packet. */
export const PP_MIDDLE = 0b00;
export const PP_LAST = 0b01;
export const PP_FIRST = 0b10;
export const PP_SOLO = 0b11;

/** Longest stream id the access-control guidelines allow. */
export const SRT_MAX_STREAM_ID = 512;

// Rejection reasons (SRT_REJ_*, on the wire as SRT_REJ_BASE + reason).
export const REJ_UNKNOWN = 0;
export const REJ_SYSTEM = 1;
export const REJ_PEER = 2;
export const REJ_RESOURCE = 3;
export const REJ_ROGUE = 4;
export const REJ_BACKLOG = 5;
export const REJ_IPE = 6;
export const REJ_CLOSE = 7;
export const REJ_VERSION = 8;
export const REJ_RDVCOOKIE = 9;
export const REJ_BADSECRET = 10;
export const REJ_UNSECURE = 11;
export const REJ_MESSAGEAPI = 12;
export const REJ_CONGESTION = 13;
export const REJ_FILTER = 14;
export const REJ_GROUP = 15;
// Access-control rejections (SRT_REJX_*: 1000 + an HTTP-like code), from the stream id guidelines.
export const REJX_BAD_REQUEST = 1400;
export const REJX_UNAUTHORIZED = 1401;
export const REJX_OVERLOAD = 1402;
export const REJX_FORBIDDEN = 1403;
export const REJX_NOTFOUND = 1404;
export const REJX_BAD_MODE = 1405;
export const REJX_UNACCEPTABLE = 1406;
export const REJX_CONFLICT = 1409;
export const REJX_NOTSUP_MEDIA = 1415;
export const REJX_ISE = 1500;
export const REJX_UNIMPLEMENTED = 1501;
export const REJX_DOWN = 1503;

// ---------------------------------------------------------------- sequence numbers

/** seqDiff gives a - b as a signed distance on the 31-bit circle (in (-2^30, 2^30]). */
export function seqDiff(a: number, b: number): number {
  let d = (a - b) % SRT_SEQ_MODULO;
  if (d < 0) d += SRT_SEQ_MODULO;
  return d > SRT_SEQ_MODULO / 2 ? d - SRT_SEQ_MODULO : d;
}

/** seqAdd moves a sequence number by n (either way) on the 31-bit circle. */
export function seqAdd(seq: number, n: number): number {
  let v = (seq + n) % SRT_SEQ_MODULO;
  if (v < 0) v += SRT_SEQ_MODULO;
  return v;
}

// ---------------------------------------------------------------- packet types

export interface SrtDataPacket {
  kind: 'data';
  seq: number;
  position: number;
  inOrder: boolean;
  /** KK: 0 unencrypted, 1 even key, 2 odd key. */
  encryption: number;
  retransmitted: boolean;
  messageNumber: number;
  /** Microseconds since the sender's socket started (wraps at 2^32). */
  timestamp: number;
  destinationSocketId: number;
  payload: Buffer;
}

export interface HandshakeExtension {
  type: number;
  /** Contents, a multiple of 4 bytes. */
  data: Buffer;
}

export interface Handshake {
  version: number;
  encryption: number;
  extensionField: number;
  initialSeq: number;
  mtu: number;
  flowWindow: number;
  type: number;
  socketId: number;
  synCookie: number;
  /** The 16 bytes of the peer IP field as sent. */
  peerIp: Buffer;
  extensions: HandshakeExtension[];
}

/** One control packet; `info` is the type-specific information word. */
export type SrtControlPacket =
  | { kind: 'handshake'; timestamp: number; destinationSocketId: number; handshake: Handshake }
  | { kind: 'keepalive'; timestamp: number; destinationSocketId: number }
  | { kind: 'ack'; timestamp: number; destinationSocketId: number; ackNumber: number; ack: AckInfo }
  | { kind: 'nak'; timestamp: number; destinationSocketId: number; lost: SeqRange[] }
  | { kind: 'shutdown'; timestamp: number; destinationSocketId: number }
  | { kind: 'ackack'; timestamp: number; destinationSocketId: number; ackNumber: number }
  | { kind: 'dropreq'; timestamp: number; destinationSocketId: number; messageNumber: number; first: number; last: number }
  | { kind: 'other'; timestamp: number; destinationSocketId: number; controlType: number; subtype: number; info: number; cif: Buffer };

export type SrtPacket = SrtDataPacket | SrtControlPacket;

/** AckInfo is the CIF of a full ACK (a light ACK has only lastAckSeq). */
export interface AckInfo {
  /** Sequence number of the last acknowledged packet + 1 (the first not yet received). */
  lastAckSeq: number;
  rttUs?: number;
  rttVarUs?: number;
  availableBuffer?: number;
  packetsPerSecond?: number;
  linkCapacity?: number;
  bytesPerSecond?: number;
}

/** SeqRange is an inclusive range of lost sequence numbers (first === last for one packet). */
export interface SeqRange {
  first: number;
  last: number;
}

// ---------------------------------------------------------------- decode

/** isControlPacket tells a control packet from a data packet by the first bit. */
export function isControlPacket(buf: Buffer): boolean {
  return buf.length > 0 && (buf.readUInt8(0) & 0x80) !== 0;
}

/** decodeSrtPacket reads one UDP datagram. */
export function decodeSrtPacket(buf: Buffer): SrtPacket {
  if (buf.length < SRT_HEADER_SIZE) throw new SrtPacketError(`packet of ${buf.length} bytes is shorter than the header`);
  const w0 = buf.readUInt32BE(0);
  const w1 = buf.readUInt32BE(4);
  const timestamp = buf.readUInt32BE(8);
  const destinationSocketId = buf.readUInt32BE(12);
  if ((w0 & CONTROL_BIT) === 0) {
    return {
      kind: 'data',
      seq: w0,
      position: w1 >>> 30,
      inOrder: ((w1 >>> 29) & 1) === 1,
      encryption: (w1 >>> 27) & 3,
      retransmitted: ((w1 >>> 26) & 1) === 1,
      messageNumber: w1 & SRT_MSGNO_MASK,
      timestamp,
      destinationSocketId,
      payload: buf.subarray(SRT_HEADER_SIZE),
    };
  }
  const controlType = (w0 >>> 16) & 0x7fff;
  const subtype = w0 & 0xffff;
  const cif = buf.subarray(SRT_HEADER_SIZE);
  const base = { timestamp, destinationSocketId };
  switch (controlType) {
    case CTRL_HANDSHAKE:
      return { kind: 'handshake', ...base, handshake: decodeHandshake(cif) };
    case CTRL_KEEPALIVE:
      return { kind: 'keepalive', ...base };
    case CTRL_ACK:
      return { kind: 'ack', ...base, ackNumber: w1, ack: decodeAck(cif) };
    case CTRL_NAK:
      return { kind: 'nak', ...base, lost: decodeLossList(cif) };
    case CTRL_SHUTDOWN:
      return { kind: 'shutdown', ...base };
    case CTRL_ACKACK:
      return { kind: 'ackack', ...base, ackNumber: w1 };
    case CTRL_DROPREQ: {
      if (cif.length < 8) throw new SrtPacketError('drop request shorter than 8 bytes');
      return { kind: 'dropreq', ...base, messageNumber: w1, first: cif.readUInt32BE(0) & 0x7fff_ffff, last: cif.readUInt32BE(4) & 0x7fff_ffff };
    }
    default:
      return { kind: 'other', ...base, controlType, subtype, info: w1, cif };
  }
}

/** decodeHandshake reads a handshake CIF and its extension blocks. */
export function decodeHandshake(cif: Buffer): Handshake {
  if (cif.length < SRT_HANDSHAKE_CIF_SIZE) throw new SrtPacketError(`handshake of ${cif.length} bytes is shorter than ${SRT_HANDSHAKE_CIF_SIZE}`);
  const extensions: HandshakeExtension[] = [];
  let o = SRT_HANDSHAKE_CIF_SIZE;
  while (o + 4 <= cif.length) {
    const type = cif.readUInt16BE(o);
    const len = cif.readUInt16BE(o + 2) * 4;
    o += 4;
    if (o + len > cif.length) throw new SrtPacketError(`handshake extension ${type} runs past the packet`);
    extensions.push({ type, data: cif.subarray(o, o + len) });
    o += len;
  }
  return {
    version: cif.readUInt32BE(0),
    encryption: cif.readUInt16BE(4),
    extensionField: cif.readUInt16BE(6),
    initialSeq: cif.readUInt32BE(8) & 0x7fff_ffff,
    mtu: cif.readUInt32BE(12),
    flowWindow: cif.readUInt32BE(16),
    type: cif.readUInt32BE(20),
    socketId: cif.readUInt32BE(24),
    synCookie: cif.readUInt32BE(28),
    peerIp: cif.subarray(32, 48),
    extensions,
  };
}

function decodeAck(cif: Buffer): AckInfo {
  if (cif.length < 4) throw new SrtPacketError('ACK without a sequence number');
  const ack: AckInfo = { lastAckSeq: cif.readUInt32BE(0) & 0x7fff_ffff };
  const words = ['rttUs', 'rttVarUs', 'availableBuffer', 'packetsPerSecond', 'linkCapacity', 'bytesPerSecond'] as const;
  words.forEach((k, i) => {
    const at = 4 + i * 4;
    if (at + 4 <= cif.length) ack[k] = cif.readUInt32BE(at);
  });
  return ack;
}

/** decodeLossList reads a NAK's loss list: single numbers, or a first (top bit set) and last pair. */
export function decodeLossList(cif: Buffer): SeqRange[] {
  const out: SeqRange[] = [];
  for (let o = 0; o + 4 <= cif.length; o += 4) {
    const w = cif.readUInt32BE(o);
    if (w & CONTROL_BIT) {
      if (o + 8 > cif.length) throw new SrtPacketError('loss range without its end');
      out.push({ first: w & 0x7fff_ffff, last: cif.readUInt32BE(o + 4) & 0x7fff_ffff });
      o += 4;
    } else out.push({ first: w, last: w });
  }
  return out;
}

// ---------------------------------------------------------------- encode

function header(w0: number, w1: number, timestamp: number, dst: number, cifLength: number): Buffer {
  const b = Buffer.alloc(SRT_HEADER_SIZE + cifLength);
  b.writeUInt32BE(w0 >>> 0, 0);
  b.writeUInt32BE(w1 >>> 0, 4);
  b.writeUInt32BE(timestamp >>> 0, 8);
  b.writeUInt32BE(dst >>> 0, 12);
  return b;
}

function controlWord(type: number, subtype = 0): number {
  return (CONTROL_BIT | (type << 16) | subtype) >>> 0;
}

/** encodeDataPacket builds a data packet (tests, and a caller if we ever send). */
export function encodeDataPacket(p: Omit<SrtDataPacket, 'kind'>): Buffer {
  const w1 = ((p.position & 3) << 30) | ((p.inOrder ? 1 : 0) << 29) | ((p.encryption & 3) << 27) | ((p.retransmitted ? 1 : 0) << 26) | (p.messageNumber & SRT_MSGNO_MASK);
  const b = header(p.seq & 0x7fff_ffff, w1, p.timestamp, p.destinationSocketId, p.payload.length);
  p.payload.copy(b, SRT_HEADER_SIZE);
  return b;
}

/** encodeHandshake builds a handshake control packet. */
export function encodeHandshake(h: Handshake, timestamp: number, destinationSocketId: number): Buffer {
  const extLen = h.extensions.reduce((n, e) => n + 4 + padded(e.data.length), 0);
  const b = header(controlWord(CTRL_HANDSHAKE), 0, timestamp, destinationSocketId, SRT_HANDSHAKE_CIF_SIZE + extLen);
  let o = SRT_HEADER_SIZE;
  b.writeUInt32BE(h.version >>> 0, o);
  b.writeUInt16BE(h.encryption, o + 4);
  b.writeUInt16BE(h.extensionField, o + 6);
  b.writeUInt32BE(h.initialSeq >>> 0, o + 8);
  b.writeUInt32BE(h.mtu >>> 0, o + 12);
  b.writeUInt32BE(h.flowWindow >>> 0, o + 16);
  b.writeUInt32BE(h.type >>> 0, o + 20);
  b.writeUInt32BE(h.socketId >>> 0, o + 24);
  b.writeUInt32BE(h.synCookie >>> 0, o + 28);
  h.peerIp.copy(b, o + 32, 0, 16);
  o += SRT_HANDSHAKE_CIF_SIZE;
  for (const e of h.extensions) {
    const len = padded(e.data.length);
    b.writeUInt16BE(e.type, o);
    b.writeUInt16BE(len / 4, o + 2);
    e.data.copy(b, o + 4);
    o += 4 + len;
  }
  return b;
}

const padded = (n: number): number => Math.ceil(n / 4) * 4;

/** encodeAck builds a full ACK (all seven CIF words) or, without rtt, a light ACK. */
export function encodeAck(ackNumber: number, ack: AckInfo, timestamp: number, dst: number): Buffer {
  const full = ack.rttUs !== undefined;
  const b = header(controlWord(CTRL_ACK), ackNumber, timestamp, dst, full ? 28 : 4);
  b.writeUInt32BE(ack.lastAckSeq >>> 0, SRT_HEADER_SIZE);
  if (full) {
    [ack.rttUs, ack.rttVarUs, ack.availableBuffer, ack.packetsPerSecond, ack.linkCapacity, ack.bytesPerSecond].forEach((v, i) =>
      b.writeUInt32BE(Math.max(0, Math.min(0xffff_ffff, Math.round(v ?? 0))) >>> 0, SRT_HEADER_SIZE + 4 + i * 4),
    );
  }
  return b;
}

/** encodeNak builds a loss report; ranges become a first (top bit set) / last pair. */
export function encodeNak(lost: readonly SeqRange[], timestamp: number, dst: number): Buffer {
  const words: number[] = [];
  for (const r of lost) {
    if (r.first === r.last) words.push(r.first);
    else words.push((CONTROL_BIT | r.first) >>> 0, r.last);
  }
  const b = header(controlWord(CTRL_NAK), 0, timestamp, dst, words.length * 4);
  words.forEach((w, i) => b.writeUInt32BE(w >>> 0, SRT_HEADER_SIZE + i * 4));
  return b;
}

/** encodeControl builds a control packet with a 4-byte zero CIF (keepalive, shutdown) or none (ACKACK). */
export function encodeControl(type: number, info: number, timestamp: number, dst: number, cif: Buffer = Buffer.alloc(0)): Buffer {
  const b = header(controlWord(type), info, timestamp, dst, cif.length);
  cif.copy(b, SRT_HEADER_SIZE);
  return b;
}

// ---------------------------------------------------------------- handshake extensions

export interface HsReq {
  srtVersion: number;
  flags: number;
  /** Upper 16 bits: the sender of this message's receive latency (ms). */
  receiverDelayMs: number;
  /** Lower 16 bits: the latency it asks its peer to receive with (ms). */
  senderDelayMs: number;
}

/** decodeHsReq reads an HSREQ/HSRSP extension (12 bytes). */
export function decodeHsReq(data: Buffer): HsReq {
  if (data.length < 12) throw new SrtPacketError(`HSREQ of ${data.length} bytes (12 expected)`);
  return { srtVersion: data.readUInt32BE(0), flags: data.readUInt32BE(4), receiverDelayMs: data.readUInt16BE(8), senderDelayMs: data.readUInt16BE(10) };
}

export function encodeHsReq(h: HsReq): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(h.srtVersion >>> 0, 0);
  b.writeUInt32BE(h.flags >>> 0, 4);
  b.writeUInt16BE(h.receiverDelayMs & 0xffff, 8);
  b.writeUInt16BE(h.senderDelayMs & 0xffff, 10);
  return b;
}

/**
 * decodeStreamId reads the SID extension. libsrt copies the string into 32-bit words in host
 * (little-endian) order, so each group of four bytes arrives reversed; trailing zero padding is cut.
 */
export function decodeStreamId(data: Buffer): string {
  const out = Buffer.alloc(data.length);
  for (let i = 0; i + 4 <= data.length; i += 4) {
    out[i] = data.readUInt8(i + 3);
    out[i + 1] = data.readUInt8(i + 2);
    out[i + 2] = data.readUInt8(i + 1);
    out[i + 3] = data.readUInt8(i);
  }
  let end = out.length;
  while (end > 0 && out[end - 1] === 0) end--;
  return out.subarray(0, end).toString('utf8');
}

/** encodeStreamId writes a stream id as the SID extension expects (see decodeStreamId). */
export function encodeStreamId(id: string): Buffer {
  const raw = Buffer.from(id, 'utf8');
  if (raw.length > SRT_MAX_STREAM_ID) throw new SrtPacketError(`stream id longer than ${SRT_MAX_STREAM_ID} bytes`);
  const b = Buffer.alloc(padded(raw.length));
  for (let i = 0; i < raw.length; i++) b[(i & ~3) + 3 - (i & 3)] = raw.readUInt8(i);
  return b;
}

/** encodePeerIp writes an address into the 16-byte peer IP field (IPv4: one word, byte order as libsrt sends it). */
export function encodePeerIp(address: string): Buffer {
  const b = Buffer.alloc(16);
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i.exec(address);
  if (v4) {
    for (let i = 0; i < 4; i++) b[3 - i] = Number(v4[i + 1]) & 0xff;
    return b;
  }
  // IPv6: eight groups, each 32-bit word little-endian as for IPv4.
  const parts = expandIpv6(address);
  if (parts) {
    const raw = Buffer.alloc(16);
    parts.forEach((g, i) => raw.writeUInt16BE(g, i * 2));
    for (let w = 0; w < 4; w++) for (let i = 0; i < 4; i++) b[w * 4 + i] = raw.readUInt8(w * 4 + 3 - i);
  }
  return b;
}

function expandIpv6(address: string): number[] | null {
  // Drop an IPv6 zone ("fe80::1%eth0").
  const s = address.replace(/%.*$/s, '');
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const a = head ? head.split(':').filter(Boolean) : [];
  const c = tail ? tail.split(':').filter(Boolean) : [];
  const missing = 8 - a.length - c.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return null;
  const groups = [...a, ...Array<string>(missing).fill('0'), ...c].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/** rejectionReason reads the reason of a rejecting handshake type (null: not a rejection). */
export function rejectionReason(handshakeType: number): number | null {
  return handshakeType >= SRT_REJ_BASE && handshakeType < HS_TYPE_DONE ? handshakeType - SRT_REJ_BASE : null;
}
