/**
 * Playlist rendering for LL-HLS (draft-pantos-hls-rfc8216bis). Pure: models in, text out.
 */

/** PLAYLIST_VERSION is the EXT-X-VERSION we declare: EXT-X-SKIP (delta updates) needs 9. */
export const PLAYLIST_VERSION = 9;

/** PlaylistPart is one partial segment as listed by EXT-X-PART. */
export interface PlaylistPart {
  uri: string;
  durationSeconds: number;
  independent: boolean;
}

/** PlaylistSegment is one media segment (complete, or the one in progress). */
export interface PlaylistSegment {
  msn: number;
  uri: string;
  durationSeconds: number;
  /** Wall-clock time of the first sample, epoch ms, for EXT-X-PROGRAM-DATE-TIME. */
  programDateTime?: number;
  discontinuity: boolean;
  /** URI of the init segment (EXT-X-MAP) this segment needs. */
  mapUri: string;
  /** Parts listed for this segment; undefined when they have aged out of the playlist. */
  parts?: PlaylistPart[];
  /** False for the segment still being written: only its parts are listed. */
  complete: boolean;
}

/** RenditionReport is what EXT-X-RENDITION-REPORT says about a sibling rendition. */
export interface RenditionReport {
  uri: string;
  lastMsn: number;
  lastPart?: number;
}

/** MediaPlaylistModel is everything a media playlist shows. */
export interface MediaPlaylistModel {
  targetDurationSeconds: number;
  partTargetSeconds: number;
  mediaSequence: number;
  discontinuitySequence: number;
  segments: PlaylistSegment[];
  holdBackSeconds: number;
  partHoldBackSeconds: number;
  canSkipUntilSeconds: number;
  preloadHintUri?: string;
  ended: boolean;
  renditionReports?: RenditionReport[];
}

const DURATION_DECIMALS = 5;

function seconds(v: number): string {
  return v.toFixed(DURATION_DECIMALS);
}

/** formatDecimal prints a duration attribute without needless trailing zeros. */
function decimal(v: number): string {
  return String(Number(v.toFixed(DURATION_DECIMALS)));
}

function quoted(v: string): string {
  return `"${v}"`;
}

/**
 * skippableSegments counts leading segments a delta update may replace with EXT-X-SKIP:
 * whole segments that end more than CAN-SKIP-UNTIL before the playlist's end, stopping at
 * the first discontinuity so that discontinuity bookkeeping stays in the delta.
 */
export function skippableSegments(model: MediaPlaylistModel): number {
  let total = 0;
  for (const s of model.segments) total += s.durationSeconds;
  const boundary = total - model.canSkipUntilSeconds;
  let end = 0;
  let n = 0;
  for (const s of model.segments) {
    if (!s.complete || s.discontinuity) break;
    end += s.durationSeconds;
    if (end > boundary) break;
    n++;
  }
  return n;
}

/** renderMediaPlaylist renders a media playlist; with `skip`, a delta update (_HLS_skip=YES). */
export function renderMediaPlaylist(model: MediaPlaylistModel, opts: { skip?: boolean } = {}): string {
  const lines: string[] = [
    '#EXTM3U',
    `#EXT-X-VERSION:${PLAYLIST_VERSION}`,
    `#EXT-X-TARGETDURATION:${model.targetDurationSeconds}`,
    `#EXT-X-MEDIA-SEQUENCE:${model.mediaSequence}`,
  ];
  if (model.discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${model.discontinuitySequence}`);
  lines.push(
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${decimal(model.partHoldBackSeconds)},` +
      `HOLD-BACK=${decimal(model.holdBackSeconds)},CAN-SKIP-UNTIL=${decimal(model.canSkipUntilSeconds)}`,
    `#EXT-X-PART-INF:PART-TARGET=${decimal(model.partTargetSeconds)}`,
  );
  const skip = opts.skip ? skippableSegments(model) : 0;
  if (skip > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skip}`);
  let mapUri: string | undefined;
  for (const s of model.segments.slice(skip)) {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (s.mapUri !== mapUri) {
      lines.push(`#EXT-X-MAP:URI=${quoted(s.mapUri)}`);
      mapUri = s.mapUri;
    }
    if (s.programDateTime !== undefined) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.programDateTime).toISOString()}`);
    for (const p of s.parts ?? []) {
      lines.push(`#EXT-X-PART:DURATION=${decimal(p.durationSeconds)},URI=${quoted(p.uri)}${p.independent ? ',INDEPENDENT=YES' : ''}`);
    }
    if (s.complete) lines.push(`#EXTINF:${seconds(s.durationSeconds)},`, s.uri);
  }
  if (model.ended) lines.push('#EXT-X-ENDLIST');
  else if (model.preloadHintUri) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI=${quoted(model.preloadHintUri)}`);
  for (const r of model.renditionReports ?? []) {
    lines.push(`#EXT-X-RENDITION-REPORT:URI=${quoted(r.uri)},LAST-MSN=${r.lastMsn}${r.lastPart !== undefined ? `,LAST-PART=${r.lastPart}` : ''}`);
  }
  return lines.join('\n') + '\n';
}

/** VariantStream is one EXT-X-STREAM-INF entry of the multivariant playlist. */
export interface VariantStream {
  uri: string;
  bandwidth: number;
  averageBandwidth?: number;
  codecs: string;
  resolution?: { width: number; height: number };
  frameRate?: number;
}

/** SubtitlesRendition is an EXT-X-MEDIA TYPE=SUBTITLES entry (e.g. live WebVTT captions). */
export interface SubtitlesRendition {
  groupId: string;
  name: string;
  language: string;
  uri: string;
  default?: boolean;
  autoselect?: boolean;
}

/** MultivariantModel lists the variant streams and their alternative renditions. */
export interface MultivariantModel {
  variants: VariantStream[];
  subtitles?: SubtitlesRendition[];
}

/** renderMultivariantPlaylist renders index.m3u8. */
export function renderMultivariantPlaylist(model: MultivariantModel): string {
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${PLAYLIST_VERSION}`, '#EXT-X-INDEPENDENT-SEGMENTS'];
  const subtitleGroups = new Set<string>();
  for (const s of model.subtitles ?? []) {
    subtitleGroups.add(s.groupId);
    lines.push(
      `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=${quoted(s.groupId)},NAME=${quoted(s.name)},LANGUAGE=${quoted(s.language)},` +
        `DEFAULT=${s.default ? 'YES' : 'NO'},AUTOSELECT=${s.autoselect === false ? 'NO' : 'YES'},URI=${quoted(s.uri)}`,
    );
  }
  const [subtitleGroup] = subtitleGroups;
  const subtitlesAttr = subtitleGroup !== undefined ? `,SUBTITLES=${quoted(subtitleGroup)}` : '';
  for (const v of model.variants) {
    let attrs = `BANDWIDTH=${Math.round(v.bandwidth)}`;
    if (v.averageBandwidth) attrs += `,AVERAGE-BANDWIDTH=${Math.round(v.averageBandwidth)}`;
    attrs += `,CODECS=${quoted(v.codecs)}`;
    if (v.resolution) attrs += `,RESOLUTION=${v.resolution.width}x${v.resolution.height}`;
    if (v.frameRate) attrs += `,FRAME-RATE=${v.frameRate.toFixed(3)}`;
    lines.push(`#EXT-X-STREAM-INF:${attrs}${subtitlesAttr}`, v.uri);
  }
  return lines.join('\n') + '\n';
}
