/**
 * Warnings about a published track that onair forwards but browsers cannot play: the stream goes
 * live and every non-browser output works, so nothing is refused; the owner is told why the web
 * player stays black (publish log, `warnings` on GET /api/v1/channels/{name}/live, the studio).
 *
 * H.264 in browsers (MSE and native HLS in Chrome, Firefox, Safari) means 8-bit 4:2:0: Baseline,
 * Main and High. The profiles for 10 bits or richer chroma are not decoded — notably High 4:4:4
 * Predictive, which x264 picks for RGB or yuv444p input (a GStreamer `x264enc` without
 * `format=I420` caps, ffmpeg `-pix_fmt yuv444p`).
 */
import type { VideoTrackInfo } from './types.js';

export const WARNING_VIDEO_PROFILE_UNPLAYABLE = 'video_profile_unplayable_in_browsers';

/** StreamWarning is a code with parameters; the web app words it (web/src/i18n.ts `error.{code}`). */
export interface StreamWarning {
  code: typeof WARNING_VIDEO_PROFILE_UNPLAYABLE;
  params: { codec: string; profile: number; profileName: string };
}

/** H.264 profile_idc values (ITU-T H.264 Annex A) browsers do not decode, with their names. */
const AVC_PROFILES_BROWSERS_CANNOT_DECODE: ReadonlyMap<number, string> = new Map([
  [44, 'CAVLC 4:4:4 Intra'],
  [110, 'High 10'],
  [122, 'High 4:2:2'],
  [244, 'High 4:4:4 Predictive'],
]);

/** unplayableWarningsOf lists the warnings a video track earns (none for one browsers play). */
export function unplayableWarningsOf(video: VideoTrackInfo): StreamWarning[] {
  if (video.codec !== 'avc' || video.profile === undefined) return [];
  const profileName = AVC_PROFILES_BROWSERS_CANNOT_DECODE.get(video.profile);
  if (profileName === undefined) return [];
  return [{ code: WARNING_VIDEO_PROFILE_UNPLAYABLE, params: { codec: video.codec, profile: video.profile, profileName } }];
}
