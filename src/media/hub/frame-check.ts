/**
 * Frame checks every ingest passes through (the hub's Publisher runs them on entry): a payload no
 * decoder can take is dropped there, before any output packages it. A zero-length AAC frame
 * (GStreamer's flvmux writes header-only AAC tags when audio buffers go missing) in an fMP4 part
 * stalls Chrome's media buffer until the next keyframe and makes ffmpeg report "Invalid argument".
 *
 * Only what is undecodable by construction is dropped, never a frame a decoder could still take:
 *  - `empty_payload`: no codec bytes at all (a tag or packet that is only its header);
 *  - `no_codec_config`: an AAC/AVC/HEVC/AV1 frame before its track's codec configuration (no
 *    AudioSpecificConfig / avcC / hvcC / av1C announced, or one of another codec): outputs cannot
 *    describe it and decoders cannot initialise.
 * MP3 and Opus carry their parameters in every frame, so they need no configuration.
 */
import type { AudioTrackInfo, MediaFrame, VideoTrackInfo } from './types.js';

export const FRAME_DROP_EMPTY_PAYLOAD = 'empty_payload';
export const FRAME_DROP_NO_CODEC_CONFIG = 'no_codec_config';

export type FrameDropReason = typeof FRAME_DROP_EMPTY_PAYLOAD | typeof FRAME_DROP_NO_CODEC_CONFIG;

/** Codecs whose frames cannot be decoded without the track's configuration record. */
const NEEDS_CONFIG = new Set<MediaFrame['codec']>(['aac', 'avc', 'hevc', 'av1']);

/** undecodableReason says why a frame cannot be decoded with the stream's current tracks, or null when it can. */
export function undecodableReason(frame: MediaFrame, video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined): FrameDropReason | null {
  if (frame.data.length === 0) return FRAME_DROP_EMPTY_PAYLOAD;
  if (!NEEDS_CONFIG.has(frame.codec)) return null;
  const track = frame.kind === 'video' ? video : audio;
  if (track?.codec !== frame.codec || track.config.length === 0) return FRAME_DROP_NO_CODEC_CONFIG;
  return null;
}
