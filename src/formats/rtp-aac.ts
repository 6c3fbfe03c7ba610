/**
 * AAC over RTP as RFC 3640 mpeg4-generic, mode AAC-hbr (what ffmpeg, GStreamer and IP cameras
 * send). Pure. One RTP payload:
 *
 *   AU-headers-length (16 bits, in bits) | AU-header × n | padding to a byte | AU data × n
 *   AU-header (AAC-hbr): AU-size (13 bits) | AU-index / AU-index-delta (3 bits)
 *
 * An AU bigger than one packet is fragmented: every fragment carries one AU-header whose AU-size
 * is the size of the whole AU, and the last fragment has the RTP marker bit (RFC 3640 3.2.3.1).
 * AUs of one packet are consecutive: AU i has RTP timestamp ts + i × frame length (1024 samples).
 */

export class RtpAacError extends Error {
  constructor(message: string) {
    super(`rtp-aac: ${message}`);
    this.name = 'RtpAacError';
  }
}

/** AacHbrParams are the fmtp sizes of an AU-header (RFC 3640 4.1). */
export interface AacHbrParams {
  sizeLength: number;
  indexLength: number;
  indexDeltaLength: number;
}

/** AAC_HBR is mode=AAC-hbr: sizelength=13; indexlength=3; indexdeltalength=3. */
export const AAC_HBR: AacHbrParams = { sizeLength: 13, indexLength: 3, indexDeltaLength: 3 };
/** Samples per AAC-LC frame (the RTP timestamp step between AUs). */
export const AAC_FRAME_SAMPLES = 1024;
const AU_HEADERS_LENGTH_BYTES = 2;
/** The largest AU we reassemble from fragments (AAC frames are a few hundred bytes; 8191 is AU-size's limit at 13 bits). */
export const AAC_MAX_AU_BYTES = 64 * 1024;

/** AuHeaderSection is the parsed header section of one payload. */
export interface AuHeaderSection {
  sizes: number[];
  /** Offset of the first AU's data. */
  dataOffset: number;
}

function checkParams(p: AacHbrParams): void {
  if (p.sizeLength < 1 || p.sizeLength > 16 || p.indexLength < 0 || p.indexLength > 8 || p.indexDeltaLength < 0 || p.indexDeltaLength > 8) {
    throw new RtpAacError(`unsupported AU-header sizes ${p.sizeLength}/${p.indexLength}/${p.indexDeltaLength}`);
  }
}

/** readBits reads `n` bits (n ≤ 24) at bit offset `bit` of b. */
function readBits(b: Buffer, bit: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const at = bit + i;
    v = (v << 1) | ((b.readUInt8(at >> 3) >> (7 - (at & 7))) & 1);
  }
  return v;
}

/** parseAuHeaders reads the AU-header section of an RFC 3640 payload; throws RtpAacError. */
export function parseAuHeaders(payload: Buffer, p: AacHbrParams = AAC_HBR): AuHeaderSection {
  checkParams(p);
  if (payload.length < AU_HEADERS_LENGTH_BYTES) throw new RtpAacError('payload shorter than AU-headers-length');
  const bits = payload.readUInt16BE(0);
  const headerBytes = Math.ceil(bits / 8);
  if (AU_HEADERS_LENGTH_BYTES + headerBytes > payload.length) throw new RtpAacError(`AU-headers-length ${bits} bits past the payload`);
  const sizes: number[] = [];
  let bit = 0;
  const firstLen = p.sizeLength + p.indexLength;
  const nextLen = p.sizeLength + p.indexDeltaLength;
  const section = payload.subarray(AU_HEADERS_LENGTH_BYTES, AU_HEADERS_LENGTH_BYTES + headerBytes);
  for (;;) {
    const need = sizes.length === 0 ? firstLen : nextLen;
    if (bits - bit < need) break;
    sizes.push(readBits(section, bit, p.sizeLength));
    bit += need;
  }
  if (sizes.length === 0) throw new RtpAacError('no AU-header');
  return { sizes, dataOffset: AU_HEADERS_LENGTH_BYTES + headerBytes };
}

/** encodeAuHeaders writes AU-headers-length and the AU-headers for AUs of these sizes (index and deltas 0). */
export function encodeAuHeaders(sizes: readonly number[], p: AacHbrParams = AAC_HBR): Buffer {
  checkParams(p);
  if (sizes.length === 0) throw new RtpAacError('no AU');
  const bits = p.sizeLength + p.indexLength + (sizes.length - 1) * (p.sizeLength + p.indexDeltaLength);
  const out = Buffer.alloc(AU_HEADERS_LENGTH_BYTES + Math.ceil(bits / 8));
  out.writeUInt16BE(bits, 0);
  let bit = AU_HEADERS_LENGTH_BYTES * 8;
  const put = (v: number, n: number) => {
    for (let i = n - 1; i >= 0; i--, bit++) if ((v >> i) & 1) out.writeUInt8(out.readUInt8(bit >> 3) | (0x80 >> (bit & 7)), bit >> 3);
  };
  sizes.forEach((size, i) => {
    if (size < 0 || size >= 1 << p.sizeLength) throw new RtpAacError(`AU of ${size} bytes does not fit ${p.sizeLength} bits`);
    put(size, p.sizeLength);
    put(0, i === 0 ? p.indexLength : p.indexDeltaLength);
  });
  return out;
}

/** packetizeAac builds RTP payloads for AAC frames: all in one payload when they fit `mtu`, else one per payload (fragmented when bigger). */
export function packetizeAac(frames: readonly Buffer[], mtu = 1200, p: AacHbrParams = AAC_HBR): Buffer[] {
  if (frames.length === 0) return [];
  const headers = encodeAuHeaders(frames.map((f) => f.length), p);
  const total = headers.length + frames.reduce((s, f) => s + f.length, 0);
  if (total <= mtu) return [Buffer.concat([headers, ...frames])];
  const [frame, ...more] = frames;
  if (more.length > 0) return frames.flatMap((f) => packetizeAac([f], mtu, p));
  if (frame === undefined) return [];
  const room = mtu - headers.length;
  if (room < 1) throw new RtpAacError(`MTU ${mtu} too small`);
  const out: Buffer[] = [];
  for (let at = 0; at < frame.length; at += room) out.push(Buffer.concat([headers, frame.subarray(at, at + room)]));
  return out;
}

export interface AacDepacketizerStats {
  packets: number;
  frames: number;
  /** Payloads that could not be read, or fragments that did not add up. */
  dropped: number;
}

/** AacFrames is what one packet (or the last fragment of one AU) yields: frames from `timestamp` on, AAC_FRAME_SAMPLES apart. */
export interface AacFrames {
  timestamp: number;
  frames: Buffer[];
}

/**
 * AacDepacketizer turns RFC 3640 payloads (in order) into raw AAC frames. Never throws: a payload
 * it cannot read is counted and dropped, and so is a fragmented AU whose pieces do not add up.
 */
export class AacDepacketizer {
  private frag: { timestamp: number; size: number; parts: Buffer[]; got: number } | null = null;
  readonly stats: AacDepacketizerStats = { packets: 0, frames: 0, dropped: 0 };

  constructor(private readonly p: AacHbrParams = AAC_HBR) {}

  push(payload: Buffer, timestamp: number, marker: boolean): AacFrames | null {
    this.stats.packets++;
    let section: AuHeaderSection;
    try {
      section = parseAuHeaders(payload, this.p);
    } catch {
      this.frag = null;
      this.stats.dropped++;
      return null;
    }
    const data = payload.subarray(section.dataOffset);
    const first = section.sizes[0];
    // A fragment: one AU-header whose AU is bigger than the data here (or one continuing).
    if (first !== undefined && section.sizes.length === 1 && (first > data.length || (this.frag && this.frag.timestamp === timestamp))) {
      if (!this.frag || this.frag.timestamp !== timestamp || this.frag.size !== first) {
        if (this.frag) this.stats.dropped++;
        if (first > AAC_MAX_AU_BYTES) {
          this.frag = null;
          this.stats.dropped++;
          return null;
        }
        this.frag = { timestamp, size: first, parts: [], got: 0 };
      }
      const f = this.frag;
      f.parts.push(Buffer.from(data));
      f.got += data.length;
      if (f.got > f.size) {
        this.frag = null;
        this.stats.dropped++;
        return null;
      }
      if (f.got === f.size) {
        this.frag = null;
        this.stats.frames++;
        return { timestamp, frames: [Buffer.concat(f.parts)] };
      }
      if (marker) {
        // The last fragment came but the AU is short: pieces were lost.
        this.frag = null;
        this.stats.dropped++;
      }
      return null;
    }
    if (this.frag) {
      this.frag = null;
      this.stats.dropped++;
    }
    const frames: Buffer[] = [];
    let at = 0;
    for (const size of section.sizes) {
      if (at + size > data.length) {
        this.stats.dropped++;
        break;
      }
      if (size > 0) frames.push(data.subarray(at, at + size));
      at += size;
    }
    if (frames.length === 0) return null;
    this.stats.frames += frames.length;
    return { timestamp, frames };
  }
}
