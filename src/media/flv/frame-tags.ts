/**
 * Frames → FLV: the one place a codec frame or track becomes an FLV tag (HTTP-FLV, WS-FLV, RTMP
 * players and push relays, and the ffmpeg stdin of the ABR transcoder and the Opus encoder).
 *
 * flvTagOf encodes a frame at most once, on first use, and every caller gets the same Buffer.
 * A frame that came in as FLV (RTMP publish, FLV pulls) was already copied into FLV tag layout
 * by the FLV edge (flv/frame-reader.ts), which lends that tag here: what a publisher sent over
 * RTMP goes out byte for byte, without a second copy.
 */
import {
  AAC_RAW_TAG_HEAD, AAC_SEQUENCE_TAG_HEAD, AVC_PACKET_NALU, AVC_PACKET_SEQUENCE_HEADER, EX_PACKET_CODED_FRAMES, EX_PACKET_SEQUENCE_START,
  FLV_TAG_AUDIO, FLV_TAG_VIDEO, FOURCC_AV1, FOURCC_HEVC, FlvError, MP3_TAG_HEAD, VIDEO_FRAME_INTER, VIDEO_FRAME_KEY, AUDIO_FORMAT_AAC,
  AUDIO_FORMAT_MP3, VIDEO_CODEC_AVC, avcVideoTagHead, encodeFlvTagFromParts, exVideoTagHead,
} from '../../formats/flv.js';
import type { Amf0Object } from '../../formats/amf0.js';
import type { AudioCodec, AudioTrackInfo, MediaFrame, VideoCodec, VideoTrackInfo } from '../hub/types.js';

/** FourCC numbers as onMetaData's videocodecid names Enhanced RTMP codecs. */
const META_VIDEO_CODEC_ID: Record<VideoCodec, number> = { avc: VIDEO_CODEC_AVC, hevc: fourCCNumber(FOURCC_HEVC), av1: fourCCNumber(FOURCC_AV1) };
const META_AUDIO_CODEC_ID: Partial<Record<AudioCodec, number>> = { aac: AUDIO_FORMAT_AAC, mp3: AUDIO_FORMAT_MP3 };
const TAG_TIMESTAMP_OFFSET = 4;

function fourCCNumber(fourCC: string): number {
  return Buffer.from(fourCC, 'latin1').readUInt32BE(0);
}

const tags = new WeakMap<MediaFrame, Buffer>();
const sequenceHeaders = new WeakMap<VideoTrackInfo | AudioTrackInfo, Buffer>();

/** flvCarries says whether FLV (legacy or Enhanced RTMP video) can carry frames of this codec. */
export function flvCarries(codec: VideoCodec | AudioCodec): boolean {
  return codec !== 'opus';
}

/** flvTagTypeOf is the FLV tag type of a frame. */
export function flvTagTypeOf(frame: MediaFrame): number {
  return frame.kind === 'video' ? FLV_TAG_VIDEO : FLV_TAG_AUDIO;
}

/**
 * lendFlvTag records the FLV tag a frame came in as (the FLV edge's own copy, in tag layout; the
 * frame's data is a view into it). flvTagOf then hands it out instead of encoding the frame.
 */
export function lendFlvTag(frame: MediaFrame, tag: Buffer): void {
  tags.set(frame, tag);
}

/** flvTagOf gives the frame's complete FLV tag (header, body, PreviousTagSize), encoded once. */
export function flvTagOf(frame: MediaFrame): Buffer {
  let tag = tags.get(frame);
  if (!tag) {
    tag = encodeFrameTag(frame);
    tags.set(frame, tag);
  } else if (tagTimestamp(tag) !== frame.dts >>> 0) {
    // The hub moved a decode time that stepped back; the lent tag follows it (before anyone read it).
    writeTagTimestamp(tag, frame.dts);
  }
  return tag;
}

/** flvBodyOf is the frame's FLV tag body (the RTMP message payload), a view into flvTagOf. */
export function flvBodyOf(frame: MediaFrame): Buffer {
  const tag = flvTagOf(frame);
  return tag.subarray(11, tag.length - 4);
}

function tagTimestamp(tag: Buffer): number {
  return (tag.readUIntBE(TAG_TIMESTAMP_OFFSET, 3) | (tag.readUInt8(TAG_TIMESTAMP_OFFSET + 3) << 24)) >>> 0;
}

function writeTagTimestamp(tag: Buffer, ms: number): void {
  const ts = ms >>> 0;
  tag.writeUIntBE(ts & 0xffffff, TAG_TIMESTAMP_OFFSET, 3);
  tag[TAG_TIMESTAMP_OFFSET + 3] = (ts >>> 24) & 0xff;
}

/**
 * encodeFrameTag encodes a frame as an FLV tag from its codec fields: legacy AVC, Enhanced RTMP
 * for HEVC ('hvc1', CodedFrames with CTS) and AV1 ('av01'), AAC and MP3 audio. Throws FlvError for
 * a codec FLV cannot carry (see flvCarries).
 */
export function encodeFrameTag(frame: MediaFrame): Buffer {
  const head = frameTagHead(frame);
  return encodeFlvTagFromParts(flvTagTypeOf(frame), frame.dts, [head, frame.data], head.length + frame.data.length);
}

function frameTagHead(frame: MediaFrame): Buffer {
  const frameType = frame.keyframe ? VIDEO_FRAME_KEY : VIDEO_FRAME_INTER;
  const cts = Math.round(frame.pts - frame.dts);
  switch (frame.codec) {
    case 'avc':
      return avcVideoTagHead(frameType, AVC_PACKET_NALU, cts);
    case 'hevc':
      return exVideoTagHead(frameType, EX_PACKET_CODED_FRAMES, FOURCC_HEVC, cts);
    case 'av1':
      return exVideoTagHead(frameType, EX_PACKET_CODED_FRAMES, FOURCC_AV1);
    case 'aac':
      return AAC_RAW_TAG_HEAD;
    case 'mp3':
      return MP3_TAG_HEAD;
    case 'opus':
      throw new FlvError('Opus frames have no FLV tag here');
  }
}

/** lendSequenceHeader records the sequence header tag body a track came in as (FLV edge). */
export function lendSequenceHeader(track: VideoTrackInfo | AudioTrackInfo, body: Buffer): void {
  sequenceHeaders.set(track, body);
}

/**
 * sequenceHeaderBodyOf gives the FLV tag body announcing a track (AVC/HEVC/AV1 sequence start,
 * AAC AudioSpecificConfig); null for codecs without one in FLV (MP3) or not carried (Opus).
 */
export function sequenceHeaderBodyOf(track: VideoTrackInfo | AudioTrackInfo): Buffer | null {
  const lent = sequenceHeaders.get(track);
  if (lent) return lent;
  let head: Buffer;
  switch (track.codec) {
    case 'avc':
      head = avcVideoTagHead(VIDEO_FRAME_KEY, AVC_PACKET_SEQUENCE_HEADER, 0);
      break;
    case 'hevc':
      head = exVideoTagHead(VIDEO_FRAME_KEY, EX_PACKET_SEQUENCE_START, FOURCC_HEVC);
      break;
    case 'av1':
      head = exVideoTagHead(VIDEO_FRAME_KEY, EX_PACKET_SEQUENCE_START, FOURCC_AV1);
      break;
    case 'aac':
      head = AAC_SEQUENCE_TAG_HEAD;
      break;
    case 'mp3':
    case 'opus':
      return null;
  }
  const body = Buffer.concat([head, track.config]);
  sequenceHeaders.set(track, body);
  return body;
}

/**
 * flvMetadataOf completes onMetaData for FLV players: the codec ids FLV names the tracks by, when
 * the publisher's metadata did not give them (non-FLV ingests). Metadata that has them is returned
 * unchanged, so RTMP-published metadata goes out as it came.
 */
export function flvMetadataOf(meta: Amf0Object, video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined): Amf0Object {
  const videoId = video && meta.videocodecid === undefined ? META_VIDEO_CODEC_ID[video.codec] : undefined;
  const audioId = audio && meta.audiocodecid === undefined ? META_AUDIO_CODEC_ID[audio.codec] : undefined;
  if (videoId === undefined && audioId === undefined) return meta;
  return { ...meta, ...(videoId !== undefined ? { videocodecid: videoId } : {}), ...(audioId !== undefined ? { audiocodecid: audioId } : {}) };
}
