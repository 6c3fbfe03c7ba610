/**
 * H.265 / HEVC: HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1) and the SPS
 * fields for picture size (ITU-T H.265 7.3.2.2). Used for Enhanced RTMP pass-through,
 * where we only need a description of the track. Malformed input throws HevcError.
 *
 *   hvcC = configurationVersion(8) profile_space(2) tier(1) profile_idc(5) compat_flags(32)
 *          constraint_flags(48) level_idc(8) ... lengthSizeMinusOne(2 low bits of byte 21)
 *          numOfArrays(8) { completeness(1) reserved(1) nal_type(6) numNalus(16) { len(16) nal }* }*
 */
import { BitReader, removeEmulationPrevention } from './avc.js';

export class HevcError extends Error {
  constructor(message: string) {
    super(`hevc: ${message}`);
    this.name = 'HevcError';
  }
}

export const HEVC_NAL_VPS = 32;
export const HEVC_NAL_SPS = 33;
export const HEVC_NAL_PPS = 34;
const HVCC_HEADER_SIZE = 23;

export interface HevcDecoderConfig {
  profileSpace: number;
  tier: number;
  profileIdc: number;
  compatibilityFlags: number;
  constraintFlags: Buffer;
  levelIdc: number;
  nalLengthSize: number;
  arrays: { type: number; nalus: Buffer[] }[];
}

/** parseHevcDecoderConfig reads an hvcC record. */
export function parseHevcDecoderConfig(buf: Buffer): HevcDecoderConfig {
  if (buf.length < HVCC_HEADER_SIZE) throw new HevcError('hvcC too short');
  if (buf[0] !== 1) throw new HevcError(`unsupported configurationVersion ${buf[0]}`);
  const arrays: { type: number; nalus: Buffer[] }[] = [];
  let o = 23;
  const numArrays = buf.readUInt8(22);
  for (let i = 0; i < numArrays; i++) {
    if (o + 3 > buf.length) throw new HevcError('hvcC truncated');
    const type = buf.readUInt8(o) & 0x3f;
    const n = buf.readUInt16BE(o + 1);
    o += 3;
    const nalus: Buffer[] = [];
    for (let j = 0; j < n; j++) {
      if (o + 2 > buf.length) throw new HevcError('hvcC truncated');
      const len = buf.readUInt16BE(o);
      o += 2;
      if (o + len > buf.length) throw new HevcError('hvcC truncated');
      nalus.push(buf.subarray(o, o + len));
      o += len;
    }
    arrays.push({ type, nalus });
  }
  return {
    profileSpace: buf.readUInt8(1) >> 6,
    tier: (buf.readUInt8(1) >> 5) & 1,
    profileIdc: buf.readUInt8(1) & 0x1f,
    compatibilityFlags: buf.readUInt32BE(2),
    constraintFlags: buf.subarray(6, 12),
    levelIdc: buf.readUInt8(12),
    nalLengthSize: (buf.readUInt8(21) & 3) + 1,
    arrays,
  };
}

/** The SPS fields onair uses (ITU-T H.265 7.3.2.2), read in one walk. */
export interface HevcSps {
  maxSubLayersMinus1: number;
  temporalIdNesting: number;
  /** general_profile_space .. general_level_idc as they are (12 bytes): hvcC bytes 1..12. */
  generalProfileTierLevel: Buffer;
  chromaFormatIdc: number;
  /** Picture size after the conformance window. */
  width: number;
  height: number;
  bitDepthLumaMinus8: number;
  bitDepthChromaMinus8: number;
}

const PTL_GENERAL_BYTES = 12;

/** parseHevcSps reads an SPS NAL unit (with its 2-byte header) up to the bit depths. */
export function parseHevcSps(nal: Buffer): HevcSps {
  if (nal.length < 2 + 1 + PTL_GENERAL_BYTES) throw new HevcError('SPS too short');
  const rbsp = removeEmulationPrevention(nal.subarray(2));
  const r = new BitReader(rbsp, (m) => new HevcError(m));
  r.skip(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.u(3);
  const temporalIdNesting = r.u1();
  // profile_tier_level(1, maxSubLayersMinus1): the general part is byte-aligned (bytes 1..12).
  const generalProfileTierLevel = Buffer.from(rbsp.subarray(1, 1 + PTL_GENERAL_BYTES));
  r.skip(8 * PTL_GENERAL_BYTES);
  const profilePresent: number[] = [];
  const levelPresent: number[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    profilePresent.push(r.u1());
    levelPresent.push(r.u1());
  }
  if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.skip(2);
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (profilePresent[i]) r.skip(88);
    if (levelPresent[i]) r.skip(8);
  }
  r.ue(); // sps_seq_parameter_set_id
  const chromaFormatIdc = r.ue();
  if (chromaFormatIdc > 3) throw new HevcError(`bad chroma_format_idc ${chromaFormatIdc}`);
  let separateColourPlane = 0;
  if (chromaFormatIdc === 3) separateColourPlane = r.u1();
  let width = r.ue();
  let height = r.ue();
  if (r.u1()) {
    const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
    const subW = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
    const subH = chromaArrayType === 1 ? 2 : 1;
    const l = r.ue(), rr = r.ue(), t = r.ue(), b = r.ue();
    width -= subW * (l + rr);
    height -= subH * (t + b);
  }
  if (width <= 0 || height <= 0) throw new HevcError('bad picture size');
  const bitDepthLumaMinus8 = r.ue();
  const bitDepthChromaMinus8 = r.ue();
  if (bitDepthLumaMinus8 > 7 || bitDepthChromaMinus8 > 7) throw new HevcError('bit depth out of range');
  return { maxSubLayersMinus1, temporalIdNesting, generalProfileTierLevel, chromaFormatIdc, width, height, bitDepthLumaMinus8, bitDepthChromaMinus8 };
}

/** parseHevcSpsSize reads pic size (after conformance window cropping) from an SPS NAL unit. */
export function parseHevcSpsSize(nal: Buffer): { width: number; height: number } {
  const { width, height } = parseHevcSps(nal);
  return { width, height };
}

export const HEVC_NAL_AUD = 35;
/** IRAP pictures (BLA, IDR, CRA: NAL types 16..21) are where decoding can start. */
export const HEVC_NAL_IRAP_FIRST = 16;
export const HEVC_NAL_IRAP_LAST = 21;

/** hevcNalType reads the type from the 2-byte HEVC NAL header. */
export function hevcNalType(nal: Buffer): number {
  return (nal.readUInt8(0) >> 1) & 0x3f;
}

/**
 * encodeHevcDecoderConfig builds hvcC from one in-band VPS, SPS and PPS (4-byte NAL lengths), as
 * for HEVC carried in MPEG-TS. The general profile/tier/level bytes are the SPS's as they are;
 * chroma format and bit depths come from the SPS; no spatial segmentation, parallelism or frame
 * rate is claimed.
 */
export function encodeHevcDecoderConfig(vps: Buffer, sps: Buffer, pps: Buffer): Buffer {
  const f = parseHevcSps(sps);
  const head = Buffer.alloc(HVCC_HEADER_SIZE);
  head[0] = 1;
  f.generalProfileTierLevel.copy(head, 1);
  head.writeUInt16BE(0xf000, 13); // reserved | min_spatial_segmentation_idc 0
  head[15] = 0xfc; // reserved | parallelismType 0
  head[16] = 0xfc | f.chromaFormatIdc;
  head[17] = 0xf8 | f.bitDepthLumaMinus8;
  head[18] = 0xf8 | f.bitDepthChromaMinus8;
  head.writeUInt16BE(0, 19); // avgFrameRate unknown
  head[21] = ((f.maxSubLayersMinus1 + 1) << 3) | (f.temporalIdNesting << 2) | 3; // lengthSizeMinusOne 3
  head[22] = 3; // numOfArrays
  const array = (type: number, nal: Buffer): Buffer => {
    const b = Buffer.alloc(5);
    b[0] = 0x80 | type; // array_completeness
    b.writeUInt16BE(1, 1);
    b.writeUInt16BE(nal.length, 3);
    return Buffer.concat([b, nal]);
  };
  return Buffer.concat([head, array(HEVC_NAL_VPS, vps), array(HEVC_NAL_SPS, sps), array(HEVC_NAL_PPS, pps)]);
}

function reverseBits32(v: number): number {
  let out = 0;
  for (let i = 0; i < 32; i++) {
    out = (out << 1) | (v & 1);
    v >>>= 1;
  }
  return out >>> 0;
}

/** hevcCodecString gives the ISO/IEC 14496-15 E.3 codec string, e.g. hvc1.1.6.L93.B0. */
export function hevcCodecString(cfg: HevcDecoderConfig): string {
  const space = ['', 'A', 'B', 'C'][cfg.profileSpace] ?? '';
  const compat = reverseBits32(cfg.compatibilityFlags).toString(16).toUpperCase();
  const tier = cfg.tier ? 'H' : 'L';
  const bytes = [...cfg.constraintFlags];
  while (bytes.length > 0 && bytes[bytes.length - 1] === 0) bytes.pop();
  const constraints = bytes.map((b) => b.toString(16).toUpperCase()).join('.');
  return `hvc1.${space}${cfg.profileIdc}.${compat}.${tier}${cfg.levelIdc}${constraints ? '.' + constraints : ''}`;
}

/** describeHevcConfig summarises an hvcC record; size is 0 when it carries no SPS. */
export function describeHevcConfig(hvcc: Buffer): { width: number; height: number; profile: number; level: number; codecString: string } {
  const cfg = parseHevcDecoderConfig(hvcc);
  const sps = cfg.arrays.find((a) => a.type === HEVC_NAL_SPS)?.nalus[0];
  const size = sps ? parseHevcSpsSize(sps) : { width: 0, height: 0 };
  return { ...size, profile: cfg.profileIdc, level: cfg.levelIdc, codecString: hevcCodecString(cfg) };
}
