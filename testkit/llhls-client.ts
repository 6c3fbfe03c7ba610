/**
 * A minimal LL-HLS viewer for tests and benches: it loads a media playlist, then follows the live
 * edge with blocking reloads (_HLS_msn/_HLS_part of the next part, as hls.js does) and fetches
 * every new part, each request to the base URL `pick()` gives (round-robin over nodes, or one
 * cache). It records every answer that is not 200 and every jump in the part sequence.
 */

/** PlaylistPart is one EXT-X-PART of a media playlist. */
export interface PlaylistPart {
  msn: number;
  /** Index of the part within its segment. */
  index: number;
  uri: string;
}

export interface ParsedPlaylist {
  mediaSequence: number;
  segments: { msn: number; uri: string }[];
  parts: PlaylistPart[];
  preloadHint?: string;
  /** The next blocking reload's _HLS_msn and _HLS_part. */
  next: { msn: number; part: number };
  ended: boolean;
}

/** parseMediaPlaylist reads the LL-HLS lines a viewer needs. */
export function parseMediaPlaylist(text: string): ParsedPlaylist {
  let mediaSequence = 0;
  let msn = 0;
  let partIndex = 0;
  let ended = false;
  let preloadHint: string | undefined;
  const segments: { msn: number; uri: string }[] = [];
  const parts: PlaylistPart[] = [];
  let pendingSegment = false;
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) msn = mediaSequence = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-PART:')) parts.push({ msn, index: partIndex++, uri: /URI="([^"]+)"/.exec(line)?.[1] ?? '' });
    else if (line.startsWith('#EXT-X-PRELOAD-HINT:') && line.includes('TYPE=PART')) preloadHint = /URI="([^"]+)"/.exec(line)?.[1];
    else if (line.startsWith('#EXTINF:')) pendingSegment = true;
    else if (line === '#EXT-X-ENDLIST') ended = true;
    else if (pendingSegment && line && !line.startsWith('#')) {
      segments.push({ msn, uri: line });
      pendingSegment = false;
      msn++;
      partIndex = 0;
    }
  }
  // msn is now the segment being written; partIndex its next part.
  return { mediaSequence, segments, parts, next: { msn, part: partIndex }, ended, ...(preloadHint ? { preloadHint } : {}) };
}

export interface ViewerReport {
  requests: number;
  /** Answers other than 200, as "status url". */
  failures: string[];
  /** Parts fetched in order; a gap or a repeat is a jump. */
  parts: PlaylistPart[];
  /** When each part was first listed to this viewer (epoch ms), in the order of parts. */
  partTimes: number[];
  jumps: string[];
}

export interface FollowOptions {
  /** The base URL (http://host:port) of each request, e.g. round-robin over two nodes. */
  pick: () => string;
  /** Path of the media playlist, e.g. /live/cam/source/playlist.m3u8. */
  playlistPath: string;
  /** Stop after this long. */
  durationMs: number;
  /** Fetch each part's bytes (false: playlists only). */
  fetchParts?: boolean;
  headers?: Record<string, string>;
}

/** followLive plays the live edge like an LL-HLS player for `durationMs` and reports what it saw. */
export async function followLive(o: FollowOptions): Promise<ViewerReport> {
  const report: ViewerReport = { requests: 0, failures: [], parts: [], partTimes: [], jumps: [] };
  const dir = o.playlistPath.slice(0, o.playlistPath.lastIndexOf('/') + 1);
  const get = async (path: string): Promise<Response | undefined> => {
    const url = o.pick() + path;
    report.requests++;
    const res = await fetch(url, { headers: o.headers ?? {} });
    if (res.status !== 200) {
      report.failures.push(`${res.status} ${url}`);
      await res.arrayBuffer();
      return undefined;
    }
    return res;
  };
  const deadline = Date.now() + o.durationMs;
  const first = await get(o.playlistPath);
  if (!first) return report;
  let pl = parseMediaPlaylist(await first.text());
  let last: PlaylistPart | undefined = pl.parts.at(-1);
  while (Date.now() < deadline && !pl.ended) {
    const res = await get(`${o.playlistPath}?_HLS_msn=${pl.next.msn}&_HLS_part=${pl.next.part}`);
    if (!res) continue;
    pl = parseMediaPlaylist(await res.text());
    const prev = last;
    const fresh = prev ? pl.parts.filter((p) => p.msn > prev.msn || (p.msn === prev.msn && p.index > prev.index)) : pl.parts.slice(-1);
    for (const p of fresh) {
      if (last && !(p.msn === last.msn && p.index === last.index + 1) && !(p.msn === last.msn + 1 && p.index === 0)) {
        report.jumps.push(`${last.msn}.${last.index} → ${p.msn}.${p.index}`);
      }
      last = p;
      report.parts.push(p);
      report.partTimes.push(Date.now());
      if (o.fetchParts !== false) {
        const body = await get(dir + p.uri);
        if (body) await body.arrayBuffer();
      }
    }
  }
  return report;
}
