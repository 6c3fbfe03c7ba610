/**
 * Fragmented MP4 (ISO/IEC 14496-12 "ISOBMFF", CMAF-style) writer: init segments and
 * media fragments for LL-HLS. Pure: buffers in, buffers out. Field names follow 14496-12
 * (and 14496-15 for avcC/hvcC, 14496-1/-3 for esds).
 */
import { u8, u16, u32, u64, u32s } from './bytes.js';

/** Box types used below, as four-character codes. */
export const BoxType = {
  ftyp: 'ftyp', styp: 'styp', moov: 'moov', mvhd: 'mvhd', trak: 'trak', tkhd: 'tkhd',
  mdia: 'mdia', mdhd: 'mdhd', hdlr: 'hdlr', minf: 'minf', vmhd: 'vmhd', smhd: 'smhd',
  dinf: 'dinf', dref: 'dref', url: 'url ', stbl: 'stbl', stsd: 'stsd', stts: 'stts',
  stsc: 'stsc', stsz: 'stsz', stco: 'stco', avc1: 'avc1', avcC: 'avcC', hvc1: 'hvc1',
  hvcC: 'hvcC', mp4a: 'mp4a', esds: 'esds', mvex: 'mvex', trex: 'trex', moof: 'moof',
  mfhd: 'mfhd', traf: 'traf', tfhd: 'tfhd', tfdt: 'tfdt', trun: 'trun', mdat: 'mdat',
  btrt: 'btrt', pasp: 'pasp',
} as const;

/** Timescale of video tracks (90 kHz, as MPEG systems do). */
export const VIDEO_TIMESCALE = 90_000;
/** Timescale of the movie header; nothing is timed in it for fragmented files. */
export const MOVIE_TIMESCALE = 1000;

const BOX_HEADER_SIZE = 8;
const FIXED_16_16_ONE = 0x00010000;
const FIXED_8_8_ONE = 0x0100;
const LANGUAGE_UND = 0x55c4; // ISO-639-2/T "und" packed as three 5-bit letters
/** Unity matrix { 0x00010000,0,0, 0,0x00010000,0, 0,0,0x40000000 }. */
const UNITY_MATRIX = [FIXED_16_16_ONE, 0, 0, 0, FIXED_16_16_ONE, 0, 0, 0, 0x40000000];
const RESOLUTION_72_DPI = 0x00480000;
const VISUAL_DEPTH_24 = 0x0018;

/** tkhd flags: track_enabled | track_in_movie. */
const TKHD_FLAGS_ENABLED_IN_MOVIE = 0x000003;
/** dref entry flag: media data is in the same file. */
const URL_FLAG_SELF_CONTAINED = 0x000001;
/** vmhd flags are 1 by definition. */
const VMHD_FLAGS = 0x000001;

/** tfhd flag: base data offset is the start of the moof box (CMAF requires it). */
export const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;
/** trun flags. */
export const TrunFlags = {
  dataOffsetPresent: 0x000001,
  firstSampleFlagsPresent: 0x000004,
  sampleDurationPresent: 0x000100,
  sampleSizePresent: 0x000200,
  sampleFlagsPresent: 0x000400,
  sampleCompositionTimeOffsetPresent: 0x000800,
} as const;

/** Sample flags (14496-12 8.8.3.1): sample_depends_on = 2 (an I picture), sync sample. */
export const SAMPLE_FLAGS_SYNC = 0x02000000;
/** Sample flags: sample_depends_on = 1 (depends on others), sample_is_non_sync_sample = 1. */
export const SAMPLE_FLAGS_NON_SYNC = 0x01010000;

/** MPEG-4 descriptor tags (14496-1 7.2.2.1). */
const DescriptorTag = { ES: 0x03, DecoderConfig: 0x04, DecoderSpecificInfo: 0x05, SLConfig: 0x06 } as const;
/** objectTypeIndication for MPEG-4 Audio (AAC). */
const OBJECT_TYPE_MPEG4_AUDIO = 0x40;
/** streamType 5 (AudioStream) << 2 | upStream 0 | reserved 1. */
const STREAM_TYPE_AUDIO_BYTE = (0x05 << 2) | 1;
/** SLConfigDescriptor predefined = 2 (reserved for MP4 files). */
const SL_PREDEFINED_MP4 = 0x02;

/** box builds one ISO BMFF box: size(32) type(4cc) then the payload parts in order. */
export function box(type: string, ...payload: Buffer[]): Buffer {
  let size = BOX_HEADER_SIZE;
  for (const p of payload) size += p.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(size, 0);
  out.write(type, 4, 4, 'latin1');
  let off = BOX_HEADER_SIZE;
  for (const p of payload) {
    p.copy(out, off);
    off += p.length;
  }
  return out;
}

/** fullBox builds a FullBox: version(8) flags(24) before the payload. */
export function fullBox(type: string, version: number, flags: number, ...payload: Buffer[]): Buffer {
  const vf = Buffer.allocUnsafe(4);
  vf.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), 0);
  return box(type, vf, ...payload);
}

function zeros(n: number): Buffer {
  return Buffer.alloc(n);
}
function fourcc(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** Track describes one track of an init segment. */
export type Fmp4Track =
  | {
      kind: 'video';
      id: number;
      codec: 'avc' | 'hevc';
      timescale: number;
      /** AVCDecoderConfigurationRecord or HEVCDecoderConfigurationRecord, copied into avcC/hvcC. */
      config: Buffer;
      width: number;
      height: number;
    }
  | {
      kind: 'audio';
      id: number;
      codec: 'aac';
      /** The sample rate; also the media timescale. */
      timescale: number;
      /** AudioSpecificConfig. */
      config: Buffer;
      channels: number;
      sampleRate: number;
    };

/**
 * ftyp builds the file type box.
 *
 *   ftyp: major_brand, minor_version, compatible_brands[]
 */
export function ftyp(majorBrand = 'iso6', minorVersion = 0, compatibleBrands: string[] = ['iso6', 'mp41']): Buffer {
  return box(BoxType.ftyp, fourcc(majorBrand), u32(minorVersion), ...compatibleBrands.map(fourcc));
}

/**
 * styp builds a segment type box, optional at the start of each media segment.
 *
 *   styp: major_brand 'msdh', minor_version, compatible_brands ['msdh', 'msix']
 */
export function styp(): Buffer {
  return box(BoxType.styp, fourcc('msdh'), u32(0), fourcc('msdh'), fourcc('msix'));
}

/**
 * initSegment builds the initialization segment for the given tracks.
 *
 *   ftyp
 *   moov
 *   ├── mvhd
 *   ├── trak (per track)
 *   │   ├── tkhd
 *   │   └── mdia
 *   │       ├── mdhd
 *   │       ├── hdlr
 *   │       └── minf
 *   │           ├── vmhd | smhd
 *   │           ├── dinf ── dref ── url
 *   │           └── stbl
 *   │               ├── stsd ── avc1 (avcC) | hvc1 (hvcC) | mp4a (esds)
 *   │               └── stts, stsc, stsz, stco (empty)
 *   └── mvex
 *       └── trex (per track)
 */
export function initSegment(tracks: Fmp4Track[]): Buffer {
  if (tracks.length === 0) throw new Error('fmp4: init segment needs at least one track');
  const nextTrackId = Math.max(...tracks.map((t) => t.id)) + 1;
  return Buffer.concat([ftyp(), box(BoxType.moov, mvhd(nextTrackId), ...tracks.map(trak), mvex(tracks))]);
}

/**
 * mvhd: creation_time, modification_time, timescale, duration (0: fragmented),
 * rate, volume, reserved(10), matrix[9], pre_defined[6], next_track_ID.
 */
export function mvhd(nextTrackId: number): Buffer {
  return fullBox(
    BoxType.mvhd, 0, 0,
    u32(0), // creation_time
    u32(0), // modification_time
    u32(MOVIE_TIMESCALE), // timescale
    u32(0), // duration
    u32(FIXED_16_16_ONE), // rate 1.0
    u16(FIXED_8_8_ONE), // volume 1.0
    zeros(2 + 8), // reserved(16), reserved(32)[2]
    u32s(UNITY_MATRIX), // matrix
    zeros(6 * 4), // pre_defined
    u32(nextTrackId), // next_track_ID
  );
}

/** trak: tkhd, mdia. */
function trak(track: Fmp4Track): Buffer {
  return box(BoxType.trak, tkhd(track), mdia(track));
}

/**
 * tkhd (version 0): creation_time, modification_time, track_ID, reserved, duration,
 * reserved[2], layer, alternate_group, volume, reserved, matrix[9], width, height (16.16).
 */
export function tkhd(track: Fmp4Track): Buffer {
  const isAudio = track.kind === 'audio';
  const width = track.kind === 'video' ? track.width : 0;
  const height = track.kind === 'video' ? track.height : 0;
  return fullBox(
    BoxType.tkhd, 0, TKHD_FLAGS_ENABLED_IN_MOVIE,
    u32(0), // creation_time
    u32(0), // modification_time
    u32(track.id), // track_ID
    u32(0), // reserved
    u32(0), // duration
    zeros(8), // reserved[2]
    u16(0), // layer
    u16(0), // alternate_group
    u16(isAudio ? FIXED_8_8_ONE : 0), // volume
    u16(0), // reserved
    u32s(UNITY_MATRIX), // matrix
    u32(width * FIXED_16_16_ONE), // width
    u32(height * FIXED_16_16_ONE), // height
  );
}

/** mdia: mdhd, hdlr, minf. */
function mdia(track: Fmp4Track): Buffer {
  return box(BoxType.mdia, mdhd(track.timescale), hdlr(track.kind === 'video' ? 'vide' : 'soun'), minf(track));
}

/** mdhd (version 0): creation_time, modification_time, timescale, duration, pad+language, pre_defined. */
export function mdhd(timescale: number): Buffer {
  return fullBox(BoxType.mdhd, 0, 0, u32(0), u32(0), u32(timescale), u32(0), u16(LANGUAGE_UND), u16(0));
}

/** hdlr: pre_defined, handler_type, reserved[3], name (null-terminated UTF-8). */
export function hdlr(handlerType: 'vide' | 'soun'): Buffer {
  const name = handlerType === 'vide' ? 'VideoHandler' : 'SoundHandler';
  return fullBox(BoxType.hdlr, 0, 0, u32(0), fourcc(handlerType), zeros(12), Buffer.from(name + '\0', 'utf8'));
}

/** minf: vmhd|smhd, dinf(dref(url)), stbl. */
function minf(track: Fmp4Track): Buffer {
  const header =
    track.kind === 'video'
      ? fullBox(BoxType.vmhd, 0, VMHD_FLAGS, u16(0), zeros(6)) // graphicsmode, opcolor[3]
      : fullBox(BoxType.smhd, 0, 0, u16(0), u16(0)); // balance, reserved
  const dinf = box(BoxType.dinf, fullBox(BoxType.dref, 0, 0, u32(1), fullBox(BoxType.url, 0, URL_FLAG_SELF_CONTAINED)));
  return box(BoxType.minf, header, dinf, stbl(track));
}

/** stbl: stsd with the sample entry, and empty stts/stsc/stsz/stco (samples live in fragments). */
function stbl(track: Fmp4Track): Buffer {
  const entry = track.kind === 'video' ? visualSampleEntry(track) : mp4a(track);
  return box(
    BoxType.stbl,
    fullBox(BoxType.stsd, 0, 0, u32(1), entry),
    fullBox(BoxType.stts, 0, 0, u32(0)),
    fullBox(BoxType.stsc, 0, 0, u32(0)),
    fullBox(BoxType.stsz, 0, 0, u32(0), u32(0)), // sample_size, sample_count
    fullBox(BoxType.stco, 0, 0, u32(0)),
  );
}

/**
 * avc1 / hvc1 VisualSampleEntry: reserved[6], data_reference_index, pre_defined, reserved,
 * pre_defined[3], width, height, horizresolution, vertresolution, reserved, frame_count,
 * compressorname[32], depth, pre_defined(-1), then avcC / hvcC carrying the record verbatim.
 */
export function visualSampleEntry(track: Extract<Fmp4Track, { kind: 'video' }>): Buffer {
  const [entryType, configType] = track.codec === 'avc' ? [BoxType.avc1, BoxType.avcC] : [BoxType.hvc1, BoxType.hvcC];
  return box(
    entryType,
    zeros(6), // reserved
    u16(1), // data_reference_index
    u16(0), // pre_defined
    u16(0), // reserved
    zeros(12), // pre_defined[3]
    u16(track.width),
    u16(track.height),
    u32(RESOLUTION_72_DPI), // horizresolution
    u32(RESOLUTION_72_DPI), // vertresolution
    u32(0), // reserved
    u16(1), // frame_count
    zeros(32), // compressorname (empty Pascal string)
    u16(VISUAL_DEPTH_24), // depth
    u16(0xffff), // pre_defined = -1
    box(configType, track.config),
  );
}

/**
 * mp4a AudioSampleEntry: reserved[6], data_reference_index, reserved[2] (32-bit),
 * channelcount, samplesize, pre_defined, reserved, samplerate (16.16), then esds.
 */
export function mp4a(track: Extract<Fmp4Track, { kind: 'audio' }>): Buffer {
  return box(
    BoxType.mp4a,
    zeros(6),
    u16(1), // data_reference_index
    zeros(8), // reserved[2]
    u16(track.channels), // channelcount
    u16(16), // samplesize
    u16(0), // pre_defined
    u16(0), // reserved
    u32((track.sampleRate & 0xffff) * FIXED_16_16_ONE), // samplerate 16.16
    esds(track.config),
  );
}

/** descriptor encodes one MPEG-4 descriptor: tag, expandable size (7 bits per byte), payload. */
export function descriptor(tag: number, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const sizeBytes: number[] = [];
  let n = body.length;
  do {
    sizeBytes.unshift(n & 0x7f);
    n >>>= 7;
  } while (n > 0);
  // Every size byte but the last has the continuation bit.
  const sizeField = sizeBytes.map((b, i) => (i < sizeBytes.length - 1 ? b | 0x80 : b));
  return Buffer.concat([Buffer.from([tag, ...sizeField]), body]);
}

/**
 * esds: ES_Descriptor
 *   ├── ES_ID, flags
 *   ├── DecoderConfigDescriptor: objectTypeIndication 0x40, streamType audio,
 *   │   bufferSizeDB, maxBitrate, avgBitrate
 *   │   └── DecoderSpecificInfo: AudioSpecificConfig
 *   └── SLConfigDescriptor: predefined 2
 */
export function esds(audioSpecificConfig: Buffer): Buffer {
  const decoderConfig = descriptor(
    DescriptorTag.DecoderConfig,
    u8(OBJECT_TYPE_MPEG4_AUDIO),
    u8(STREAM_TYPE_AUDIO_BYTE),
    Buffer.from([0, 0, 0]), // bufferSizeDB (24 bits)
    u32(0), // maxBitrate
    u32(0), // avgBitrate
    descriptor(DescriptorTag.DecoderSpecificInfo, audioSpecificConfig),
  );
  const es = descriptor(DescriptorTag.ES, u16(0), u8(0), decoderConfig, descriptor(DescriptorTag.SLConfig, u8(SL_PREDEFINED_MP4)));
  return fullBox(BoxType.esds, 0, 0, es);
}

/**
 * mvex
 * └── trex (per track): track_ID, default_sample_description_index, default_sample_duration,
 *     default_sample_size, default_sample_flags
 */
export function mvex(tracks: Fmp4Track[]): Buffer {
  return box(BoxType.mvex, ...tracks.map((t) => fullBox(BoxType.trex, 0, 0, u32(t.id), u32(1), u32(0), u32(0), u32(0))));
}

/** Fmp4Sample is one sample of a track fragment; times are in the track's timescale. */
export interface Fmp4Sample {
  duration: number;
  /** sample_flags; SAMPLE_FLAGS_SYNC or SAMPLE_FLAGS_NON_SYNC. */
  flags: number;
  /** sample_composition_time_offset = pts - dts (signed). */
  compositionTimeOffset: number;
  data: Buffer;
}

/** Fmp4TrackRun is one track's samples in a fragment. */
export interface Fmp4TrackRun {
  trackId: number;
  /** tfdt baseMediaDecodeTime: decode time of the first sample, 64-bit, in the track timescale. */
  baseMediaDecodeTime: number;
  samples: Fmp4Sample[];
  /** Whether to write per-sample flags and composition offsets (video). */
  video: boolean;
}

/**
 * mediaFragment builds one fragment: a moof and its mdat. The mdat holds each run's
 * sample data in the order of `runs`; each trun's data_offset points at its run.
 *
 *   moof
 *   ├── mfhd: sequence_number
 *   └── traf (per run)
 *       ├── tfhd: flags default-base-is-moof, track_ID
 *       ├── tfdt (version 1): baseMediaDecodeTime (64-bit)
 *       └── trun (version 1: signed composition offsets): sample_count, data_offset,
 *           per sample: sample_duration, sample_size, [sample_flags, sample_composition_time_offset]
 *   mdat: sample data
 */
export function mediaFragment(sequenceNumber: number, runs: Fmp4TrackRun[]): Buffer {
  const nonEmpty = runs.filter((r) => r.samples.length > 0);
  if (nonEmpty.length === 0) throw new Error('fmp4: fragment needs at least one sample');
  // Build the moof once with zero data offsets to learn its size; the offsets do not change it.
  const moofSize = moof(sequenceNumber, nonEmpty.map((run) => ({ run, dataOffset: 0 }))).length;
  const placed: PlacedRun[] = [];
  let dataSize = 0;
  for (const run of nonEmpty) {
    placed.push({ run, dataOffset: moofSize + BOX_HEADER_SIZE + dataSize });
    for (const s of run.samples) dataSize += s.data.length;
  }
  const moofBox = moof(sequenceNumber, placed);
  const out = Buffer.allocUnsafe(moofBox.length + BOX_HEADER_SIZE + dataSize);
  moofBox.copy(out, 0);
  let off = moofBox.length;
  out.writeUInt32BE(BOX_HEADER_SIZE + dataSize, off);
  out.write(BoxType.mdat, off + 4, 4, 'latin1');
  off += BOX_HEADER_SIZE;
  for (const r of nonEmpty) {
    for (const s of r.samples) {
      s.data.copy(out, off);
      off += s.data.length;
    }
  }
  return out;
}

/** PlacedRun is a track run with the offset of its first sample's data from the moof's start. */
interface PlacedRun { run: Fmp4TrackRun; dataOffset: number }

function moof(sequenceNumber: number, runs: readonly PlacedRun[]): Buffer {
  return box(BoxType.moof, fullBox(BoxType.mfhd, 0, 0, u32(sequenceNumber)), ...runs.map((r) => traf(r.run, r.dataOffset)));
}

function traf(run: Fmp4TrackRun, dataOffset: number): Buffer {
  return box(
    BoxType.traf,
    fullBox(BoxType.tfhd, 0, TFHD_DEFAULT_BASE_IS_MOOF, u32(run.trackId)),
    fullBox(BoxType.tfdt, 1, 0, u64(run.baseMediaDecodeTime)),
    trun(run, dataOffset),
  );
}

/** trun: version 1 with signed composition offsets for video; duration+size only for audio. */
export function trun(run: Fmp4TrackRun, dataOffset: number): Buffer {
  let flags = TrunFlags.dataOffsetPresent | TrunFlags.sampleDurationPresent | TrunFlags.sampleSizePresent;
  if (run.video) flags |= TrunFlags.sampleFlagsPresent | TrunFlags.sampleCompositionTimeOffsetPresent;
  const perSample = run.video ? 16 : 8;
  const body = Buffer.allocUnsafe(8 + run.samples.length * perSample);
  body.writeUInt32BE(run.samples.length, 0); // sample_count
  body.writeInt32BE(dataOffset, 4); // data_offset
  let off = 8;
  for (const s of run.samples) {
    body.writeUInt32BE(s.duration >>> 0, off);
    body.writeUInt32BE(s.data.length, off + 4);
    if (run.video) {
      body.writeUInt32BE(s.flags >>> 0, off + 8);
      body.writeInt32BE(s.compositionTimeOffset | 0, off + 12);
    }
    off += perSample;
  }
  return fullBox(BoxType.trun, run.video ? 1 : 0, flags, body);
}
