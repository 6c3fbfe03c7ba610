/**
 * QoE beacons: what a player reports about one playback session (startup, latency, stalls …).
 * Pure parsing and bounds: a beacon is a small object of known fields; anything else (unknown
 * fields, out-of-range numbers, too many beacons) is refused whole, so junk never reaches a metric.
 */

/** QOE_PROTOCOLS are the playback protocols a beacon may name (the web player's engines). */
export const QOE_PROTOCOLS = ['flv', 'ws-flv', 'llhls', 'hls', 'native', 'webrtc', 'rtmp', 'rtsp'] as const;
export type QoeProtocol = (typeof QOE_PROTOCOLS)[number];

/** VARIANT_RE is what a variant label may look like (a node label or an A/B arm, not free text). */
export const VARIANT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

/** MAX_BEACONS_PER_REQUEST bounds one POST: a player batches at most a few periods. */
export const MAX_BEACONS_PER_REQUEST = 20;

export interface QoeBeacon {
  variant?: string;
  protocol: QoeProtocol;
  /** 'start' once startup is known, 'periodic' every 10–30 s, 'end' when playback stops. */
  event: 'start' | 'periodic' | 'end';
  /** From the play request to the first frame on screen. */
  startupMs?: number;
  /** Behind the live edge, now. */
  latencyMs?: number;
  /** Stalls and stalled time since the previous beacon of the session (deltas, not totals). */
  stalls?: number;
  stallMs?: number;
  /** Rendition or protocol switches since the previous beacon. */
  switches?: number;
  /** Player errors since the previous beacon. */
  errors?: number;
  /** Frames the browser dropped since the previous beacon. */
  droppedFrames?: number;
  /** The bitrate of the rendition playing, when the player knows it. */
  bitrateKbps?: number;
  /** Time spent playing since the previous beacon: the denominator of the stall ratio. */
  playedMs?: number;
}

/** NUMBER_FIELDS: each numeric field with its upper bound (all are ≥ 0 integers). */
const NUMBER_FIELDS = {
  startupMs: 120_000,
  latencyMs: 600_000,
  stalls: 10_000,
  stallMs: 3_600_000,
  switches: 10_000,
  errors: 10_000,
  droppedFrames: 10_000_000,
  bitrateKbps: 1_000_000,
  playedMs: 3_600_000,
} as const;
type NumberField = keyof typeof NUMBER_FIELDS;
const EVENTS = new Set(['start', 'periodic', 'end']);
const PROTOCOLS = new Set<string>(QOE_PROTOCOLS);

export type BeaconParse = { ok: true; beacons: QoeBeacon[] } | { ok: false; reason: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** parseBeacon checks one beacon; the reason names the first field that is wrong. */
export function parseBeacon(v: unknown): { ok: true; beacon: QoeBeacon } | { ok: false; reason: string } {
  if (!isRecord(v)) return { ok: false, reason: 'a beacon is an object' };
  const protocol = v.protocol;
  if (typeof protocol !== 'string' || !PROTOCOLS.has(protocol)) return { ok: false, reason: `protocol must be one of ${QOE_PROTOCOLS.join(', ')}` };
  const beacon: QoeBeacon = { protocol: protocol as QoeProtocol, event: 'periodic' };
  for (const [key, value] of Object.entries(v)) {
    if (key === 'protocol') continue;
    if (key === 'event') {
      if (typeof value !== 'string' || !EVENTS.has(value)) return { ok: false, reason: 'event must be start, periodic or end' };
      beacon.event = value as QoeBeacon['event'];
    } else if (key === 'variant') {
      if (typeof value !== 'string' || !VARIANT_RE.test(value)) return { ok: false, reason: 'variant must be 1–32 letters, digits, dots, dashes or underscores' };
      beacon.variant = value;
    } else if (Object.hasOwn(NUMBER_FIELDS, key)) {
      const max = NUMBER_FIELDS[key as NumberField];
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) return { ok: false, reason: `${key} must be an integer from 0 to ${max}` };
      beacon[key as NumberField] = value;
    } else {
      return { ok: false, reason: `unknown field ${JSON.stringify(key.slice(0, 40))}` };
    }
  }
  return { ok: true, beacon };
}

/** parseBeacons takes one beacon or `{beacons: [...]}` (at most MAX_BEACONS_PER_REQUEST). */
export function parseBeacons(body: unknown): BeaconParse {
  const list: unknown[] | null = isRecord(body) && Array.isArray(body.beacons) && Object.keys(body).length === 1 ? body.beacons : isRecord(body) && !('beacons' in body) ? [body] : null;
  if (!list) return { ok: false, reason: 'the body is a beacon or {"beacons": [...]}' };
  if (list.length === 0) return { ok: false, reason: 'no beacons' };
  if (list.length > MAX_BEACONS_PER_REQUEST) return { ok: false, reason: `at most ${MAX_BEACONS_PER_REQUEST} beacons per request` };
  const beacons: QoeBeacon[] = [];
  for (const [i, item] of list.entries()) {
    const r = parseBeacon(item);
    if (!r.ok) return { ok: false, reason: list.length > 1 ? `beacon ${i}: ${r.reason}` : r.reason };
    beacons.push(r.beacon);
  }
  return { ok: true, beacons };
}
