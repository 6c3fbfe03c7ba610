/**
 * Opus for RTP (RFC 7587): one Opus packet per RTP packet on a 48 kHz clock. The packets come
 * from ffmpeg as an Ogg stream (RFC 3533 pages, RFC 7845 Ogg/Opus mapping); OggOpusParser is a
 * push parser that accepts the stream split anywhere. Pure: no I/O.
 *
 *   page = "OggS" version(8) header_type(8) granule_position(64 LE) serial(32 LE)
 *          sequence(32 LE) crc(32) page_segments(8) lacing[page_segments] data
 *   A packet is the run of lacing values up to one below 255; a packet may span pages.
 */
import { RtpError } from './rtp-h264.js';

/** RTP_OPUS_CLOCK_RATE is Opus's RTP clock, whatever the coded bandwidth (RFC 7587 4.1). */
export const RTP_OPUS_CLOCK_RATE = 48_000;
const OGG_CAPTURE = Buffer.from('OggS', 'latin1');
const OGG_FIXED_HEADER_BYTES = 27;
const OGG_SEGMENTS_OFFSET = 26;
const OGG_HEADER_TYPE_OFFSET = 5;
const OGG_FLAG_CONTINUED = 0x01;
const LACING_CONTINUES = 255;
const OPUS_HEAD = Buffer.from('OpusHead', 'latin1');
const OPUS_TAGS = Buffer.from('OpusTags', 'latin1');
const OPUS_HEAD_PRESKIP_OFFSET = 10;
const OPUS_HEAD_MIN_BYTES = 19;
/** A packet bigger than this is not Opus (RFC 6716 caps a 120 ms packet far below). */
const MAX_PACKET_BYTES = 64 * 1024;
/** Frame durations in 48 kHz samples per TOC configuration group (RFC 6716 3.1, table 2). */
const SILK_FRAME_SAMPLES = [480, 960, 1920, 2880] as const;
const HYBRID_FRAME_SAMPLES = [480, 960] as const;
const CELT_FRAME_SAMPLES = [120, 240, 480, 960] as const;
const TOC_CODE_MASK = 0x03;
const FRAME_COUNT_MASK = 0x3f;

/** opusPacketSamples is the duration of one Opus packet in 48 kHz samples, from its TOC byte(s). */
export function opusPacketSamples(packet: Buffer): number {
  if (packet.length === 0) throw new RtpError('empty Opus packet');
  const toc = packet.readUInt8(0);
  const config = toc >> 3;
  // The masks keep each index inside its table.
  const frame = config < 12 ? SILK_FRAME_SAMPLES[(config & 3) as 0 | 1 | 2 | 3] : config < 16 ? HYBRID_FRAME_SAMPLES[(config & 1) as 0 | 1] : CELT_FRAME_SAMPLES[(config & 3) as 0 | 1 | 2 | 3];
  const code = toc & TOC_CODE_MASK;
  if (code === 0) return frame;
  if (code === 1 || code === 2) return 2 * frame;
  if (packet.length < 2) throw new RtpError('Opus code-3 packet without a frame count');
  const count = packet.readUInt8(1) & FRAME_COUNT_MASK;
  if (count === 0) throw new RtpError('Opus code-3 packet with zero frames');
  return count * frame;
}

export interface OggOpusEvents {
  /** The OpusHead header: channels and the encoder's pre-skip in 48 kHz samples. */
  onHead?(head: { channels: number; preSkip: number }): void;
  /** One Opus audio packet, in stream order. */
  onPacket(packet: Buffer): void;
}

/** OggOpusParser is a push parser for one logical Ogg/Opus stream (ffmpeg's `-f ogg` output). */
export class OggOpusParser {
  private buf: Buffer = Buffer.alloc(0);
  private partial: Buffer[] = [];
  private packets = 0;

  constructor(private readonly ev: OggOpusEvents) {}

  /** push feeds bytes; complete pages are parsed at once. A stream that is not Ogg throws RtpError. */
  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.buf.length < OGG_FIXED_HEADER_BYTES) return;
      if (!this.buf.subarray(0, 4).equals(OGG_CAPTURE)) throw new RtpError('Ogg capture pattern not found');
      const segments = this.buf.readUInt8(OGG_SEGMENTS_OFFSET);
      const headerBytes = OGG_FIXED_HEADER_BYTES + segments;
      if (this.buf.length < headerBytes) return;
      let bodyBytes = 0;
      for (let i = 0; i < segments; i++) bodyBytes += this.buf.readUInt8(OGG_FIXED_HEADER_BYTES + i);
      if (this.buf.length < headerBytes + bodyBytes) return;
      const continued = (this.buf.readUInt8(OGG_HEADER_TYPE_OFFSET) & OGG_FLAG_CONTINUED) !== 0;
      if (!continued) this.partial = [];
      let at = headerBytes;
      for (let i = 0; i < segments; i++) {
        const lacing = this.buf.readUInt8(OGG_FIXED_HEADER_BYTES + i);
        this.partial.push(this.buf.subarray(at, at + lacing));
        at += lacing;
        if (lacing < LACING_CONTINUES) this.packet(Buffer.concat(this.partial));
        if (this.partial.reduce((s, b) => s + b.length, 0) > MAX_PACKET_BYTES) throw new RtpError('Ogg packet too large for Opus');
      }
      this.buf = this.buf.subarray(headerBytes + bodyBytes);
    }
  }

  private packet(p: Buffer): void {
    this.partial = [];
    const n = this.packets++;
    if (n === 0) {
      if (p.length < OPUS_HEAD_MIN_BYTES || !p.subarray(0, OPUS_HEAD.length).equals(OPUS_HEAD)) throw new RtpError('first Ogg packet is not OpusHead');
      this.ev.onHead?.({ channels: p.readUInt8(9), preSkip: p.readUInt16LE(OPUS_HEAD_PRESKIP_OFFSET) });
      return;
    }
    if (n === 1 && p.subarray(0, OPUS_TAGS.length).equals(OPUS_TAGS)) return;
    if (p.length === 0) return;
    this.ev.onPacket(p);
  }
}
