/**
 * Writing Ogg (RFC 3533) with Opus in it (RFC 7845), to hand WebRTC audio to ffmpeg. Pure.
 *
 * Page:  "OggS" version(8)=0 header_type(8) granule_position(64 LE) serial(32 LE)
 *        sequence(32 LE) crc(32 LE) page_segments(8) lacing[page_segments] data
 *
 * The CRC is CRC-32 with polynomial 0x04c11db7, initial value 0, no reflection and no final
 * xor, over the whole page with the crc field zeroed. Each Opus packet goes on a page of its own
 * (ffmpeg then sees it at once); the granule position of a page is the sample count at the end
 * of its last packet, at 48 kHz, counted from the start of the stream plus the pre-skip.
 */

const OGG_CAPTURE = Buffer.from('OggS', 'latin1');
const OGG_FIXED_HEADER_BYTES = 27;
const OGG_CRC_OFFSET = 22;
const OGG_CRC_POLY = 0x04c11db7;
export const OGG_FLAG_CONTINUED = 0x01;
export const OGG_FLAG_BOS = 0x02;
export const OGG_FLAG_EOS = 0x04;
const LACING_MAX = 255;
const MAX_SEGMENTS = 255;
/** Largest packet that fits on one page (255 lacing values of 255). */
export const OGG_MAX_PACKET_ON_PAGE = MAX_SEGMENTS * LACING_MAX - 1;
const OPUS_HEAD = Buffer.from('OpusHead', 'latin1');
const OPUS_TAGS = Buffer.from('OpusTags', 'latin1');
const OPUS_HEAD_VERSION = 1;
const OPUS_MAPPING_FAMILY_RTP = 0;
/** Opus always decodes at 48 kHz; the original rate is informational. */
export const OPUS_SAMPLE_RATE = 48_000;

export class OggWriteError extends Error {
  constructor(message: string) {
    super(`ogg: ${message}`);
    this.name = 'OggWriteError';
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x8000_0000 ? (r << 1) ^ OGG_CRC_POLY : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

/** oggCrc32 is the Ogg page checksum of `buf`. */
export function oggCrc32(buf: Uint8Array): number {
  let crc = 0;
  // The index is masked to 0..255 and the table has 256 entries: the `!` cannot be wrong, and a check would run per byte.
  for (const byte of buf) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
  return crc >>> 0;
}

export interface OggPageFields {
  headerType: number;
  /** Granule position; -1 (all ones) means no packet ends on this page. */
  granule: bigint;
  serial: number;
  sequence: number;
  /** Whole packets, each ending on this page. */
  packets: readonly Buffer[];
}

/** oggPage encodes one page holding whole packets, with its CRC. Too much for one page throws. */
export function oggPage(f: OggPageFields): Buffer {
  const lacing: number[] = [];
  let bytes = 0;
  for (const p of f.packets) {
    let n = p.length;
    while (n >= LACING_MAX) {
      lacing.push(LACING_MAX);
      n -= LACING_MAX;
    }
    lacing.push(n);
    bytes += p.length;
  }
  if (lacing.length > MAX_SEGMENTS) throw new OggWriteError(`${bytes} bytes of packets do not fit on one page`);
  const page = Buffer.alloc(OGG_FIXED_HEADER_BYTES + lacing.length + bytes);
  OGG_CAPTURE.copy(page, 0);
  page[4] = 0;
  page[5] = f.headerType;
  page.writeBigUInt64LE(BigInt.asUintN(64, f.granule), 6);
  page.writeUInt32LE(f.serial >>> 0, 14);
  page.writeUInt32LE(f.sequence >>> 0, 18);
  page[26] = lacing.length;
  let at = OGG_FIXED_HEADER_BYTES;
  for (const l of lacing) page[at++] = l;
  for (const p of f.packets) at += p.copy(page, at);
  page.writeUInt32LE(oggCrc32(page), OGG_CRC_OFFSET);
  return page;
}

/** opusHead is the identification header (RFC 7845 5.1), channel mapping family 0. */
export function opusHead(channels: number, preSkip: number, inputSampleRate = OPUS_SAMPLE_RATE): Buffer {
  if (channels < 1 || channels > 2) throw new OggWriteError(`mapping family 0 carries 1 or 2 channels, not ${channels}`);
  const b = Buffer.alloc(19);
  OPUS_HEAD.copy(b, 0);
  b[8] = OPUS_HEAD_VERSION;
  b[9] = channels;
  b.writeUInt16LE(preSkip, 10);
  b.writeUInt32LE(inputSampleRate, 12);
  b.writeInt16LE(0, 16);
  b[18] = OPUS_MAPPING_FAMILY_RTP;
  return b;
}

/** opusTags is the comment header (RFC 7845 5.2) with a vendor string and no comments. */
export function opusTags(vendor: string): Buffer {
  const v = Buffer.from(vendor, 'utf8');
  const b = Buffer.alloc(8 + 4 + v.length + 4);
  OPUS_TAGS.copy(b, 0);
  b.writeUInt32LE(v.length, 8);
  v.copy(b, 12);
  b.writeUInt32LE(0, 12 + v.length);
  return b;
}

/**
 * OggOpusWriter numbers the pages of one logical Ogg/Opus stream: headers first, then one
 * page per packet with the granule position the caller computed (end sample of the packet).
 */
export class OggOpusWriter {
  private sequence = 0;

  constructor(private readonly serial: number, private readonly channels = 2, private readonly preSkip = 0) {}

  /** headers are the two header pages (OpusHead on a BOS page, then OpusTags). */
  headers(vendor = 'onair'): Buffer[] {
    return [
      oggPage({ headerType: OGG_FLAG_BOS, granule: 0n, serial: this.serial, sequence: this.sequence++, packets: [opusHead(this.channels, this.preSkip)] }),
      oggPage({ headerType: 0, granule: 0n, serial: this.serial, sequence: this.sequence++, packets: [opusTags(vendor)] }),
    ];
  }

  /** packet puts one Opus packet on a page ending at `granule` (48 kHz samples, pre-skip included). */
  packet(data: Buffer, granule: number, last = false): Buffer {
    if (data.length > OGG_MAX_PACKET_ON_PAGE) throw new OggWriteError(`Opus packet of ${data.length} bytes`);
    return oggPage({ headerType: last ? OGG_FLAG_EOS : 0, granule: BigInt(Math.max(0, Math.floor(granule))), serial: this.serial, sequence: this.sequence++, packets: [data] });
  }
}
