/**
 * Progressive ("faststart") MP4 from a fragmented MP4: reads the init segment and the
 * moof boxes of a fragmented file and plans a file with one moov (full sample tables)
 * before one mdat holding the fragments' sample data in their original order.
 * Pure: buffers in, a plan out; the caller copies the sample bytes (they may be gigabytes).
 * Field names follow ISO/IEC 14496-12.
 */
import { u16, u32, i32, u64 as u64Strict, i64, u32s } from './bytes.js';
import { box, fullBox, hdlr, MOVIE_TIMESCALE, TFHD_DEFAULT_BASE_IS_MOOF, TrunFlags } from './fmp4.js';

export class Mp4Error extends Error {
  constructor(message: string) {
    super(`mp4: ${message}`);
    this.name = 'Mp4Error';
  }
}

const BOX_HEADER_SIZE = 8;
const LARGE_BOX_HEADER_SIZE = 16;
const U32_MAX = 0xffffffff;
/** sample_is_non_sync_sample bit of sample flags. */
const SAMPLE_FLAG_NON_SYNC = 0x00010000;
const FIXED_16_16_ONE = 0x00010000;
const FIXED_8_8_ONE = 0x0100;
const UNITY_MATRIX = [FIXED_16_16_ONE, 0, 0, 0, FIXED_16_16_ONE, 0, 0, 0, 0x40000000];
const LANGUAGE_UND = 0x55c4;
const TKHD_FLAGS_ENABLED_IN_MOVIE = 0x000003;
/** tfhd optional-field flags. */
const TfhdFlags = {
  baseDataOffsetPresent: 0x000001,
  sampleDescriptionIndexPresent: 0x000002,
  defaultSampleDurationPresent: 0x000008,
  defaultSampleSizePresent: 0x000010,
  defaultSampleFlagsPresent: 0x000020,
} as const;
/** Samples looked at for the earliest presentation time (covers any real reorder depth). */
const PRESENTATION_SCAN_SAMPLES = 64;

/** BoxHeader locates one box; `size` covers the header. */
export interface BoxHeader {
  type: string;
  start: number;
  headerSize: number;
  size: number;
}

/**
 * readBoxHeader reads the box header at `off` of `buf` (which holds at least 16 bytes from
 * `off` when available). size 1 means a 64-bit largesize; size 0 means "to the end" (`total`).
 */
export function readBoxHeader(buf: Buffer, off: number, total: number): BoxHeader | undefined {
  if (off + BOX_HEADER_SIZE > buf.length) return undefined;
  let size = buf.readUInt32BE(off);
  const type = buf.toString('latin1', off + 4, off + 8);
  let headerSize = BOX_HEADER_SIZE;
  if (size === 1) {
    if (off + LARGE_BOX_HEADER_SIZE > buf.length) return undefined;
    size = Number(buf.readBigUInt64BE(off + 8));
    headerSize = LARGE_BOX_HEADER_SIZE;
  } else if (size === 0) size = total - off;
  if (size < headerSize) throw new Mp4Error(`box ${JSON.stringify(type)} at ${off} has bad size ${size}`);
  return { type, start: off, headerSize, size };
}

/** children lists the boxes inside payload [start, end) of buf. */
function children(buf: Buffer, start: number, end: number): BoxHeader[] {
  const out: BoxHeader[] = [];
  let off = start;
  while (off + BOX_HEADER_SIZE <= end) {
    const h = readBoxHeader(buf, off, end);
    if (!h || h.start + h.size > end) throw new Mp4Error(`truncated box at ${off}`);
    out.push(h);
    off += h.size;
  }
  return out;
}

function child(buf: Buffer, parent: BoxHeader, type: string): BoxHeader | undefined {
  return children(buf, parent.start + parent.headerSize, parent.start + parent.size).find((b) => b.type === type);
}

function need(b: BoxHeader | undefined, what: string): BoxHeader {
  if (!b) throw new Mp4Error(`missing ${what}`);
  return b;
}

/** InitTrack is what the plan needs from one trak of an init segment. */
export interface InitTrack {
  trackId: number;
  handler: 'vide' | 'soun';
  timescale: number;
  /** The whole stsd box, copied verbatim. */
  stsd: Buffer;
  /** tkhd width/height (16.16 fixed point values). */
  width: number;
  height: number;
}

/** parseInitSegment reads the tracks of an init segment (ftyp + moov, or the moov alone). */
export function parseInitSegment(init: Buffer): InitTrack[] {
  const top = children(init, 0, init.length);
  const moov = need(top.find((b) => b.type === 'moov'), 'moov');
  const tracks: InitTrack[] = [];
  for (const trak of children(init, moov.start + moov.headerSize, moov.start + moov.size).filter((b) => b.type === 'trak')) {
    const tkhd = need(child(init, trak, 'tkhd'), 'tkhd');
    const v = init.readUInt8(tkhd.start + tkhd.headerSize);
    const p = tkhd.start + tkhd.headerSize + 4;
    const trackId = init.readUInt32BE(p + (v === 1 ? 16 : 8));
    // width/height are the last 8 bytes of tkhd.
    const width = init.readUInt32BE(tkhd.start + tkhd.size - 8);
    const height = init.readUInt32BE(tkhd.start + tkhd.size - 4);
    const mdia = need(child(init, trak, 'mdia'), 'mdia');
    const mdhd = need(child(init, mdia, 'mdhd'), 'mdhd');
    const mv = init.readUInt8(mdhd.start + mdhd.headerSize);
    const timescale = init.readUInt32BE(mdhd.start + mdhd.headerSize + 4 + (mv === 1 ? 16 : 8));
    const hd = need(child(init, mdia, 'hdlr'), 'hdlr');
    const handler = init.toString('latin1', hd.start + hd.headerSize + 8, hd.start + hd.headerSize + 12);
    if (handler !== 'vide' && handler !== 'soun') continue;
    const stbl = need(child(init, need(child(init, mdia, 'minf'), 'minf'), 'stbl'), 'stbl');
    const stsd = need(child(init, stbl, 'stsd'), 'stsd');
    tracks.push({ trackId, handler, timescale, stsd: Buffer.from(init.subarray(stsd.start, stsd.start + stsd.size)), width, height });
  }
  if (tracks.length === 0) throw new Mp4Error('init segment has no audio or video track');
  return tracks;
}

/** FragmentSample is one sample of a track run. */
export interface FragmentSample {
  duration: number;
  size: number;
  /** sample_flags (sync unless the non-sync bit is set). */
  flags: number;
  compositionTimeOffset: number;
}

/** FragmentRun is one trun: a contiguous block of one track's samples. */
export interface FragmentRun {
  trackId: number;
  baseMediaDecodeTime: number;
  /** Absolute offset of the run's first sample byte in the source file. */
  dataOffset: number;
  samples: FragmentSample[];
}

/**
 * parseMoof reads the runs of a moof that starts at `moofOffset` in the source file.
 * Offsets follow tfhd: base-data-offset, else default-base-is-moof, else the moof start.
 */
export function parseMoof(moof: Buffer, moofOffset: number): FragmentRun[] {
  const root = readBoxHeader(moof, 0, moof.length);
  if (!root || root.type !== 'moof' || root.size > moof.length) throw new Mp4Error('not a complete moof');
  const runs: FragmentRun[] = [];
  for (const traf of children(moof, root.headerSize, root.size).filter((b) => b.type === 'traf')) {
    const tfhd = need(child(moof, traf, 'tfhd'), 'tfhd');
    let o = tfhd.start + tfhd.headerSize;
    const tfFlags = moof.readUInt32BE(o) & 0xffffff;
    const trackId = moof.readUInt32BE(o + 4);
    o += 8;
    let base = moofOffset;
    if (tfFlags & TfhdFlags.baseDataOffsetPresent) {
      base = Number(moof.readBigUInt64BE(o));
      o += 8;
    } else if (!(tfFlags & TFHD_DEFAULT_BASE_IS_MOOF)) base = moofOffset;
    if (tfFlags & TfhdFlags.sampleDescriptionIndexPresent) o += 4;
    let defDuration = 0;
    let defSize = 0;
    let defFlags = 0;
    if (tfFlags & TfhdFlags.defaultSampleDurationPresent) { defDuration = moof.readUInt32BE(o); o += 4; }
    if (tfFlags & TfhdFlags.defaultSampleSizePresent) { defSize = moof.readUInt32BE(o); o += 4; }
    if (tfFlags & TfhdFlags.defaultSampleFlagsPresent) { defFlags = moof.readUInt32BE(o); o += 4; }
    const tfdt = child(moof, traf, 'tfdt');
    let decodeTime = 0;
    if (tfdt) {
      const p = tfdt.start + tfdt.headerSize;
      decodeTime = moof[p] === 1 ? Number(moof.readBigUInt64BE(p + 4)) : moof.readUInt32BE(p + 4);
    }
    let nextOffset = base;
    for (const trun of children(moof, traf.start + traf.headerSize, traf.start + traf.size).filter((b) => b.type === 'trun')) {
      let p = trun.start + trun.headerSize;
      const version = moof.readUInt8(p);
      const flags = moof.readUInt32BE(p) & 0xffffff;
      const count = moof.readUInt32BE(p + 4);
      p += 8;
      let dataOffset = nextOffset;
      if (flags & TrunFlags.dataOffsetPresent) { dataOffset = base + moof.readInt32BE(p); p += 4; }
      let firstFlags: number | undefined;
      if (flags & TrunFlags.firstSampleFlagsPresent) { firstFlags = moof.readUInt32BE(p); p += 4; }
      const perSample = [TrunFlags.sampleDurationPresent, TrunFlags.sampleSizePresent, TrunFlags.sampleFlagsPresent, TrunFlags.sampleCompositionTimeOffsetPresent]
        .filter((f) => flags & f).length * 4;
      if (p + count * perSample > trun.start + trun.size) throw new Mp4Error('trun sample table truncated');
      const samples: FragmentSample[] = [];
      let bytes = 0;
      for (let i = 0; i < count; i++) {
        const s: FragmentSample = { duration: defDuration, size: defSize, flags: i === 0 && firstFlags !== undefined ? firstFlags : defFlags, compositionTimeOffset: 0 };
        if (flags & TrunFlags.sampleDurationPresent) { s.duration = moof.readUInt32BE(p); p += 4; }
        if (flags & TrunFlags.sampleSizePresent) { s.size = moof.readUInt32BE(p); p += 4; }
        if (flags & TrunFlags.sampleFlagsPresent) { s.flags = moof.readUInt32BE(p); p += 4; }
        if (flags & TrunFlags.sampleCompositionTimeOffsetPresent) { s.compositionTimeOffset = version === 0 ? moof.readUInt32BE(p) : moof.readInt32BE(p); p += 4; }
        bytes += s.size;
        samples.push(s);
      }
      runs.push({ trackId, baseMediaDecodeTime: decodeTime, dataOffset, samples });
      for (const s of samples) decodeTime += s.duration;
      nextOffset = dataOffset + bytes;
    }
  }
  return runs;
}

/** CopyRange is a span of source bytes that goes, in order, into the output mdat. */
export interface CopyRange {
  sourceOffset: number;
  size: number;
}

/** ProgressiveTrackSummary describes one track of the planned file. */
export interface ProgressiveTrackSummary {
  trackId: number;
  handler: 'vide' | 'soun';
  samples: number;
  durationSeconds: number;
}

/** ProgressivePlan is the output file: `header` (ftyp, moov, mdat header) then the ranges copied in order. */
export interface ProgressivePlan {
  header: Buffer;
  ranges: CopyRange[];
  /** Total output size. */
  size: number;
  durationSeconds: number;
  tracks: ProgressiveTrackSummary[];
}

interface TrackTable {
  init: InitTrack;
  dts: number[];
  durations: number[];
  sizes: number[];
  ctos: number[];
  sync: boolean[];
  /** Chunk = one run: index of its first sample and its count; offset filled in later. */
  chunks: { first: number; count: number; offset: number }[];
}

/**
 * planProgressiveMp4 builds the faststart layout of the given runs (in file order; each
 * run becomes one chunk). Runs of unknown tracks are skipped; tracks without samples are dropped.
 */
export function planProgressiveMp4(tracks: InitTrack[], runs: FragmentRun[]): ProgressivePlan {
  const tables = new Map<number, TrackTable>();
  for (const t of tracks) tables.set(t.trackId, { init: t, dts: [], durations: [], sizes: [], ctos: [], sync: [], chunks: [] });
  const ranges: CopyRange[] = [];
  const chunkOrder: { table: TrackTable; chunk: number; size: number }[] = [];
  for (const run of runs) {
    const t = tables.get(run.trackId);
    if (!t || run.samples.length === 0) continue;
    let dts = run.baseMediaDecodeTime;
    const first = t.dts.length;
    let size = 0;
    for (const s of run.samples) {
      t.dts.push(dts);
      t.durations.push(s.duration);
      t.sizes.push(s.size);
      t.ctos.push(s.compositionTimeOffset);
      t.sync.push((s.flags & SAMPLE_FLAG_NON_SYNC) === 0);
      dts += s.duration;
      size += s.size;
    }
    t.chunks.push({ first, count: run.samples.length, offset: 0 });
    chunkOrder.push({ table: t, chunk: t.chunks.length - 1, size });
    const last = ranges[ranges.length - 1];
    if (last && last.sourceOffset + last.size === run.dataOffset) last.size += size;
    else ranges.push({ sourceOffset: run.dataOffset, size });
  }
  const used = [...tables.values()].filter((t) => t.dts.length > 0);
  if (used.length === 0) throw new Mp4Error('no samples to write');
  // Sample durations follow the decode times (tfdt), so gaps inside a track are kept.
  for (const t of used) {
    t.dts.forEach((dts, i) => {
      const d = dts - (t.dts[i - 1] ?? dts);
      if (d > 0) t.durations[i - 1] = d;
    });
  }
  let mdatData = 0;
  for (const c of chunkOrder) mdatData += c.size;
  const mdatHeaderSize = mdatData + BOX_HEADER_SIZE > U32_MAX ? LARGE_BOX_HEADER_SIZE : BOX_HEADER_SIZE;
  const fileType = ftypProgressive();
  const layout = (use64: boolean): Buffer => {
    const moovBox = moovProgressive(used, use64);
    let off = fileType.length + moovBox.length + mdatHeaderSize;
    for (const c of chunkOrder) {
      const chunk = c.table.chunks[c.chunk];
      if (chunk === undefined) throw new Mp4Error(`chunk ${c.chunk} is not in its track's table`);
      chunk.offset = off;
      off += c.size;
    }
    return moovProgressive(used, use64);
  };
  let moovBox = layout(false);
  if (fileType.length + moovBox.length + mdatHeaderSize + mdatData > U32_MAX) moovBox = layout(true);
  const mdatHeader = Buffer.alloc(mdatHeaderSize);
  if (mdatHeaderSize === LARGE_BOX_HEADER_SIZE) {
    mdatHeader.writeUInt32BE(1, 0);
    mdatHeader.write('mdat', 4, 'latin1');
    mdatHeader.writeBigUInt64BE(BigInt(mdatData + LARGE_BOX_HEADER_SIZE), 8);
  } else {
    mdatHeader.writeUInt32BE(mdatData + BOX_HEADER_SIZE, 0);
    mdatHeader.write('mdat', 4, 'latin1');
  }
  const header = Buffer.concat([fileType, moovBox, mdatHeader]);
  const summaries = used.map((t) => ({
    trackId: t.init.trackId,
    handler: t.init.handler,
    samples: t.dts.length,
    durationSeconds: presentationEnd(t) / t.init.timescale,
  }));
  return {
    header,
    ranges,
    size: header.length + mdatData,
    durationSeconds: Math.max(...summaries.map((s) => s.durationSeconds)),
    tracks: summaries,
  };
}

// ---- box writers ----

/** u64 for durations and offsets that may come out negative from a torn fragment: clamp to 0. */
const u64 = (v: number): Buffer => u64Strict(Math.max(0, v));

/** ftyp for a progressive file: major 'isom', compatible isom/iso2/avc1/mp41. */
function ftypProgressive(): Buffer {
  return box('ftyp', Buffer.from('isom', 'latin1'), u32(0x200), Buffer.from('isomiso2avc1mp41', 'latin1'));
}

/** firstPresentation is the earliest composition time among a track's first samples. */
function firstPresentation(t: TrackTable): number {
  let min = Infinity;
  // ctos runs alongside dts, one offset per sample.
  t.dts.slice(0, PRESENTATION_SCAN_SAMPLES).forEach((dts, i) => { min = Math.min(min, dts + (t.ctos[i] ?? 0)); });
  return min;
}

/** presentationEnd is the track's end on its media timeline (last decode time + duration). */
function presentationEnd(t: TrackTable): number {
  const n = t.dts.length;
  const last = t.dts[n - 1];
  return last === undefined ? 0 : last + (t.durations[n - 1] ?? 0);
}

const toMovie = (ticks: number, timescale: number) => Math.round((ticks * MOVIE_TIMESCALE) / timescale);

/**
 * moov for the planned file.
 *
 *   moov
 *   ├── mvhd (v1): duration = longest track presentation
 *   └── trak (per track)
 *       ├── tkhd (v1)
 *       ├── edts ── elst (v1): [empty edit until the first sample] + the media from its first presented time
 *       └── mdia
 *           ├── mdhd (v1), hdlr
 *           └── minf
 *               ├── vmhd | smhd, dinf ── dref ── url
 *               └── stbl: stsd (copied), stts, [ctts v1], [stss], stsc, stsz, stco | co64
 */
function moovProgressive(tracks: TrackTable[], use64: boolean): Buffer {
  const traks: Buffer[] = [];
  let movieDuration = 0;
  for (const t of tracks) {
    const ts = t.init.timescale;
    const startDts = t.dts[0] ?? 0;
    const mediaStart = t.ctos.some((c) => c !== 0) ? firstPresentation(t) : startDts;
    const mediaEnd = presentationEnd(t);
    const editMs = toMovie(mediaEnd - mediaStart, ts);
    // Tracks share the recording's time origin: a track that starts presenting later waits in an empty edit.
    const emptyMs = toMovie(Math.max(0, mediaStart), ts);
    movieDuration = Math.max(movieDuration, emptyMs + editMs);
    // media_time counts from the track's first sample, which is media time 0 in the progressive file.
    const entries: Buffer[] = [];
    if (emptyMs > 0) entries.push(u64(emptyMs), i64(-1), u16(1), u16(0));
    entries.push(u64(editMs), i64(mediaStart - startDts), u16(1), u16(0));
    const elst = fullBox('elst', 1, 0, u32(emptyMs > 0 ? 2 : 1), ...entries);
    const mdhdBox = fullBox('mdhd', 1, 0, u64(0), u64(0), u32(ts), u64(mediaEnd - startDts), u16(LANGUAGE_UND), u16(0));
    const isVideo = t.init.handler === 'vide';
    const mediaHeader = isVideo ? fullBox('vmhd', 0, 1, u16(0), Buffer.alloc(6)) : fullBox('smhd', 0, 0, u16(0), u16(0));
    const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)));
    const tkhdBox = fullBox(
      'tkhd', 1, TKHD_FLAGS_ENABLED_IN_MOVIE,
      u64(0), u64(0), // creation_time, modification_time
      u32(t.init.trackId), u32(0), // track_ID, reserved
      u64(emptyMs + editMs), // duration (movie timescale)
      Buffer.alloc(8), // reserved[2]
      u16(0), u16(0), // layer, alternate_group
      u16(isVideo ? 0 : FIXED_8_8_ONE), u16(0), // volume, reserved
      u32s(UNITY_MATRIX),
      u32(isVideo ? t.init.width : 0), u32(isVideo ? t.init.height : 0),
    );
    traks.push(box('trak', tkhdBox, box('edts', elst), box('mdia', mdhdBox, hdlr(t.init.handler), box('minf', mediaHeader, dinf, stblProgressive(t, use64)))));
  }
  const nextTrackId = Math.max(...tracks.map((t) => t.init.trackId)) + 1;
  const mvhd = fullBox(
    'mvhd', 1, 0,
    u64(0), u64(0), u32(MOVIE_TIMESCALE), u64(movieDuration),
    u32(FIXED_16_16_ONE), u16(FIXED_8_8_ONE), Buffer.alloc(10), u32s(UNITY_MATRIX), Buffer.alloc(24), u32(nextTrackId),
  );
  return box('moov', mvhd, ...traks);
}

/** runLength collapses equal neighbours into [count, value] pairs. */
function runLength(values: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const v of values) {
    const last = out[out.length - 1];
    if (last && last[1] === v) last[0]++;
    else out.push([1, v]);
  }
  return out;
}

function stblProgressive(t: TrackTable, use64: boolean): Buffer {
  const parts: Buffer[] = [t.init.stsd];
  const stts = runLength(t.durations);
  parts.push(fullBox('stts', 0, 0, u32(stts.length), ...stts.map(([n, d]) => u32s([n, d]))));
  if (t.ctos.some((c) => c !== 0)) {
    const ctts = runLength(t.ctos);
    parts.push(fullBox('ctts', 1, 0, u32(ctts.length), ...ctts.map(([n, c]) => Buffer.concat([u32(n), i32(c)]))));
  }
  if (t.sync.some((s) => !s)) {
    const syncs: number[] = [];
    t.sync.forEach((s, i) => { if (s) syncs.push(i + 1); });
    parts.push(fullBox('stss', 0, 0, u32(syncs.length), u32s(syncs)));
  }
  // stsc: one entry per change of samples_per_chunk.
  const stsc: number[] = [];
  let prev = -1;
  t.chunks.forEach((c, i) => {
    if (c.count !== prev) stsc.push(i + 1, c.count, 1);
    prev = c.count;
  });
  parts.push(fullBox('stsc', 0, 0, u32(stsc.length / 3), u32s(stsc)));
  const [firstSize = 0] = t.sizes;
  const same = t.sizes.every((s) => s === firstSize);
  parts.push(same ? fullBox('stsz', 0, 0, u32(firstSize), u32(t.sizes.length)) : fullBox('stsz', 0, 0, u32(0), u32(t.sizes.length), u32s(t.sizes)));
  parts.push(
    use64
      ? fullBox('co64', 0, 0, u32(t.chunks.length), ...t.chunks.map((c) => u64(c.offset)))
      : fullBox('stco', 0, 0, u32(t.chunks.length), u32s(t.chunks.map((c) => c.offset))),
  );
  return box('stbl', ...parts);
}
