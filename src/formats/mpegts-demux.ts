/**
 * MPEG-2 transport stream demultiplexer (ISO/IEC 13818-1): a pure push parser that accepts the
 * stream split anywhere and emits whole PES packets of the elementary streams the PMT lists,
 * plus the elementary-stream helpers an ingest needs (Annex B NAL units, ADTS frames, 33-bit
 * timestamp unwrapping). No sockets, no timers.
 *
 *   TS packet (188 bytes) = sync 0x47 | TEI(1) PUSI(1) prio(1) PID(13) | scrambling(2) AFC(2) CC(4)
 *                           [adaptation field: length(8) flags(8: discontinuity, random access, ...) ...]
 *                           [payload]
 *   PSI section (PAT pid 0, PMT)  = pointer_field(8) table_id(8) syntax(1) 0 rsvd(2) section_length(12) ...
 *   PES = 00 00 01 stream_id(8) PES_packet_length(16) '10' flags(14) header_length(8) [PTS] [DTS] ... payload
 *
 * Damage: a continuity-counter jump, a transport error flag or a caller-signalled gap() drops the
 * PES being assembled on the affected PIDs (counted): a frame with a hole in it is not emitted.
 */

export const TS_PACKET_SIZE = 188;
export const TS_SYNC_BYTE = 0x47;
export const PID_PAT = 0x0000;
export const PID_NULL = 0x1fff;
export const TABLE_ID_PAT = 0x00;
export const TABLE_ID_PMT = 0x02;

// Stream types (ISO/IEC 13818-1 table 2-34, and the registered ones ffmpeg/OBS use).
export const STREAM_TYPE_MPEG1_AUDIO = 0x03;
export const STREAM_TYPE_MPEG2_AUDIO = 0x04;
export const STREAM_TYPE_PRIVATE_PES = 0x06;
export const STREAM_TYPE_AAC_ADTS = 0x0f;
export const STREAM_TYPE_H264 = 0x1b;
export const STREAM_TYPE_H265 = 0x24;

/** Timestamps are 33 bits at 90 kHz. */
export const TS_CLOCK_HZ = 90_000;
export const PTS_MODULO = 2 ** 33;
/** Largest PES we assemble; larger (a corrupt length or an endless video PES) is dropped. */
export const MAX_PES_BYTES = 8 * 1024 * 1024;
/** PIDs we track at most (a hostile PMT cannot make us allocate without bound). */
const MAX_STREAMS = 16;
const MAX_SECTION_BYTES = 1024;

export interface TsStreamInfo {
  pid: number;
  streamType: number;
}

/** TsPes is one reassembled PES packet of an elementary stream. */
export interface TsPes {
  pid: number;
  streamType: number;
  /** 33-bit PTS / DTS at 90 kHz as sent (DTS defaults to PTS). */
  pts?: number;
  dts?: number;
  /** The adaptation field's random_access_indicator was set on its first packet. */
  randomAccess: boolean;
  data: Buffer;
}

export interface TsDemuxStats {
  packets: number;
  /** Continuity-counter jumps (packets lost or repeated on the way). */
  ccErrors: number;
  /** Times the parser had to search for the sync byte. */
  syncLosses: number;
  /** PES packets dropped because they were damaged or too large. */
  pesDropped: number;
  pesEmitted: number;
  /** PAT/PMT sections whose CRC_32 did not match (ignored). */
  crcErrors: number;
  /** Unbounded PES ended at adaptation stuffing that turned out not to be their end. */
  earlyEndMisses: number;
}

export interface TsDemuxHandlers {
  onPes(pes: TsPes): void;
  /** The program's elementary streams (first PMT, and whenever it changes), before accept() is asked. */
  onStreams?(streams: TsStreamInfo[]): void;
  /** Which elementary streams to assemble (default all): memory goes only to streams a consumer reads. */
  accept?(stream: TsStreamInfo): boolean;
}

interface PesAssembly {
  info: TsStreamInfo;
  cc: number;
  parts: Buffer[];
  size: number;
  /** The PES length field, when set (0: until the next PUSI). */
  expected: number;
  randomAccess: boolean;
  damaged: boolean;
  active: boolean;
  /** Adaptation-field stuffing ends an unbounded PES (until a muxer proves it stuffs mid-PES). */
  earlyEnd: boolean;
  /** The last PES was ended by stuffing (a continuation packet after it means the guess was wrong). */
  endedEarly: boolean;
}

interface SectionAssembly {
  cc: number;
  buf: Buffer | null;
}

export class TsDemuxer {
  readonly stats: TsDemuxStats = { packets: 0, ccErrors: 0, syncLosses: 0, pesDropped: 0, pesEmitted: 0, crcErrors: 0, earlyEndMisses: 0 };
  private rest: Buffer = Buffer.alloc(0);
  private pmtPid = -1;
  private readonly streams = new Map<number, PesAssembly>();
  private readonly sections = new Map<number, SectionAssembly>();
  private pmtVersion = -1;

  constructor(private readonly h: TsDemuxHandlers) {}

  /** streamList gives the elementary streams of the current PMT that are assembled. */
  streamList(): TsStreamInfo[] {
    return [...this.streams.values()].map((s) => s.info);
  }

  /** push takes the next bytes of the stream, split anywhere. */
  push(chunk: Buffer): void {
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    let o = 0;
    while (buf.length - o >= TS_PACKET_SIZE) {
      if (buf[o] !== TS_SYNC_BYTE) {
        const at = this.resync(buf, o);
        this.stats.syncLosses++;
        this.gap();
        if (at < 0) {
          // Keep the tail that might start a packet.
          o = Math.max(o, buf.length - TS_PACKET_SIZE + 1);
          break;
        }
        o = at;
        continue;
      }
      this.packet(buf.subarray(o, o + TS_PACKET_SIZE));
      o += TS_PACKET_SIZE;
    }
    // Copy the remainder: the caller may reuse its buffer.
    this.rest = Buffer.from(buf.subarray(o));
  }

  /** gap says bytes were lost before the next push: every PES being assembled is dropped. */
  gap(): void {
    this.rest = Buffer.alloc(0);
    for (const s of this.streams.values()) {
      if (s.active) s.damaged = true;
      s.cc = -1;
    }
    for (const sec of this.sections.values()) {
      sec.buf = null;
      sec.cc = -1;
    }
  }

  /** flush emits the PES packets still open (the stream ended). */
  flush(): void {
    for (const s of this.streams.values()) this.finish(s);
  }

  private resync(buf: Buffer, from: number): number {
    for (let i = from + 1; i + TS_PACKET_SIZE <= buf.length; i++) {
      if (buf[i] !== TS_SYNC_BYTE) continue;
      // Two sync bytes a packet apart, or one at the very end of what we have.
      if (i + TS_PACKET_SIZE >= buf.length || buf[i + TS_PACKET_SIZE] === TS_SYNC_BYTE) return i;
    }
    return -1;
  }

  private packet(p: Buffer): void {
    this.stats.packets++;
    const transportError = (p.readUInt8(1) & 0x80) !== 0;
    const pusi = (p.readUInt8(1) & 0x40) !== 0;
    const pid = ((p.readUInt8(1) & 0x1f) << 8) | p.readUInt8(2);
    const afc = (p.readUInt8(3) >> 4) & 3;
    const cc = p.readUInt8(3) & 0x0f;
    if (pid === PID_NULL) return;
    let o = 4;
    let randomAccess = false;
    let discontinuity = false;
    let stuffed = false;
    if (afc & 2) {
      const len = p.readUInt8(4);
      if (len > 0) {
        discontinuity = (p.readUInt8(5) & 0x80) !== 0;
        randomAccess = (p.readUInt8(5) & 0x40) !== 0;
      }
      o = 5 + len;
      if (o > TS_PACKET_SIZE) return;
      stuffed = (afc & 1) !== 0 && adaptationStuffed(p, len);
    }
    const hasPayload = (afc & 1) !== 0 && o < TS_PACKET_SIZE;
    const payload = hasPayload ? p.subarray(o) : null;

    if (pid === PID_PAT || pid === this.pmtPid) {
      if (transportError || !payload) return;
      this.section(pid, pusi, cc, payload);
      return;
    }
    const s = this.streams.get(pid);
    if (!s) return;
    if (transportError) {
      if (s.active) s.damaged = true;
      return;
    }
    if (!payload) return;
    if (s.cc >= 0 && !discontinuity) {
      if (cc === s.cc) return; // a duplicate packet (allowed once)
      if (cc !== ((s.cc + 1) & 0x0f)) {
        this.stats.ccErrors++;
        if (s.active) s.damaged = true;
      }
    }
    s.cc = cc;
    if (pusi) {
      this.finish(s);
      s.active = true;
      s.damaged = false;
      s.parts = [];
      s.size = 0;
      s.expected = payload.length >= 6 ? payload.readUInt16BE(4) : 0;
      s.randomAccess = randomAccess;
      s.endedEarly = false;
    } else if (!s.active) {
      if (s.endedEarly) {
        // The stuffing was not the end of the PES: this muxer stuffs mid-PES, stop guessing.
        s.endedEarly = false;
        s.earlyEnd = false;
        this.stats.earlyEndMisses++;
      }
      return;
    }
    if (s.damaged) return;
    s.parts.push(Buffer.from(payload));
    s.size += payload.length;
    if (s.size > MAX_PES_BYTES) {
      s.damaged = true;
      s.parts = [];
      return;
    }
    // A PES with a length is complete once that many bytes (after the 6-byte start) arrived.
    if (s.expected > 0 && s.size >= s.expected + 6) this.finish(s);
    // One without (video) ends at the next PUSI; but muxers stuff the adaptation field of a PES's
    // last packet (the next PES must start a packet), so stuffing ends it now: a frame sooner.
    else if (s.expected === 0 && stuffed && s.earlyEnd) {
      this.finish(s);
      s.endedEarly = true;
    }
  }

  private finish(s: PesAssembly): void {
    if (!s.active) return;
    s.active = false;
    const parts = s.parts;
    s.parts = [];
    if (s.damaged) {
      s.damaged = false;
      this.stats.pesDropped++;
      return;
    }
    const only = parts.length === 1 ? parts[0] : undefined;
    const buf = only ?? Buffer.concat(parts, s.size);
    const pes = parsePes(buf, s.info, s.randomAccess);
    if (!pes) {
      this.stats.pesDropped++;
      return;
    }
    this.stats.pesEmitted++;
    this.h.onPes(pes);
  }

  private section(pid: number, pusi: boolean, cc: number, payload: Buffer): void {
    let sec = this.sections.get(pid);
    if (!sec) {
      sec = { cc: -1, buf: null };
      this.sections.set(pid, sec);
    }
    if (pusi) {
      const pointer = payload.readUInt8(0);
      if (1 + pointer > payload.length) return;
      sec.buf = Buffer.from(payload.subarray(1 + pointer));
    } else {
      if (!sec.buf || sec.cc < 0 || cc !== ((sec.cc + 1) & 0x0f)) {
        sec.buf = null;
        sec.cc = cc;
        return;
      }
      sec.buf = Buffer.concat([sec.buf, payload]);
    }
    sec.cc = cc;
    if (sec.buf.length > MAX_SECTION_BYTES) {
      sec.buf = null;
      return;
    }
    if (sec.buf.length < 3) return;
    const sectionLength = ((sec.buf.readUInt8(1) & 0x0f) << 8) | sec.buf.readUInt8(2);
    if (sec.buf.length < 3 + sectionLength) return;
    const section = sec.buf.subarray(0, 3 + sectionLength);
    sec.buf = null;
    if (crc32Mpeg2(section) !== 0) {
      this.stats.crcErrors++;
      return;
    }
    if (pid === PID_PAT) this.pat(section);
    else this.pmt(section);
  }

  private pat(sec: Buffer): void {
    if (sec[0] !== TABLE_ID_PAT || sec.length < 12) return;
    // 8 bytes of header, then program entries, then the CRC.
    for (let o = 8; o + 4 <= sec.length - 4; o += 4) {
      const program = sec.readUInt16BE(o);
      const pid = sec.readUInt16BE(o + 2) & 0x1fff;
      if (program !== 0) {
        if (pid !== this.pmtPid) {
          this.pmtPid = pid;
          this.pmtVersion = -1;
        }
        return;
      }
    }
  }

  private pmt(sec: Buffer): void {
    if (sec[0] !== TABLE_ID_PMT || sec.length < 16) return;
    const version = (sec.readUInt8(5) >> 1) & 0x1f;
    if (version === this.pmtVersion) return;
    const programInfoLength = sec.readUInt16BE(10) & 0x0fff;
    const end = sec.length - 4; // CRC_32
    const found: TsStreamInfo[] = [];
    for (let o = 12 + programInfoLength; o + 5 <= end; ) {
      const streamType = sec.readUInt8(o);
      const pid = sec.readUInt16BE(o + 1) & 0x1fff;
      const esInfoLength = sec.readUInt16BE(o + 3) & 0x0fff;
      o += 5 + esInfoLength;
      if (found.length < MAX_STREAMS && pid !== PID_PAT && pid !== PID_NULL) found.push({ pid, streamType });
    }
    this.pmtVersion = version;
    // The consumer hears of the streams first, so accept() can follow its choice.
    this.h.onStreams?.(found);
    const before = [...this.streams.keys()];
    for (const pid of before) if (!found.some((f) => f.pid === pid)) this.streams.delete(pid);
    for (const f of found) {
      if (this.h.accept && !this.h.accept(f)) {
        this.streams.delete(f.pid);
        continue;
      }
      const s = this.streams.get(f.pid);
      if (s) s.info = f;
      else this.streams.set(f.pid, { info: f, cc: -1, parts: [], size: 0, expected: 0, randomAccess: false, damaged: false, active: false, earlyEnd: true, endedEarly: false });
    }
  }
}

/**
 * adaptationStuffed says whether an adaptation field of `len` bytes holds more than its flagged
 * fields need (stuffing bytes 0xff, or a bare length 0): the payload was made to end the packet.
 */
function adaptationStuffed(p: Buffer, len: number): boolean {
  if (len === 0) return true;
  const flags = p.readUInt8(5);
  let need = 1;
  if (flags & 0x10) need += 6; // PCR
  if (flags & 0x08) need += 6; // OPCR
  if (flags & 0x04) need += 1; // splice_countdown
  if (flags & 0x02) need += 1 + (5 + need < TS_PACKET_SIZE ? p.readUInt8(5 + need) : 0); // transport_private_data
  if (flags & 0x01) need += 1 + (5 + need < TS_PACKET_SIZE ? p.readUInt8(5 + need) : 0); // adaptation_field_extension
  return len > need;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x8000_0000 ? (c << 1) ^ 0x04c1_1db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** crc32Mpeg2 is the PSI section CRC (polynomial 0x04C11DB7, no reflection); a section with its CRC gives 0. */
export function crc32Mpeg2(buf: Buffer): number {
  let crc = 0xffff_ffff;
  // The index is masked to 0..255 and the table has 256 entries: the `!` cannot be wrong, and a check would run per byte.
  for (let i = 0; i < buf.length; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ buf.readUInt8(i)) & 0xff]!) >>> 0;
  return crc >>> 0;
}

function readTimestamp(b: Buffer, o: number): number {
  // 4 bits marker, 3 bits ts[32..30], marker, 15 bits, marker, 15 bits, marker
  return ((b.readUInt8(o) >> 1) & 0x07) * 2 ** 30 + ((b.readUInt16BE(o + 1) >> 1) << 15) + (b.readUInt16BE(o + 3) >> 1);
}

/** parsePes reads a PES packet's header; null when it is not a PES we can read. */
export function parsePes(buf: Buffer, info: TsStreamInfo, randomAccess: boolean): TsPes | null {
  if (buf.length < 9 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 1) return null;
  const length = buf.readUInt16BE(4);
  const headerLength = buf.readUInt8(8);
  const start = 9 + headerLength;
  if (start > buf.length) return null;
  const flags = buf.readUInt8(7) >> 6;
  let pts: number | undefined;
  let dts: number | undefined;
  if (flags & 2) {
    if (headerLength < 5) return null;
    pts = readTimestamp(buf, 9);
    dts = pts;
    if (flags & 1) {
      if (headerLength < 10) return null;
      dts = readTimestamp(buf, 14);
    }
  }
  const end = length > 0 ? Math.min(buf.length, 6 + length) : buf.length;
  if (end < start) return null;
  return { pid: info.pid, streamType: info.streamType, ...(pts !== undefined ? { pts, dts } : {}), randomAccess, data: buf.subarray(start, end) };
}

// ---------------------------------------------------------------- elementary streams

/** splitAnnexB lists the NAL units of an Annex B byte stream (start codes 00 00 01 / 00 00 00 01). */
export function splitAnnexB(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = -1;
  let i = 0;
  const n = buf.length;
  while (i + 2 < n) {
    if (buf.readUInt8(i + 2) > 1) {
      i += 3;
      continue;
    }
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      if (start >= 0) {
        let end = i;
        while (end > start && buf[end - 1] === 0) end--; // trailing zeros belong to the next start code
        if (end > start) out.push(buf.subarray(start, end));
      }
      start = i + 3;
      i += 3;
      continue;
    }
    i++;
  }
  if (start >= 0 && start < n) out.push(buf.subarray(start));
  return out;
}

export const ADTS_SAMPLES_PER_FRAME = 1024;

export interface AdtsFrame {
  /** MPEG-4 audio object type (ADTS profile + 1). */
  objectType: number;
  samplingFrequencyIndex: number;
  channelConfiguration: number;
  /** The raw AAC frame (without the ADTS header and CRC). */
  data: Buffer;
}

/** parseAdtsFrames splits a buffer of ADTS frames; stops at the first header it cannot read. */
export function parseAdtsFrames(buf: Buffer): AdtsFrame[] {
  const out: AdtsFrame[] = [];
  let o = 0;
  while (o + 7 <= buf.length) {
    if (buf[o] !== 0xff || (buf.readUInt8(o + 1) & 0xf6) !== 0xf0) break;
    const protectionAbsent = buf.readUInt8(o + 1) & 1;
    const profile = buf.readUInt8(o + 2) >> 6;
    const sfi = (buf.readUInt8(o + 2) >> 2) & 0x0f;
    const channelConfiguration = ((buf.readUInt8(o + 2) & 1) << 2) | (buf.readUInt8(o + 3) >> 6);
    const frameLength = ((buf.readUInt8(o + 3) & 0x03) << 11) | (buf.readUInt8(o + 4) << 3) | (buf.readUInt8(o + 5) >> 5);
    const headerLength = protectionAbsent ? 7 : 9;
    if (frameLength < headerLength || o + frameLength > buf.length || sfi > 12) break;
    out.push({ objectType: profile + 1, samplingFrequencyIndex: sfi, channelConfiguration, data: buf.subarray(o + headerLength, o + frameLength) });
    o += frameLength;
  }
  return out;
}

/**
 * TimestampUnwrapper turns 33-bit 90 kHz timestamps into a continuous count: each value is
 * placed in the 2^33 period nearest the last one seen (shared by every stream of a program,
 * so audio and video stay on one timeline across the wrap at about 26.5 hours).
 */
export class TimestampUnwrapper {
  private last: number | null = null;
  unwrap(ts: number): number {
    if (this.last === null) {
      this.last = ts;
      return ts;
    }
    const base = this.last - (((this.last % PTS_MODULO) + PTS_MODULO) % PTS_MODULO);
    let v = base + ts;
    if (v - this.last > PTS_MODULO / 2) v -= PTS_MODULO;
    else if (this.last - v > PTS_MODULO / 2) v += PTS_MODULO;
    // Only move forward with the reference, so one stream's older timestamps do not drag it back.
    if (v > this.last) this.last = v;
    return v;
  }
}
