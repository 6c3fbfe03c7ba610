/**
 * SRT stream ids onair accepts (docs/srt.md):
 *
 *   publish:{streamKey}             MediaMTX-style
 *   {streamKey}                     a bare key (publish)
 *   #!::r={streamKey},m=publish     the SRT access-control syntax (m defaults to request, as the
 *                                   guidelines say; u, s, h, t are accepted and ignored)
 *
 * A `live/` before the key (SRS-style `#!::r=live/KEY,m=publish`) is dropped, as the RTMP app name.
 * A stream id sent URL-encoded (`publish%3AKEY`, `%23!%3A%3Ar%3D...`) is decoded first.
 * read:/request:/play: prefixes and m=request or m=bidirectional ask for playback, which onair
 * does not offer over SRT yet: the connection is refused with SRT_REJX_BAD_MODE.
 */

export type StreamIdMode = 'publish' | 'request' | 'bidirectional';

export type StreamIdRequest = { ok: true; mode: StreamIdMode; key: string } | { ok: false; reason: string };

const ACCESS_CONTROL_PREFIX = '#!::';
const MODES: Record<string, StreamIdMode> = { publish: 'publish', request: 'request', bidirectional: 'bidirectional' };
const READ_PREFIXES = ['read:', 'request:', 'play:'];
const PUBLISH_PREFIX = 'publish:';

/** percentDecoded undoes URL encoding some tools apply to the whole stream id (publish%3AKEY). */
function percentDecoded(sid: string): string {
  if (!/%[0-9a-f]{2}/i.test(sid)) return sid;
  try {
    return decodeURIComponent(sid);
  } catch {
    return sid;
  }
}

/** RTMP's application name: SRS-style ids say r=live/KEY; keys never hold a slash, so it is dropped. */
const APP_PREFIX = 'live/';
const withoutApp = (key: string): string => (key.startsWith(APP_PREFIX) ? key.slice(APP_PREFIX.length) : key);

/** parseStreamId reads what a caller asks for; the key may be empty (the caller sent no key). */
export function parseStreamId(sid: string): StreamIdRequest {
  const r = parseRaw(sid);
  return r.ok ? { ...r, key: withoutApp(r.key) } : r;
}

function parseRaw(sid: string): StreamIdRequest {
  const s = percentDecoded(sid.trim());
  if (s.startsWith(ACCESS_CONTROL_PREFIX)) {
    const fields = new Map<string, string>();
    for (const part of s.slice(ACCESS_CONTROL_PREFIX.length).split(',')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      if (eq <= 0) return { ok: false, reason: `bad stream id field "${part}" (expected key=value)` };
      fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const m = fields.get('m') ?? 'request';
    const mode = MODES[m];
    if (!mode) return { ok: false, reason: `unknown stream id mode m=${m}` };
    return { ok: true, mode, key: fields.get('r') ?? '' };
  }
  if (s.startsWith(PUBLISH_PREFIX)) return { ok: true, mode: 'publish', key: s.slice(PUBLISH_PREFIX.length) };
  for (const p of READ_PREFIXES) if (s.startsWith(p)) return { ok: true, mode: 'request', key: s.slice(p.length) };
  return { ok: true, mode: 'publish', key: s };
}
