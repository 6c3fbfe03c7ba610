/**
 * RTP fixed header (RFC 3550 5.1) and the RTCP sender report (RFC 3550 6.4.1). Pure.
 *
 *   RTP:  V=2(2) P(1) X(1) CC(4) | M(1) PT(7) | sequence number(16) | timestamp(32) | SSRC(32)
 *         CSRC list (CC × 32) | [extension: profile(16) length(16, in words) data] | payload | [padding]
 *   SR:   V=2 P RC(5) | PT=200 | length(16, words - 1) | SSRC | NTP sec(32) | NTP frac(32) | RTP ts(32)
 *         | packet count(32) | octet count(32) | report blocks (RC × 24 bytes)
 */

export class RtpPacketError extends Error {
  constructor(message: string) {
    super(`rtp: ${message}`);
    this.name = 'RtpPacketError';
  }
}

export const RTP_VERSION = 2;
export const RTP_HEADER_BYTES = 12;
export const RTCP_PT_SR = 200;
export const RTCP_PT_RR = 201;
export const RTCP_SR_BYTES = 28;
/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
export const NTP_UNIX_OFFSET_SECONDS = 2_208_988_800;
const TWO_POW_32 = 2 ** 32;

export interface RtpPacket {
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

/** parseRtpPacket reads one RTP packet (CSRCs, extension and padding skipped); throws RtpPacketError. */
export function parseRtpPacket(b: Buffer): RtpPacket {
  if (b.length < RTP_HEADER_BYTES) throw new RtpPacketError(`packet of ${b.length} bytes`);
  const v = b.readUInt8(0) >> 6;
  if (v !== RTP_VERSION) throw new RtpPacketError(`version ${v}`);
  const padding = (b.readUInt8(0) & 0x20) !== 0;
  const extension = (b.readUInt8(0) & 0x10) !== 0;
  const cc = b.readUInt8(0) & 0x0f;
  let at = RTP_HEADER_BYTES + cc * 4;
  if (extension) {
    if (b.length < at + 4) throw new RtpPacketError('truncated header extension');
    at += 4 + b.readUInt16BE(at + 2) * 4;
  }
  let end = b.length;
  if (padding) {
    const pad = b.readUInt8(b.length - 1);
    if (pad === 0 || pad > b.length - at) throw new RtpPacketError('bad padding');
    end -= pad;
  }
  if (at > end) throw new RtpPacketError('header longer than packet');
  return {
    marker: (b.readUInt8(1) & 0x80) !== 0,
    payloadType: b.readUInt8(1) & 0x7f,
    sequenceNumber: b.readUInt16BE(2),
    timestamp: b.readUInt32BE(4),
    ssrc: b.readUInt32BE(8),
    payload: b.subarray(at, end),
  };
}

/** encodeRtpHeader writes a 12-byte RTP header (no CSRC, no extension, no padding). */
export function encodeRtpHeader(h: { marker: boolean; payloadType: number; sequenceNumber: number; timestamp: number; ssrc: number }, into?: Buffer, offset = 0): Buffer {
  const b = into ?? Buffer.allocUnsafe(RTP_HEADER_BYTES);
  b[offset] = RTP_VERSION << 6;
  b[offset + 1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f);
  b.writeUInt16BE(h.sequenceNumber & 0xffff, offset + 2);
  b.writeUInt32BE(h.timestamp >>> 0, offset + 4);
  b.writeUInt32BE(h.ssrc >>> 0, offset + 8);
  return b;
}

export interface RtcpSenderReport {
  ssrc: number;
  /** Sender's wallclock as Unix time in ms (from the 64-bit NTP timestamp). */
  ntpMs: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
}

/** parseRtcpSenderReports finds the sender reports in a compound RTCP packet (other types skipped; malformed → []). */
export function parseRtcpSenderReports(b: Buffer): RtcpSenderReport[] {
  const out: RtcpSenderReport[] = [];
  let at = 0;
  while (at + 4 <= b.length) {
    if (b.readUInt8(at) >> 6 !== RTP_VERSION) break;
    const pt = b.readUInt8(at + 1);
    const len = (b.readUInt16BE(at + 2) + 1) * 4;
    if (at + len > b.length) break;
    if (pt === RTCP_PT_SR && len >= RTCP_SR_BYTES) {
      const sec = b.readUInt32BE(at + 8);
      const frac = b.readUInt32BE(at + 12);
      out.push({
        ssrc: b.readUInt32BE(at + 4),
        ntpMs: (sec - NTP_UNIX_OFFSET_SECONDS) * 1000 + (frac / TWO_POW_32) * 1000,
        rtpTimestamp: b.readUInt32BE(at + 16),
        packetCount: b.readUInt32BE(at + 20),
        octetCount: b.readUInt32BE(at + 24),
      });
    }
    at += len;
  }
  return out;
}

/** encodeRtcpSenderReport writes a sender report without report blocks. */
export function encodeRtcpSenderReport(sr: RtcpSenderReport): Buffer {
  const b = Buffer.alloc(RTCP_SR_BYTES);
  b[0] = RTP_VERSION << 6;
  b[1] = RTCP_PT_SR;
  b.writeUInt16BE(RTCP_SR_BYTES / 4 - 1, 2);
  b.writeUInt32BE(sr.ssrc >>> 0, 4);
  const secs = Math.floor(sr.ntpMs / 1000);
  const frac = Math.floor(((sr.ntpMs - secs * 1000) / 1000) * TWO_POW_32);
  b.writeUInt32BE((secs + NTP_UNIX_OFFSET_SECONDS) >>> 0, 8);
  b.writeUInt32BE(Math.min(frac, TWO_POW_32 - 1) >>> 0, 12);
  b.writeUInt32BE(sr.rtpTimestamp >>> 0, 16);
  b.writeUInt32BE(sr.packetCount >>> 0, 20);
  b.writeUInt32BE(sr.octetCount >>> 0, 24);
  return b;
}

/** RtcpReceptionReport is one report block of a receiver report (RFC 3550 6.4.2). */
export interface RtcpReceptionReport {
  /** The source reported on (the sender's SSRC). */
  ssrc: number;
  /** Fraction of packets lost since the last report, 0..1. */
  fractionLost: number;
  /** Packets lost in all (expected minus received, clamped to 24 bits signed). */
  cumulativeLost: number;
  /** Highest sequence number received, extended with the wrap count in the upper 16 bits. */
  highestSeq: number;
  jitter: number;
  /** Middle 32 bits of the last SR's NTP timestamp (0 before one came). */
  lastSr: number;
  /** Delay since that SR in 1/65536 s (0 before one came). */
  delaySinceLastSr: number;
}

export const RTCP_RR_HEADER_BYTES = 8;
export const RTCP_REPORT_BLOCK_BYTES = 24;

/** encodeRtcpReceiverReport writes a receiver report from `ssrc` with up to 31 report blocks. */
export function encodeRtcpReceiverReport(ssrc: number, reports: readonly RtcpReceptionReport[]): Buffer {
  if (reports.length > 31) throw new RtpPacketError('at most 31 report blocks');
  const b = Buffer.alloc(RTCP_RR_HEADER_BYTES + RTCP_REPORT_BLOCK_BYTES * reports.length);
  b[0] = (RTP_VERSION << 6) | reports.length;
  b[1] = RTCP_PT_RR;
  b.writeUInt16BE(b.length / 4 - 1, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  reports.forEach((r, i) => {
    const at = RTCP_RR_HEADER_BYTES + i * RTCP_REPORT_BLOCK_BYTES;
    b.writeUInt32BE(r.ssrc >>> 0, at);
    b.writeUInt8(Math.max(0, Math.min(255, Math.floor(r.fractionLost * 256))), at + 4);
    b.writeIntBE(Math.max(-0x800000, Math.min(0x7fffff, r.cumulativeLost)), at + 5, 3);
    b.writeUInt32BE(r.highestSeq >>> 0, at + 8);
    b.writeUInt32BE(r.jitter >>> 0, at + 12);
    b.writeUInt32BE(r.lastSr >>> 0, at + 16);
    b.writeUInt32BE(r.delaySinceLastSr >>> 0, at + 20);
  });
  return b;
}
