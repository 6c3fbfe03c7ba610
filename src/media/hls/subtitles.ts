/**
 * WebVTT subtitle renditions for live captions. Each language gets a media playlist that
 * mirrors the source rendition's segments one for one (same media sequence numbers and
 * durations), so a player fetches the captions of exactly the stretch of video it buffers:
 *
 *   index.m3u8 ─ EXT-X-MEDIA TYPE=SUBTITLES URI="subs/ko.m3u8"
 *   subs/ko.m3u8 ─ #EXTINF:2.000, ko/41.vtt ...
 *   subs/ko/41.vtt ─ WEBVTT + X-TIMESTAMP-MAP, cues on the fMP4 media timeline
 */
import type { HlsSegment } from './packager.js';

/** SubtitleSource renders the cues of one stretch of the stream (a CaptionTrack does). */
export interface SubtitleSource {
  /** segmentVtt renders cues overlapping [startMs, endMs) of stream time, shifted by offsetMs. */
  segmentVtt(startMs: number, endMs: number, opts: { offsetMs: number }): string;
}

export const SUBTITLES_DIR = 'subs';
export const SUBTITLES_GROUP = 'subs';
const LANG = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/;

/** subtitlePlaylistUri is the multivariant playlist's URI for one language. */
export const subtitlePlaylistUri = (lang: string): string => `${SUBTITLES_DIR}/${lang}.m3u8`;

/** renderSubtitlePlaylist lists one WebVTT segment per media segment of the window. */
export function renderSubtitlePlaylist(segments: readonly HlsSegment[], opts: { lang: string; targetDurationSeconds: number; ended: boolean }): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6', `#EXT-X-TARGETDURATION:${opts.targetDurationSeconds}`, `#EXT-X-MEDIA-SEQUENCE:${segments[0]?.msn ?? 0}`];
  for (const seg of segments) {
    if (seg.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    lines.push(`#EXTINF:${(seg.durationMs / 1000).toFixed(3)},`, `${opts.lang}/${seg.msn}.vtt`);
  }
  if (opts.ended) lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}

/** renderSubtitleSegment is the WebVTT for one media segment, cues on its media timeline. */
export function renderSubtitleSegment(seg: HlsSegment, source: SubtitleSource): string {
  const startStream = seg.startMs - seg.streamOffsetMs;
  return source.segmentVtt(startStream, startStream + seg.durationMs, { offsetMs: seg.streamOffsetMs });
}

/** parseSubtitlePath reads `subs/{lang}.m3u8` or `subs/{lang}/{msn}.vtt`. */
export function parseSubtitlePath(path: string): { lang: string; msn?: number } | undefined {
  const m = /^subs\/([^/]+)\.m3u8$/.exec(path) ?? /^subs\/([^/]+)\/(\d{1,12})\.vtt$/.exec(path);
  const lang = m?.[1];
  if (lang === undefined || !LANG.test(lang)) return undefined;
  return m?.[2] === undefined ? { lang } : { lang, msn: Number(m[2]) };
}
