/**
 * Track descriptions from codec configuration records, shared by every ingest (the FLV edge,
 * SRT, RTSP, WHIP): the hub and its outputs only ever see VideoTrackInfo / AudioTrackInfo.
 */
import { describeAvcConfig } from '../../formats/avc.js';
import { describeHevcConfig } from '../../formats/hevc.js';
import { parseAudioSpecificConfig } from '../../formats/aac.js';
import type { AudioTrackInfo, VideoCodec, VideoTrackInfo } from './types.js';

/** MP3 in MPEG-4 terms (object type 0x6b), as HLS CODECS and MSE name it. */
const MP3_CODEC_STRING = 'mp4a.40.34';

/** FrameSize is a picture size learnt elsewhere (stream metadata) for configs that do not carry one. */
export interface FrameSize {
  width?: number;
  height?: number;
}

/**
 * videoTrackOf describes a video track from its decoder configuration record (avcC, hvcC or
 * av1C). The size comes from the record's SPS; for AV1 (and HEVC whose SPS we cannot read)
 * from `size`. Throws when the record is malformed.
 */
export function videoTrackOf(codec: VideoCodec, config: Buffer, size: FrameSize = {}): VideoTrackInfo {
  switch (codec) {
    case 'avc': {
      const d = describeAvcConfig(config);
      return { codec: 'avc', config, width: d.width, height: d.height, codecString: d.codecString, profile: d.profile, level: d.level };
    }
    case 'hevc': {
      const d = describeHevcConfig(config);
      return { codec: 'hevc', config, width: d.width || size.width || 0, height: d.height || size.height || 0, codecString: d.codecString, profile: d.profile, level: d.level };
    }
    case 'av1': {
      // av1C: marker|version, seq_profile(3) seq_level_idx_0(5), seq_tier_0(1) high_bitdepth(1) twelve_bit(1) ...
      const b1 = config[1] ?? 0;
      const b2 = config[2] ?? 0;
      const profile = b1 >> 5;
      const level = b1 & 0x1f;
      const tier = b2 & 0x80 ? 'H' : 'M';
      const depth = b2 & 0x40 ? (b2 & 0x20 ? 12 : 10) : 8;
      const codecString = `av01.${profile}.${String(level).padStart(2, '0')}${tier}.${String(depth).padStart(2, '0')}`;
      return { codec: 'av1', config, width: size.width || 0, height: size.height || 0, codecString, profile, level };
    }
  }
}

/** aacTrackOf describes an AAC track from its AudioSpecificConfig; throws when it is malformed. */
export function aacTrackOf(asc: Buffer): AudioTrackInfo {
  const a = parseAudioSpecificConfig(asc);
  return { codec: 'aac', config: asc, sampleRate: a.extensionSampleRate ?? a.sampleRate, channels: a.channels, codecString: a.codecString };
}

/** mp3TrackOf describes an MP3 track (MP3 has no configuration record). */
export function mp3TrackOf(sampleRate: number, channels: number): AudioTrackInfo {
  return { codec: 'mp3', config: Buffer.alloc(0), sampleRate, channels, codecString: MP3_CODEC_STRING };
}
