/** A small ISO BMFF reader for tests: walks boxes and decodes the fields our writer emits. */

export interface ParsedBox {
  type: string;
  start: number;
  size: number;
  /** Offset of the payload (after the 8-byte header). */
  payload: number;
  end: number;
  children: ParsedBox[];
}

const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'dinf', 'stbl', 'mvex', 'moof', 'traf', 'edts']);
/** Boxes whose children start after a fixed number of payload bytes. */
const CHILD_OFFSET: Record<string, number> = { stsd: 8, dref: 8, avc1: 78, hvc1: 78, mp4a: 28 };

export function parseBoxes(buf: Buffer, start = 0, end = buf.length): ParsedBox[] {
  const out: ParsedBox[] = [];
  let off = start;
  while (off < end) {
    if (end - off < 8) throw new Error(`truncated box header at ${off}`);
    const size = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (size < 8 || off + size > end) throw new Error(`bad size ${size} for ${type} at ${off}`);
    const b: ParsedBox = { type, start: off, size, payload: off + 8, end: off + size, children: [] };
    if (CONTAINERS.has(type)) b.children = parseBoxes(buf, off + 8, off + size);
    else if (type in CHILD_OFFSET) b.children = parseBoxes(buf, off + 8 + CHILD_OFFSET[type]!, off + size);
    out.push(b);
    off += size;
  }
  return out;
}

/** find returns the first box at the given path, e.g. find(boxes, 'moov/trak/tkhd'). */
export function find(boxes: ParsedBox[], path: string): ParsedBox | undefined {
  const [head, ...rest] = path.split('/');
  for (const b of boxes) {
    if (b.type !== head) continue;
    if (rest.length === 0) return b;
    const r = find(b.children, rest.join('/'));
    if (r) return r;
  }
  return undefined;
}

export function findAll(boxes: ParsedBox[], type: string): ParsedBox[] {
  const out: ParsedBox[] = [];
  for (const b of boxes) {
    if (b.type === type) out.push(b);
    out.push(...findAll(b.children, type));
  }
  return out;
}

export function must(boxes: ParsedBox[], path: string): ParsedBox {
  const b = find(boxes, path);
  if (!b) throw new Error(`box ${path} not found`);
  return b;
}

export interface TrunSample {
  duration?: number;
  size?: number;
  flags?: number;
  cto?: number;
}

export interface DecodedTraf {
  trackId: number;
  tfhdFlags: number;
  baseMediaDecodeTime: bigint;
  tfdtVersion: number;
  trunVersion: number;
  trunFlags: number;
  dataOffset: number;
  samples: TrunSample[];
}

export function decodeTraf(buf: Buffer, traf: ParsedBox): DecodedTraf {
  const tfhd = must(traf.children, 'tfhd');
  const tfdt = must(traf.children, 'tfdt');
  const trun = must(traf.children, 'trun');
  const tfdtVersion = buf[tfdt.payload]!;
  const base = tfdtVersion === 1 ? buf.readBigUInt64BE(tfdt.payload + 4) : BigInt(buf.readUInt32BE(tfdt.payload + 4));
  const trunVersion = buf[trun.payload]!;
  const trunFlags = buf.readUInt32BE(trun.payload) & 0xffffff;
  const count = buf.readUInt32BE(trun.payload + 4);
  let off = trun.payload + 8;
  let dataOffset = 0;
  if (trunFlags & 0x1) {
    dataOffset = buf.readInt32BE(off);
    off += 4;
  }
  if (trunFlags & 0x4) off += 4;
  const samples: TrunSample[] = [];
  for (let i = 0; i < count; i++) {
    const s: TrunSample = {};
    if (trunFlags & 0x100) { s.duration = buf.readUInt32BE(off); off += 4; }
    if (trunFlags & 0x200) { s.size = buf.readUInt32BE(off); off += 4; }
    if (trunFlags & 0x400) { s.flags = buf.readUInt32BE(off); off += 4; }
    if (trunFlags & 0x800) { s.cto = trunVersion === 1 ? buf.readInt32BE(off) : buf.readUInt32BE(off); off += 4; }
    samples.push(s);
  }
  if (off !== trun.end) throw new Error(`trun length mismatch: ${off} vs ${trun.end}`);
  return {
    trackId: buf.readUInt32BE(tfhd.payload + 4),
    tfhdFlags: buf.readUInt32BE(tfhd.payload) & 0xffffff,
    baseMediaDecodeTime: base,
    tfdtVersion,
    trunVersion,
    trunFlags,
    dataOffset,
    samples,
  };
}

export interface DecodedFragment {
  sequenceNumber: number;
  moofStart: number;
  trafs: DecodedTraf[];
  /** Sample payloads per traf, sliced using data_offset and sizes. */
  sampleData: Buffer[][];
}

/** decodeFragments decodes every moof+mdat pair of a media segment or part. */
export function decodeFragments(buf: Buffer): DecodedFragment[] {
  const boxes = parseBoxes(buf);
  const out: DecodedFragment[] = [];
  for (let i = 0; i < boxes.length; i++) {
    const m = boxes[i]!;
    if (m.type !== 'moof') continue;
    const mdat = boxes[i + 1];
    if (!mdat || mdat.type !== 'mdat') throw new Error('moof without mdat');
    const mfhd = must(m.children, 'mfhd');
    const trafs = m.children.filter((c) => c.type === 'traf').map((t) => decodeTraf(buf, t));
    const sampleData = trafs.map((t) => {
      let off = m.start + t.dataOffset;
      return t.samples.map((s) => {
        const d = buf.subarray(off, off + (s.size ?? 0));
        if (off < mdat.payload || off + (s.size ?? 0) > mdat.end) throw new Error('sample data outside mdat');
        off += s.size ?? 0;
        return d;
      });
    });
    out.push({ sequenceNumber: buf.readUInt32BE(mfhd.payload + 4), moofStart: m.start, trafs, sampleData });
  }
  return out;
}
