/** A small media playlist reader for tests, with the structural checks our playlists must pass. */
import assert from 'node:assert/strict';

export interface ParsedPart { uri: string; duration: number; independent: boolean }
export interface ParsedSegment { msn: number; uri?: string; duration?: number; parts: ParsedPart[]; pdt?: number; discontinuity: boolean; map?: string }
export interface ParsedPlaylist {
  version: number;
  targetDuration: number;
  mediaSequence: number;
  partTarget?: number;
  serverControl: Record<string, string>;
  segments: ParsedSegment[];
  preloadHint?: string;
  skipped: number;
  ended: boolean;
}

export function attrs(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) out[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  return out;
}

export function parseMediaPlaylist(text: string): ParsedPlaylist {
  const lines = text.split('\n');
  assert.equal(lines[0], '#EXTM3U');
  const pl: ParsedPlaylist = { version: 0, targetDuration: 0, mediaSequence: 0, serverControl: {}, segments: [], skipped: 0, ended: false };
  let cur: ParsedSegment | undefined;
  let map: string | undefined;
  const open = () => (cur ??= { msn: pl.mediaSequence + pl.skipped + pl.segments.length, parts: [], discontinuity: false, map });
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const [tag, rest = ''] = line.split(/:(.*)/s);
    switch (tag) {
      case '#EXT-X-VERSION': pl.version = Number(rest); break;
      case '#EXT-X-TARGETDURATION': pl.targetDuration = Number(rest); break;
      case '#EXT-X-MEDIA-SEQUENCE': pl.mediaSequence = Number(rest); break;
      case '#EXT-X-PART-INF': pl.partTarget = Number(attrs(rest)['PART-TARGET']); break;
      case '#EXT-X-SERVER-CONTROL': pl.serverControl = attrs(rest); break;
      case '#EXT-X-SKIP': pl.skipped = Number(attrs(rest)['SKIPPED-SEGMENTS']); break;
      case '#EXT-X-MAP': map = attrs(rest).URI; if (cur) cur.map = map; break;
      case '#EXT-X-DISCONTINUITY': open().discontinuity = true; break;
      case '#EXT-X-PROGRAM-DATE-TIME': open().pdt = Date.parse(rest); break;
      case '#EXT-X-PART': {
        const a = attrs(rest);
        open().parts.push({ uri: a.URI!, duration: Number(a.DURATION), independent: a.INDEPENDENT === 'YES' });
        break;
      }
      case '#EXTINF': open().duration = Number(rest.split(',')[0]); break;
      case '#EXT-X-PRELOAD-HINT': pl.preloadHint = attrs(rest).URI; break;
      case '#EXT-X-ENDLIST': pl.ended = true; break;
      default:
        if (!line.startsWith('#')) {
          open().uri = line;
          pl.segments.push(cur!);
          cur = undefined;
        }
    }
  }
  if (cur) pl.segments.push(cur); // the segment in progress (parts only)
  return pl;
}

/** checkPlaylist asserts the LL-HLS rules our media playlists follow. */
export function checkPlaylist(pl: ParsedPlaylist): void {
  assert.ok(pl.version >= 9);
  assert.ok(pl.targetDuration >= 1);
  assert.ok(pl.partTarget && pl.partTarget > 0, 'PART-INF present');
  const sc = pl.serverControl;
  assert.equal(sc['CAN-BLOCK-RELOAD'], 'YES');
  assert.ok(Number(sc['PART-HOLD-BACK']) >= 3 * pl.partTarget - 1e-3, 'PART-HOLD-BACK >= 3 part targets');
  assert.ok(Number(sc['HOLD-BACK']) >= 3 * pl.targetDuration, 'HOLD-BACK >= 3 target durations');
  assert.ok(Number(sc['CAN-SKIP-UNTIL']) >= 6 * pl.targetDuration, 'CAN-SKIP-UNTIL >= 6 target durations');
  let lastPdt = -Infinity;
  pl.segments.forEach((s, i) => {
    if (s.duration !== undefined) assert.ok(Math.round(s.duration) <= pl.targetDuration, `EXTINF ${s.duration} <= target`);
    assert.ok(s.map, 'every segment has a map');
    if (s.pdt !== undefined) {
      assert.ok(s.pdt > lastPdt, 'PDT increases');
      lastPdt = s.pdt;
    }
    if (s.parts.length > 0) {
      assert.equal(s.parts[0]!.independent, true, 'a segment starts with an independent part');
      s.parts.forEach((p, j) => {
        assert.ok(p.duration <= pl.partTarget!, `part ${p.duration} <= PART-TARGET`);
        const lastOfSegment = j === s.parts.length - 1;
        if (!lastOfSegment) assert.ok(p.duration >= 0.85 * pl.partTarget! - 1e-3, `part ${p.duration} >= 85 % of PART-TARGET`);
      });
      if (s.duration !== undefined) {
        const sum = s.parts.reduce((a, p) => a + p.duration, 0);
        assert.ok(Math.abs(sum - s.duration) < 0.002 * s.parts.length, `parts sum ${sum} = EXTINF ${s.duration}`);
      }
    }
    if (i < pl.segments.length - 1) assert.ok(s.uri, 'only the last segment may be in progress');
  });
  if (!pl.ended) assert.ok(pl.preloadHint, 'live playlist has a preload hint');
}
