/**
 * H.264 over RTP (RFC 6184), packetization-mode=1 (non-interleaved). Pure: an AVCC access
 * unit (length-prefixed NAL units, as in FLV and our MediaFrame) becomes RTP payloads, built
 * once per frame and shared by every viewer (only the RTP header differs per viewer).
 *
 *   single NAL unit packet:  [F|NRI|type 1..23] payload...
 *   STAP-A (type 24):        [F|NRI|24] { size(16) NAL }*
 *   FU-A (type 28):          [F|NRI|28] [S|E|R|type] fragment...
 *
 * The RTP marker bit goes on the last packet of the access unit; the RTP clock is 90 kHz.
 */
import { NAL_TYPE_AUD, NAL_TYPE_IDR, NAL_TYPE_PPS, NAL_TYPE_SPS } from './avc.js';

export class RtpError extends Error {
  constructor(message: string) {
    super(`rtp: ${message}`);
    this.name = 'RtpError';
  }
}

/** RTP_H264_DEFAULT_MTU is the largest RTP payload we build (leaves room for headers, SRTP and tunnels). */
export const RTP_H264_DEFAULT_MTU = 1200;
/** RTP_VIDEO_CLOCK_RATE is H.264's RTP clock (RFC 6184 8.2.1). */
export const RTP_VIDEO_CLOCK_RATE = 90_000;
export const NAL_TYPE_FILLER = 12;
export const NAL_TYPE_STAP_A = 24;
export const NAL_TYPE_FU_A = 28;
const NAL_TYPE_MASK = 0x1f;
const NAL_NRI_MASK = 0x60;
const NAL_F_BIT = 0x80;
const FU_START = 0x80;
const FU_END = 0x40;
const FU_HEADER_BYTES = 2;
const STAP_A_HEADER_BYTES = 1;
const STAP_A_SIZE_BYTES = 2;
/** Smallest MTU that can carry an FU-A fragment of at least one byte. */
const MIN_MTU = FU_HEADER_BYTES + 1;

export interface H264Packetization {
  /** RTP payloads in send order; the last one carries the marker bit. */
  payloads: Buffer[];
  /** The access unit holds an IDR slice (parameter sets were put in front). */
  keyframe: boolean;
}

export interface H264PacketizeOptions {
  /** Largest payload in bytes (default RTP_H264_DEFAULT_MTU). */
  mtu?: number;
  /** Bytes of each NAL length prefix (avcC lengthSizeMinusOne + 1; default 4). */
  nalLengthSize?: number;
  /** SPS and PPS of the stream (from avcC), sent before every IDR that lacks them. */
  sps?: readonly Buffer[];
  pps?: readonly Buffer[];
}

/** splitAvcc splits an AVCC access unit into NAL units; an empty unit or a length past the end throws RtpError. */
export function splitAvcc(au: Buffer, lengthSize = 4): Buffer[] {
  if (lengthSize < 1 || lengthSize > 4) throw new RtpError(`bad NAL length size ${lengthSize}`);
  if (au.length === 0) throw new RtpError('empty access unit');
  const nals: Buffer[] = [];
  let at = 0;
  while (at < au.length) {
    if (at + lengthSize > au.length) throw new RtpError(`truncated NAL length prefix at byte ${at}`);
    const len = au.readUIntBE(at, lengthSize);
    at += lengthSize;
    if (len === 0) throw new RtpError(`zero-length NAL unit at byte ${at - lengthSize}`);
    if (at + len > au.length) throw new RtpError(`NAL unit of ${len} bytes runs past the access unit (${au.length - at} left)`);
    nals.push(au.subarray(at, at + len));
    at += len;
  }
  return nals;
}

/** nalType is the 5-bit nal_unit_type of a NAL unit. */
export function nalType(nal: Buffer): number {
  return nal.readUInt8(0) & NAL_TYPE_MASK;
}

/** stapA aggregates NAL units into one STAP-A payload (NRI is the highest of the units'). */
export function stapA(nals: readonly Buffer[]): Buffer {
  let nri = 0;
  let size = STAP_A_HEADER_BYTES;
  for (const n of nals) {
    nri = Math.max(nri, n.readUInt8(0) & NAL_NRI_MASK);
    size += STAP_A_SIZE_BYTES + n.length;
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = nri | NAL_TYPE_STAP_A;
  let at = STAP_A_HEADER_BYTES;
  for (const n of nals) {
    out.writeUInt16BE(n.length, at);
    n.copy(out, at + STAP_A_SIZE_BYTES);
    at += STAP_A_SIZE_BYTES + n.length;
  }
  return out;
}

/** fuA fragments one NAL unit into FU-A payloads of at most `mtu` bytes. */
export function fuA(nal: Buffer, mtu: number): Buffer[] {
  if (mtu < MIN_MTU) throw new RtpError(`MTU ${mtu} too small for FU-A`);
  const indicator = (nal.readUInt8(0) & (NAL_F_BIT | NAL_NRI_MASK)) | NAL_TYPE_FU_A;
  const type = nalType(nal);
  const room = mtu - FU_HEADER_BYTES;
  const out: Buffer[] = [];
  // The NAL header byte is not sent: the FU indicator and header carry its fields.
  for (let at = 1; at < nal.length; at += room) {
    const end = Math.min(at + room, nal.length);
    const p = Buffer.allocUnsafe(FU_HEADER_BYTES + end - at);
    p[0] = indicator;
    p[1] = (at === 1 ? FU_START : 0) | (end === nal.length ? FU_END : 0) | type;
    nal.copy(p, FU_HEADER_BYTES, at, end);
    out.push(p);
  }
  return out;
}

/**
 * packetizeH264 turns one AVCC access unit into RTP payloads (RFC 6184, packetization-mode=1):
 * NAL units that fit go as single NAL unit packets, bigger ones as FU-A fragments; access unit
 * delimiters and filler data are dropped; an access unit with an IDR slice gets the stream's
 * SPS and PPS in front (one STAP-A when they fit, else single packets) unless it carries them.
 */
export function packetizeH264(au: Buffer, opts: H264PacketizeOptions = {}): H264Packetization {
  const mtu = opts.mtu ?? RTP_H264_DEFAULT_MTU;
  if (mtu < MIN_MTU) throw new RtpError(`MTU ${mtu} too small`);
  const nals = splitAvcc(au, opts.nalLengthSize ?? 4).filter((n) => {
    const t = nalType(n);
    return t !== NAL_TYPE_AUD && t !== NAL_TYPE_FILLER;
  });
  if (nals.length === 0) throw new RtpError('access unit holds no media NAL unit');
  const keyframe = nals.some((n) => nalType(n) === NAL_TYPE_IDR);
  const payloads: Buffer[] = [];
  if (keyframe) {
    const hasSps = nals.some((n) => nalType(n) === NAL_TYPE_SPS);
    const hasPps = nals.some((n) => nalType(n) === NAL_TYPE_PPS);
    const params = [...(hasSps ? [] : opts.sps ?? []), ...(hasPps ? [] : opts.pps ?? [])];
    if (params.length > 0) {
      const aggregated = STAP_A_HEADER_BYTES + params.reduce((s, n) => s + STAP_A_SIZE_BYTES + n.length, 0);
      if (params.length > 1 && aggregated <= mtu) payloads.push(stapA(params));
      else for (const n of params) payloads.push(...(n.length <= mtu ? [n] : fuA(n, mtu)));
    }
  }
  for (const n of nals) {
    if (n.length <= mtu) payloads.push(n);
    else payloads.push(...fuA(n, mtu));
  }
  return { payloads, keyframe };
}

/**
 * depacketizeH264 rebuilds the NAL units of one access unit from its RTP payloads (single,
 * STAP-A, FU-A). It is the receiving side of packetizeH264, for tests and diagnostics.
 */
export function depacketizeH264(payloads: readonly Buffer[]): Buffer[] {
  const nals: Buffer[] = [];
  let fu: Buffer[] | null = null;
  for (const p of payloads) {
    if (p.length === 0) throw new RtpError('empty RTP payload');
    const type = nalType(p);
    if (type === NAL_TYPE_STAP_A) {
      let at = STAP_A_HEADER_BYTES;
      while (at < p.length) {
        if (at + STAP_A_SIZE_BYTES > p.length) throw new RtpError('truncated STAP-A size');
        const len = p.readUInt16BE(at);
        at += STAP_A_SIZE_BYTES;
        if (len === 0 || at + len > p.length) throw new RtpError('bad STAP-A unit size');
        nals.push(p.subarray(at, at + len));
        at += len;
      }
    } else if (type === NAL_TYPE_FU_A) {
      if (p.length < FU_HEADER_BYTES) throw new RtpError('truncated FU-A header');
      const header = p.readUInt8(1);
      if (header & FU_START) {
        fu = [Buffer.from([(p.readUInt8(0) & (NAL_F_BIT | NAL_NRI_MASK)) | (header & NAL_TYPE_MASK)])];
      } else if (!fu) {
        throw new RtpError('FU-A fragment without a start');
      }
      fu.push(p.subarray(FU_HEADER_BYTES));
      if (header & FU_END) {
        nals.push(Buffer.concat(fu));
        fu = null;
      }
    } else if (type >= 1 && type <= 23) {
      nals.push(p);
    } else {
      throw new RtpError(`unsupported payload NAL type ${type}`);
    }
  }
  if (fu) throw new RtpError('FU-A fragment without an end');
  return nals;
}

/** rtpTimestamp90k maps a time in milliseconds to the 32-bit 90 kHz RTP clock, from `base`. */
export function rtpTimestamp90k(ms: number, base = 0): number {
  return (base + Math.round(ms * (RTP_VIDEO_CLOCK_RATE / 1000))) >>> 0;
}
