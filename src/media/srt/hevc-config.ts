/**
 * HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1) built from in-band VPS/SPS/PPS, for
 * HEVC carried in MPEG-TS (stream type 0x24). Pure. The general profile/tier/level fields are
 * the SPS's profile_tier_level bytes as they are; chroma format and bit depths come from the SPS.
 *
 *   hvcC = version(8)=1 | profile_space(2) tier(1) profile_idc(5) | compat_flags(32) | constraint_flags(48)
 *          | level_idc(8) | 1111 min_spatial_segmentation(12)=0 | 111111 parallelism(2)=0
 *          | 111111 chroma_format(2) | 11111 bit_depth_luma-8(3) | 11111 bit_depth_chroma-8(3)
 *          | avg_frame_rate(16)=0 | constant_rate(2)=0 num_temporal_layers(3) temporal_id_nested(1) length_size-1(2)
 *          | num_arrays(8) { completeness(1)=1 0 nal_type(6) | num_nalus(16) { length(16) nal }* }*
 */
import { BitReader, removeEmulationPrevention } from '../../formats/avc.js';
import { HEVC_NAL_PPS, HEVC_NAL_SPS, HEVC_NAL_VPS, HevcError } from '../../formats/hevc.js';

export const HEVC_NAL_AUD = 35;
/** IRAP pictures (BLA, IDR, CRA: NAL types 16..21) are where decoding can start. */
export const HEVC_NAL_IRAP_FIRST = 16;
export const HEVC_NAL_IRAP_LAST = 21;
const PTL_GENERAL_BYTES = 12;

/** hevcNalType reads the type from the 2-byte HEVC NAL header. */
export function hevcNalType(nal: Buffer): number {
  return (nal[0]! >> 1) & 0x3f;
}

interface SpsFields {
  maxSubLayersMinus1: number;
  temporalIdNesting: number;
  ptl: Buffer;
  chromaFormatIdc: number;
  bitDepthLumaMinus8: number;
  bitDepthChromaMinus8: number;
}

function readSps(sps: Buffer): SpsFields {
  if (sps.length < 2 + 1 + PTL_GENERAL_BYTES) throw new HevcError('SPS too short');
  const rbsp = removeEmulationPrevention(sps.subarray(2));
  const r = new BitReader(rbsp, (m) => new HevcError(m));
  r.skip(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.u(3);
  const temporalIdNesting = r.u1();
  const ptl = Buffer.from(rbsp.subarray(1, 1 + PTL_GENERAL_BYTES));
  r.skip(8 * PTL_GENERAL_BYTES);
  const subProfile: number[] = [];
  const subLevel: number[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    subProfile.push(r.u1());
    subLevel.push(r.u1());
  }
  if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.skip(2);
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (subProfile[i]) r.skip(88);
    if (subLevel[i]) r.skip(8);
  }
  r.ue(); // sps_seq_parameter_set_id
  const chromaFormatIdc = r.ue();
  if (chromaFormatIdc > 3) throw new HevcError(`bad chroma_format_idc ${chromaFormatIdc}`);
  if (chromaFormatIdc === 3) r.u1(); // separate_colour_plane_flag
  r.ue(); // pic_width_in_luma_samples
  r.ue(); // pic_height_in_luma_samples
  if (r.u1()) for (let i = 0; i < 4; i++) r.ue(); // conformance window offsets
  const bitDepthLumaMinus8 = r.ue();
  const bitDepthChromaMinus8 = r.ue();
  if (bitDepthLumaMinus8 > 7 || bitDepthChromaMinus8 > 7) throw new HevcError('bit depth out of range');
  return { maxSubLayersMinus1, temporalIdNesting, ptl, chromaFormatIdc, bitDepthLumaMinus8, bitDepthChromaMinus8 };
}

/** encodeHevcDecoderConfig builds hvcC from one VPS, SPS and PPS (4-byte NAL lengths). */
export function encodeHevcDecoderConfig(vps: Buffer, sps: Buffer, pps: Buffer): Buffer {
  const f = readSps(sps);
  const head = Buffer.alloc(23);
  head[0] = 1;
  f.ptl.copy(head, 1); // profile space/tier/idc, compatibility flags, constraint flags, level
  head.writeUInt16BE(0xf000, 13);
  head[15] = 0xfc;
  head[16] = 0xfc | f.chromaFormatIdc;
  head[17] = 0xf8 | f.bitDepthLumaMinus8;
  head[18] = 0xf8 | f.bitDepthChromaMinus8;
  head.writeUInt16BE(0, 19);
  head[21] = ((f.maxSubLayersMinus1 + 1) << 3) | (f.temporalIdNesting << 2) | 3;
  head[22] = 3;
  const array = (type: number, nal: Buffer): Buffer => {
    const b = Buffer.alloc(5);
    b[0] = 0x80 | type;
    b.writeUInt16BE(1, 1);
    b.writeUInt16BE(nal.length, 3);
    return Buffer.concat([b, nal]);
  };
  return Buffer.concat([head, array(HEVC_NAL_VPS, vps), array(HEVC_NAL_SPS, sps), array(HEVC_NAL_PPS, pps)]);
}
