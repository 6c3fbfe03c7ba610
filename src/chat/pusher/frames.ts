/**
 * Pusher Channels protocol 7 messages: decoding client frames and encoding server frames,
 * including the per-batch encoding of channel publications (once per batch and channel
 * type, the same bytes for every Pusher subscriber). Pure: no sockets, no timers.
 */
import { wsFrame } from '../protocol/codec.js';
import { toPusherName, type PusherChannelType } from './names.js';

/** Pusher's error codes (pusher:error data.code, and WebSocket close codes for 4000-4299). */
export const PusherCodes = {
  /** 4000-4099: the client must not reconnect with the same settings. */
  appNotFound: 4001,
  pathNotFound: 4005,
  unsupportedProtocol: 4007,
  noProtocol: 4008,
  unauthorized: 4009,
  /** 4100-4199: reconnect after a back-off. */
  overCapacity: 4100,
  /** 4200-4299: reconnect at once. */
  reconnect: 4200,
  pongTimeout: 4201,
  inactivity: 4202,
  /** 4300-4399: errors on one message; the connection stays open. */
  badMessage: 4300,
  clientEventRate: 4301,
} as const;

/** MAX_EVENT_NAME is Pusher's limit on event names (client events and the HTTP API). */
export const MAX_EVENT_NAME = 200;

/** ONAIR_EVENT is the Pusher event name of publications made outside Pusher (Centrifugo clients, server API). */
export const ONAIR_EVENT = 'message';
/** Publication tags set on events that came in through Pusher (HTTP API or client events). */
export const TAG_EVENT = 'pusher_event';
/** The socket the event is not delivered to (the HTTP API's socket_id, a client event's sender). */
export const TAG_EXCLUDE = 'pusher_socket';
/** The sender's user id on presence channels (Pusher adds user_id to client events there). */
export const TAG_USER = 'pusher_user';

/** Inbound is one decoded client message. */
export interface Inbound {
  event: string;
  channel: string | undefined;
  data: unknown;
}

/** decodeFrame parses one client message; a string is the reason it was refused. */
export function decodeFrame(text: string): Inbound | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'message is not JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'message is not a JSON object';
  const o = v as Record<string, unknown>;
  if (typeof o.event !== 'string' || o.event === '') return 'message has no event';
  if (o.channel !== undefined && typeof o.channel !== 'string') return 'channel is not a string';
  return { event: o.event, channel: o.channel, data: o.data };
}

/** dataObject reads a message's data as an object (pusher-js sends objects; some clients a JSON string). */
export function dataObject(data: unknown): Record<string, unknown> | null {
  let d = data;
  if (typeof d === 'string') {
    try {
      d = JSON.parse(d);
    } catch {
      return null;
    }
  }
  return typeof d === 'object' && d !== null && !Array.isArray(d) ? (d as Record<string, unknown>) : null;
}

/** encodeMessage is one server message; data (already a string, as Pusher sends it) is JSON-quoted. */
export function encodeMessage(event: string, channel: string | undefined, data: string | undefined, userId?: string): string {
  let s = '{"event":' + JSON.stringify(event);
  if (channel !== undefined) s += ',"channel":' + JSON.stringify(channel);
  if (data !== undefined) s += ',"data":' + JSON.stringify(data);
  if (userId !== undefined) s += ',"user_id":' + JSON.stringify(userId);
  return s + '}';
}

/** encodeError is a pusher:error message. */
export function encodeError(code: number | null, message: string): string {
  return '{"event":"pusher:error","data":' + JSON.stringify({ code, message }) + '}';
}

/** dataString is the Pusher form of an event's data: strings as they are, anything else as JSON. */
export function dataString(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? 'null';
}

/** PusherEvent is a channel publication as Pusher subscribers see it. */
export interface PusherEvent {
  channel: string;
  event: string;
  data: string;
  /** Socket id that must not get it ('' for none). */
  exclude: string;
  /** Sender's user id on presence channels ('' for none). */
  userId: string;
}

/**
 * eventOfPush reads a publication push (`{"channel":...,"pub":{...}}`): events that came in
 * through Pusher carry their name in tags and `{"event","data"}` as data; anything else is
 * the event `message` with the publication data as a JSON string. Null for other pushes.
 */
export function eventOfPush(push: string): PusherEvent | null {
  let v: { channel?: unknown; pub?: { data?: unknown; tags?: Record<string, string> } };
  try {
    v = JSON.parse(push) as typeof v;
  } catch {
    return null;
  }
  if (typeof v?.channel !== 'string' || typeof v.pub !== 'object' || v.pub === null) return null;
  const tags = v.pub.tags;
  const name = tags?.[TAG_EVENT];
  if (typeof name === 'string' && name !== '') {
    const env = v.pub.data as { data?: unknown } | null;
    const data = typeof env === 'object' && env !== null && 'data' in env ? dataString(env.data) : dataString(env);
    return { channel: v.channel, event: name, data, exclude: tags?.[TAG_EXCLUDE] ?? '', userId: tags?.[TAG_USER] ?? '' };
  }
  return { channel: v.channel, event: ONAIR_EVENT, data: JSON.stringify(v.pub.data) ?? 'null', exclude: '', userId: '' };
}

/** eventFrame encodes one event as a WebSocket frame for a channel type. */
export function eventFrame(ev: PusherEvent, type: PusherChannelType): Buffer {
  const userId = type === 'presence' && ev.userId !== '' ? ev.userId : undefined;
  return wsFrame(Buffer.from(encodeMessage(ev.event, toPusherName(ev.channel, type), ev.data, userId)));
}

const TYPE_INDEX: Record<PusherChannelType, number> = { public: 0, private: 1, presence: 2 };

/** What one batch (a pushes array) decodes to, kept while the batch lives. */
interface BatchEvents {
  events: (PusherEvent | null)[];
  /** Some event excludes a socket. */
  excludes: boolean;
  /** Per channel type: every frame, and each frame's end offset. */
  encoded: ({ bytes: Buffer; ends: number[] } | undefined)[];
}

const batches = new WeakMap<readonly string[], BatchEvents>();

function batchEvents(pushes: readonly string[]): BatchEvents {
  let b = batches.get(pushes);
  if (b === undefined) {
    const events = pushes.map(eventOfPush);
    b = { events, excludes: events.some((e) => e !== null && e.exclude !== ''), encoded: [] };
    batches.set(pushes, b);
  }
  return b;
}

function encoded(pushes: readonly string[], type: PusherChannelType): { bytes: Buffer; ends: number[] } {
  const b = batchEvents(pushes);
  const i = TYPE_INDEX[type];
  let e = b.encoded[i];
  if (e === undefined) {
    const frames: Buffer[] = [];
    const ends: number[] = [];
    let n = 0;
    for (const ev of b.events) {
      if (ev !== null) {
        const f = eventFrame(ev, type);
        frames.push(f);
        n += f.length;
      }
      ends.push(n);
    }
    e = { bytes: Buffer.concat(frames, n), ends };
    b.encoded[i] = e;
  }
  return e;
}

/** encodePusherBatch is a batch of publication pushes as Pusher frames for one channel type (cached per batch). */
export function encodePusherBatch(pushes: readonly string[], type: PusherChannelType): Buffer {
  return encoded(pushes, type).bytes;
}

/** batchExcludes tells whether a batch holds an event that must not reach this socket. */
export function batchExcludes(pushes: readonly string[], socketId: string): boolean {
  const b = batchEvents(pushes);
  if (!b.excludes) return false;
  for (const ev of b.events) if (ev !== null && ev.exclude === socketId) return true;
  return false;
}

/** batchBytesWithout is a batch's frames for one channel type minus the events excluding this socket (slices, no re-encoding). */
export function batchBytesWithout(pushes: readonly string[], type: PusherChannelType, socketId: string): Buffer {
  const e = encoded(pushes, type);
  const events = batchEvents(pushes).events;
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < events.length; i++) {
    const end = e.ends[i] ?? start;
    const ev = events[i];
    if (end > start && ev !== null && ev !== undefined && ev.exclude !== socketId) parts.push(e.bytes.subarray(start, end));
    start = end;
  }
  return Buffer.concat(parts);
}
