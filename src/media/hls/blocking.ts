/**
 * Blocking playlist reload rules (draft-pantos-hls-rfc8216bis, "Blocking Playlist Reload"
 * and "Playlist Delta Updates"). Pure functions; the service holds the requests.
 */

/** PlaylistRequest is a media playlist request's delivery directives. */
export interface PlaylistRequest {
  msn?: number;
  part?: number;
  /** _HLS_skip=YES or v2: the client wants a delta update. */
  skip: boolean;
}

export type ParseResult = { ok: true; value: PlaylistRequest } | { ok: false; error: string };

const DECIMAL_INTEGER = /^\d{1,15}$/;

function one(v: unknown): string | undefined {
  if (Array.isArray(v)) return v.length > 0 ? String(v[v.length - 1]) : undefined;
  return v === undefined ? undefined : String(v);
}

/** parsePlaylistQuery reads _HLS_msn, _HLS_part and _HLS_skip; _HLS_part without _HLS_msn is an error. */
export function parsePlaylistQuery(query: Record<string, unknown>): ParseResult {
  const msnRaw = one(query._HLS_msn);
  const partRaw = one(query._HLS_part);
  const skipRaw = one(query._HLS_skip);
  const value: PlaylistRequest = { skip: skipRaw === 'YES' || skipRaw === 'v2' };
  if (msnRaw !== undefined) {
    if (!DECIMAL_INTEGER.test(msnRaw)) return { ok: false, error: '_HLS_msn must be a decimal integer' };
    value.msn = Number(msnRaw);
  }
  if (partRaw !== undefined) {
    if (value.msn === undefined) return { ok: false, error: '_HLS_part requires _HLS_msn' };
    if (!DECIMAL_INTEGER.test(partRaw)) return { ok: false, error: '_HLS_part must be a decimal integer' };
    value.part = Number(partRaw);
  }
  return { ok: true, value };
}

/** advancePartLimit is how many parts ahead a client may ask: 3 / PART-TARGET below one second, else 3. */
export function advancePartLimit(partTargetSeconds: number): number {
  return partTargetSeconds < 1 ? Math.floor(3 / partTargetSeconds) : 3;
}

/** Position is the newest part in a playlist (msn -1 when there is none yet). */
export interface Position {
  msn: number;
  part: number;
}

/**
 * checkRange applies the 400 rules: an MSN more than two past the last segment, or a part
 * further ahead than the advance part limit (distance counted across segment boundaries
 * with an estimated number of parts per segment).
 */
export function checkRange(req: PlaylistRequest, last: Position, partsPerSegment: number, partTargetSeconds: number): string | undefined {
  if (req.msn === undefined) return undefined;
  if (req.msn > last.msn + 2) return `_HLS_msn ${req.msn} is more than two segments past the last (${last.msn})`;
  if (req.part === undefined || req.msn < last.msn) return undefined;
  let distance: number;
  if (req.msn === last.msn) distance = req.part - last.part;
  else distance = Math.max(0, partsPerSegment - 1 - last.part) + (req.msn - last.msn - 1) * partsPerSegment + req.part + 1;
  const limit = advancePartLimit(partTargetSeconds);
  if (distance > limit) return `_HLS_part ${req.part} of ${req.msn} is ${distance} parts ahead (limit ${limit})`;
  return undefined;
}
