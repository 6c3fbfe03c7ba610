/**
 * FLV → frames: the FLV edge. An RTMP publish, an RTMP or HTTP-FLV pull and the ABR transcoder's
 * FLV output all speak FLV tags (an RTMP audio/video/data message payload is an FLV tag body);
 * FlvFrameReader turns them into tracks, codec frames and metadata for a FrameSink (the hub's
 * Publisher, or an IngestSession).
 *
 *   script data ─► onMetaData values ─────────────► sink.setMetadata
 *   video/audio sequence headers ─► avcC/hvcC/av1C/ASC ─► sink.setTracks   (body lent to the FLV output)
 *   video/audio frames ─► copied once in FLV tag layout ─► MediaFrame ─► sink.pushFrame (tag lent to flvTagOf)
 *
 * The copy is needed anyway (the payload is a view into a socket read); making it in tag layout
 * means the FLV and RTMP outputs send exactly what came in and never encode these frames again.
 */
import {
  AAC_PACKET_SEQUENCE_HEADER, AUDIO_FORMAT_AAC, AUDIO_FORMAT_MP3, AVC_PACKET_END_OF_SEQUENCE, AVC_PACKET_SEQUENCE_HEADER, EX_PACKET_METADATA,
  EX_PACKET_SEQUENCE_END, EX_PACKET_SEQUENCE_START, FLV_TAG_AUDIO, FLV_TAG_HEADER_SIZE, FLV_TAG_SCRIPT, FLV_TAG_VIDEO, FOURCC_AV1, FOURCC_AVC,
  FOURCC_HEVC, FlvError, VIDEO_CODEC_AVC, VIDEO_CODEC_HEVC_LEGACY, VIDEO_FRAME_COMMAND, VIDEO_FRAME_KEY, encodeFlvTag, parseAudioTagHeader,
  parseVideoTagHeader, type VideoTagInfo,
} from '../../formats/flv.js';
import { decodeAmf0, type Amf0Object } from '../../formats/amf0.js';
import { DROP_UNSUPPORTED_CODEC, type AudioTrackInfo, type DroppedTrack, type MediaFrame, type VideoCodec, type VideoTrackInfo } from '../hub/types.js';
import { aacTrackOf, mp3TrackOf, videoTrackOf, type FrameSize } from '../hub/tracks.js';
import { lendFlvTag, lendSequenceHeader } from './frame-tags.js';

/** FLV's MP3 sound rates by the 2-bit soundRate field. */
const FLV_SOUND_RATES = [5512, 11025, 22050, 44100] as const;
/** soundRateOf reads the 2-bit field (masked, so the index is always in the table). */
const soundRateOf = (field: number): number => FLV_SOUND_RATES[(field & 3) as 0 | 1 | 2 | 3];

/** FrameSink is what the FLV edge feeds: the hub's Publisher and IngestSession both are one. */
export interface FrameSink {
  /** setTracks announces a track (an undefined one stays as it is); dts is the announcement's stream time. */
  setTracks(video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined, dts?: number): void;
  pushFrame(frame: MediaFrame): void;
  setMetadata(values: Amf0Object): void;
  /** badInput counts input that could not become frames (dropped; the publish goes on). */
  badInput(message: string): void;
  /** droppedTrack reports a track the ingest receives but does not forward (once per track). */
  droppedTrack?(track: DroppedTrack): void;
}

/** metadataOf finds the onMetaData object in decoded script data (with or without @setDataFrame). */
export function metadataOf(values: readonly unknown[]): Amf0Object | null {
  const v = values[0] === '@setDataFrame' ? values.slice(1) : values;
  const meta = v[1];
  return v[0] === 'onMetaData' && meta && typeof meta === 'object' && !Array.isArray(meta) && !(meta instanceof Date) ? (meta as Amf0Object) : null;
}

function videoCodecOf(h: VideoTagInfo): VideoCodec | null {
  if (h.kind === 'legacy') return h.codecId === VIDEO_CODEC_AVC ? 'avc' : h.codecId === VIDEO_CODEC_HEVC_LEGACY ? 'hevc' : null;
  return h.fourCC === FOURCC_AVC ? 'avc' : h.fourCC === FOURCC_HEVC ? 'hevc' : h.fourCC === FOURCC_AV1 ? 'av1' : null;
}

/** FLV sound formats and legacy video codec ids the hub does not model, named for the owner's health panel. */
const FLV_AUDIO_NAMES: Record<number, string> = { 0: 'pcm', 1: 'adpcm', 3: 'pcm_le', 4: 'nellymoser', 5: 'nellymoser', 6: 'nellymoser', 7: 'g711a', 8: 'g711u', 11: 'speex', 14: 'mp3_8k' };
const FLV_VIDEO_NAMES: Record<number, string> = { 2: 'h263', 3: 'screen', 4: 'vp6', 5: 'vp6a', 6: 'screen2' };

/** FlvFrameReader is one FLV source's reader (it remembers the source's tracks and picture size). */
export class FlvFrameReader {
  private audio?: AudioTrackInfo;
  private readonly size: FrameSize = {};
  /** Kinds already reported as dropped: the first unmodelled codec per kind is reported once. */
  private readonly reportedDrops = new Set<'video' | 'audio'>();

  constructor(private readonly sink: FrameSink) {}

  /**
   * tag takes one FLV tag of the source: script data becomes metadata (undecodable metadata is
   * ignored: it is optional), audio and video become tracks and frames, other types are skipped.
   * A frame that cannot be read is dropped and counted (sink.badInput); the source goes on.
   */
  tag(type: number, timestamp: number, body: Buffer): void {
    if (type === FLV_TAG_SCRIPT) {
      let meta: Amf0Object | null = null;
      try {
        meta = metadataOf(decodeAmf0(body));
      } catch {
        return;
      }
      if (meta) this.metadata(meta);
      return;
    }
    if ((type !== FLV_TAG_AUDIO && type !== FLV_TAG_VIDEO) || body.length === 0) return;
    try {
      if (type === FLV_TAG_VIDEO) this.video(timestamp, body);
      else this.audioTag(timestamp, body);
    } catch (err) {
      this.sink.badInput((err as Error).message);
    }
  }

  /** metadata takes decoded onMetaData values (an RTMP data message). */
  metadata(values: Amf0Object): void {
    const width = Number(values.width);
    const height = Number(values.height);
    if (width > 0) this.size.width = width;
    if (height > 0) this.size.height = height;
    this.sink.setMetadata(values);
  }

  private video(ts: number, body: Buffer): void {
    const h = parseVideoTagHeader(body);
    if (h.frameType === VIDEO_FRAME_COMMAND) return;
    const codec = videoCodecOf(h);
    const isSeqStart = h.kind === 'legacy' ? h.packetType === AVC_PACKET_SEQUENCE_HEADER : h.packetType === EX_PACKET_SEQUENCE_START;
    const isSeqEnd = h.kind === 'legacy' ? h.packetType === AVC_PACKET_END_OF_SEQUENCE : h.packetType === EX_PACKET_SEQUENCE_END;
    if (isSeqEnd || (h.kind === 'enhanced' && h.packetType === EX_PACKET_METADATA)) return;
    if (!codec) {
      this.dropTrack('video', h.kind === 'legacy' ? FLV_VIDEO_NAMES[h.codecId] ?? `codec_id_${h.codecId}` : String(h.fourCC));
      throw new FlvError(`video codec ${h.kind === 'legacy' ? `id ${h.codecId}` : h.fourCC} is not supported`);
    }
    if (isSeqStart) {
      const own = Buffer.from(body);
      const track = videoTrackOf(codec, own.subarray(h.payloadOffset), this.size);
      lendSequenceHeader(track, own);
      this.sink.setTracks(track, undefined, ts);
      return;
    }
    const tag = encodeFlvTag(FLV_TAG_VIDEO, ts, body);
    const data = tag.subarray(FLV_TAG_HEADER_SIZE + h.payloadOffset, tag.length - 4);
    const frame: MediaFrame = { kind: 'video', codec, dts: ts, pts: ts + h.cts, keyframe: h.frameType === VIDEO_FRAME_KEY, data };
    lendFlvTag(frame, tag);
    this.sink.pushFrame(frame);
  }

  private audioTag(ts: number, body: Buffer): void {
    const h = parseAudioTagHeader(body);
    let codec: 'aac' | 'mp3';
    if (h.soundFormat === AUDIO_FORMAT_AAC) {
      if (h.packetType === AAC_PACKET_SEQUENCE_HEADER) {
        const own = Buffer.from(body);
        const track = aacTrackOf(own.subarray(h.payloadOffset));
        lendSequenceHeader(track, own);
        this.audio = track;
        this.sink.setTracks(undefined, track, ts);
        return;
      }
      codec = 'aac';
    } else if (h.soundFormat === AUDIO_FORMAT_MP3) {
      if (!this.audio) {
        this.audio = mp3TrackOf(soundRateOf(h.soundRate), h.soundType + 1);
        this.sink.setTracks(undefined, this.audio);
      }
      codec = 'mp3';
    } else {
      this.dropTrack('audio', FLV_AUDIO_NAMES[h.soundFormat] ?? `sound_format_${h.soundFormat}`);
      throw new FlvError(`audio sound format ${h.soundFormat} is not supported`);
    }
    const tag = encodeFlvTag(FLV_TAG_AUDIO, ts, body);
    const data = tag.subarray(FLV_TAG_HEADER_SIZE + h.payloadOffset, tag.length - 4);
    const frame: MediaFrame = { kind: 'audio', codec, dts: ts, pts: ts, keyframe: true, data };
    lendFlvTag(frame, tag);
    this.sink.pushFrame(frame);
  }

  private dropTrack(kind: 'video' | 'audio', codec: string): void {
    if (this.reportedDrops.has(kind)) return;
    this.reportedDrops.add(kind);
    this.sink.droppedTrack?.({ kind, codec, reason: DROP_UNSUPPORTED_CODEC });
  }
}
