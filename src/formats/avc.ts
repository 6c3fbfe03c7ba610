/**
 * H.264 / AVC: AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1) and the fields of
 * the sequence parameter set (ITU-T H.264 7.3.2.1.1) needed for width, height, profile
 * and level. Pure; malformed input throws AvcError.
 *
 *   avcC = configurationVersion(8 = 1) AVCProfileIndication(8) profile_compatibility(8)
 *          AVCLevelIndication(8) reserved(6) lengthSizeMinusOne(2)
 *          reserved(3) numOfSequenceParameterSets(5) { spsLength(16) sps }*
 *          numOfPictureParameterSets(8) { ppsLength(16) pps }*  [high-profile extension]
 */

export class AvcError extends Error {
  constructor(message: string) {
    super(`avc: ${message}`);
    this.name = 'AvcError';
  }
}

export const NAL_TYPE_SLICE = 1;
export const NAL_TYPE_IDR = 5;
export const NAL_TYPE_SEI = 6;
export const NAL_TYPE_SPS = 7;
export const NAL_TYPE_PPS = 8;
export const NAL_TYPE_AUD = 9;

/** removeEmulationPrevention turns a NAL unit's EBSP into its RBSP (drops 0x03 after 00 00). */
export function removeEmulationPrevention(nal: Buffer): Buffer {
  const out = Buffer.allocUnsafe(nal.length);
  let o = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal.readUInt8(i);
    if (zeros >= 2 && b === 0x03) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out[o++] = b;
  }
  return out.subarray(0, o);
}

/** BitReader reads MSB-first bits and Exp-Golomb codes; overruns throw the given error type. */
export class BitReader {
  private bit = 0;
  constructor(private readonly buf: Buffer, private readonly fail: (msg: string) => Error = (m) => new AvcError(m)) {}
  get bitsLeft(): number {
    return this.buf.length * 8 - this.bit;
  }
  /** position is the number of bits read so far. */
  get position(): number {
    return this.bit;
  }
  u1(): number {
    if (this.bit >= this.buf.length * 8) throw this.fail('bitstream truncated');
    const v = (this.buf.readUInt8(this.bit >> 3) >> (7 - (this.bit & 7))) & 1;
    this.bit++;
    return v;
  }
  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.u1();
    return v;
  }
  skip(n: number): void {
    if (this.bit + n > this.buf.length * 8) throw this.fail('bitstream truncated');
    this.bit += n;
  }
  ue(): number {
    let zeros = 0;
    while (this.u1() === 0) {
      if (++zeros > 31) throw this.fail('Exp-Golomb code too long');
    }
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.u(zeros);
  }
  se(): number {
    const k = this.ue();
    return k & 1 ? (k + 1) / 2 : -(k / 2);
  }
}

export interface AvcSps {
  profileIdc: number;
  constraintFlags: number;
  levelIdc: number;
  chromaFormatIdc: number;
  bitDepthLuma: number;
  width: number;
  height: number;
  frameMbsOnly: boolean;
}

const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** parseSps reads an SPS NAL unit (with its 1-byte NAL header). */
export function parseSps(nal: Buffer): AvcSps {
  if (nal.length < 4) throw new AvcError('SPS too short');
  if ((nal.readUInt8(0) & 0x1f) !== NAL_TYPE_SPS) throw new AvcError(`NAL type ${nal.readUInt8(0) & 0x1f} is not an SPS`);
  const r = new BitReader(removeEmulationPrevention(nal.subarray(1)));
  const profileIdc = r.u(8);
  const constraintFlags = r.u(8);
  const levelIdc = r.u(8);
  r.ue(); // seq_parameter_set_id
  let chromaFormatIdc = 1;
  let separateColourPlane = 0;
  let bitDepthLuma = 8;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc > 3) throw new AvcError(`bad chroma_format_idc ${chromaFormatIdc}`);
    if (chromaFormatIdc === 3) separateColourPlane = r.u1();
    bitDepthLuma = r.ue() + 8;
    r.ue(); // bit_depth_chroma_minus8
    r.u1(); // qpprime_y_zero_transform_bypass_flag
    if (r.u1()) {
      const lists = chromaFormatIdc !== 3 ? 8 : 12;
      for (let i = 0; i < lists; i++) if (r.u1()) skipScalingList(r, i < 6 ? 16 : 64);
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) {
    r.ue(); // log2_max_pic_order_cnt_lsb_minus4
  } else if (pocType === 1) {
    r.u1(); // delta_pic_order_always_zero_flag
    r.se(); // offset_for_non_ref_pic
    r.se(); // offset_for_top_to_bottom_field
    const n = r.ue();
    if (n > 255) throw new AvcError('num_ref_frames_in_pic_order_cnt_cycle too large');
    for (let i = 0; i < n; i++) r.se();
  } else if (pocType !== 2) {
    throw new AvcError(`bad pic_order_cnt_type ${pocType}`);
  }
  r.ue(); // max_num_ref_frames
  r.u1(); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.u1() === 1;
  if (!frameMbsOnly) r.u1(); // mb_adaptive_frame_field_flag
  r.u1(); // direct_8x8_inference_flag
  let cropL = 0, cropR = 0, cropT = 0, cropB = 0;
  if (r.u1()) {
    cropL = r.ue();
    cropR = r.ue();
    cropT = r.ue();
    cropB = r.ue();
  }
  const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
  const subWidthC = chromaFormatIdc === 3 ? 1 : 2;
  const subHeightC = chromaFormatIdc === 1 ? 2 : 1;
  const cropUnitX = chromaArrayType === 0 ? 1 : subWidthC;
  const cropUnitY = (chromaArrayType === 0 ? 1 : subHeightC) * (frameMbsOnly ? 1 : 2);
  const width = widthMbs * 16 - (cropL + cropR) * cropUnitX;
  const height = (frameMbsOnly ? 1 : 2) * heightMapUnits * 16 - (cropT + cropB) * cropUnitY;
  if (width <= 0 || height <= 0) throw new AvcError('cropping exceeds picture size');
  return { profileIdc, constraintFlags, levelIdc, chromaFormatIdc, bitDepthLuma, width, height, frameMbsOnly };
}

export interface AvcDecoderConfig {
  profile: number;
  compatibility: number;
  level: number;
  /** Bytes of the NAL length prefix in samples (1, 2 or 4). */
  nalLengthSize: number;
  sps: Buffer[];
  pps: Buffer[];
}

/** parseAvcDecoderConfig reads an avcC record (the body of an AVC sequence header). */
export function parseAvcDecoderConfig(buf: Buffer): AvcDecoderConfig {
  if (buf.length < 7) throw new AvcError('avcC too short');
  if (buf[0] !== 1) throw new AvcError(`unsupported configurationVersion ${buf[0]}`);
  const nalLengthSize = (buf.readUInt8(4) & 0x03) + 1;
  if (nalLengthSize === 3) throw new AvcError('NAL length size 3 is not allowed');
  let o = 5;
  const readSets = (count: number): Buffer[] => {
    const sets: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      if (o + 2 > buf.length) throw new AvcError('avcC truncated');
      const len = buf.readUInt16BE(o);
      o += 2;
      if (o + len > buf.length) throw new AvcError('avcC truncated');
      sets.push(buf.subarray(o, o + len));
      o += len;
    }
    return sets;
  };
  const sps = readSets(buf.readUInt8(o++) & 0x1f);
  if (o >= buf.length) throw new AvcError('avcC truncated before PPS count');
  const pps = readSets(buf.readUInt8(o++));
  return { profile: buf.readUInt8(1), compatibility: buf.readUInt8(2), level: buf.readUInt8(3), nalLengthSize, sps, pps };
}

/** encodeAvcDecoderConfig builds an avcC record from one SPS and its PPS list. */
export function encodeAvcDecoderConfig(sps: Buffer, pps: Buffer[], nalLengthSize = 4): Buffer {
  const parts: Buffer[] = [Buffer.from([1, sps.readUInt8(1), sps.readUInt8(2), sps.readUInt8(3), 0xfc | (nalLengthSize - 1), 0xe0 | 1])];
  const len = (b: Buffer): Buffer => {
    const h = Buffer.allocUnsafe(2);
    h.writeUInt16BE(b.length, 0);
    return h;
  };
  parts.push(len(sps), sps, Buffer.from([pps.length]));
  for (const p of pps) parts.push(len(p), p);
  return Buffer.concat(parts);
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** avcCodecString gives the RFC 6381 codec string, e.g. avc1.64001f. */
export function avcCodecString(profile: number, compatibility: number, level: number): string {
  return `avc1.${hex2(profile)}${hex2(compatibility)}${hex2(level)}`;
}

export interface AvcTrackSummary {
  width: number;
  height: number;
  profile: number;
  level: number;
  codecString: string;
  nalLengthSize: number;
}

/** describeAvcConfig parses avcC and its first SPS into the fields a track description needs. */
export function describeAvcConfig(avcc: Buffer): AvcTrackSummary {
  const cfg = parseAvcDecoderConfig(avcc);
  const [firstSps] = cfg.sps;
  if (firstSps === undefined) throw new AvcError('avcC has no SPS');
  const sps = parseSps(firstSps);
  return {
    width: sps.width,
    height: sps.height,
    profile: sps.profileIdc,
    level: sps.levelIdc,
    codecString: avcCodecString(sps.profileIdc, sps.constraintFlags, sps.levelIdc),
    nalLengthSize: cfg.nalLengthSize,
  };
}

/** joinLengthPrefixed writes NAL units into one length-prefixed (AVCC/HVCC) sample, the inverse of splitLengthPrefixed. */
export function joinLengthPrefixed(nals: readonly Buffer[], lengthSize = 4): Buffer {
  let size = 0;
  for (const nal of nals) size += lengthSize + nal.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const nal of nals) {
    out.writeUIntBE(nal.length, at, lengthSize);
    at += lengthSize;
    at += nal.copy(out, at);
  }
  return out;
}

/** splitLengthPrefixed lists the NAL units of a length-prefixed sample. */
export function splitLengthPrefixed(sample: Buffer, lengthSize = 4): Buffer[] {
  const out: Buffer[] = [];
  let o = 0;
  while (o + lengthSize <= sample.length) {
    const len = sample.readUIntBE(o, lengthSize);
    o += lengthSize;
    if (o + len > sample.length) throw new AvcError('NAL unit length exceeds sample');
    out.push(sample.subarray(o, o + len));
    o += len;
  }
  if (o !== sample.length) throw new AvcError('trailing bytes after last NAL unit');
  return out;
}
