/**
 * JSON codec of the Centrifugo client protocol (v2 JSON as the `centrifuge` SDK
 * speaks it). Pure: strings in, values out; no sockets, no timers.
 *
 * A frame carries one or more commands separated by '\n'. In JSON the
 * protocol's bytes fields (`data`, `info`, `conn_info`, `chan_info`) are
 * embedded JSON values, kept here as raw JSON text so that a publication is
 * serialised once and its bytes reused for every subscriber.
 */
import { ChatError, Errors } from './codes.js';

/** Methods a client command may carry, in the order of client.proto's Command fields. */
export const COMMAND_METHODS = [
  'connect',
  'subscribe',
  'unsubscribe',
  'publish',
  'presence',
  'presence_stats',
  'history',
  'ping',
  'send',
  'rpc',
  'refresh',
  'sub_refresh',
] as const;
export type CommandMethod = (typeof COMMAND_METHODS)[number];
const METHOD_SET: ReadonlySet<string> = new Set(COMMAND_METHODS);

/** Command is one decoded client command; `pong` is the empty command `{}`, `unknown` has an id but no known method. */
export type Command =
  | { id: number; method: CommandMethod; params: Record<string, unknown> }
  | { id: 0; method: 'pong'; params: Record<string, never> }
  | { id: number; method: 'unknown'; params: Record<string, never> };

/** CodecError means a frame is not valid protocol JSON; the connection is closed with 3501. */
export class CodecError extends Error {}

const NEWLINE = 10;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** decodeCommand turns one JSON line into a Command, or throws CodecError. */
export function decodeCommand(line: string): Command {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new CodecError('malformed JSON');
  }
  return commandFromObject(v);
}

/** commandFromObject validates a command object (decoded from JSON or protobuf) into a Command, or throws CodecError. */
export function commandFromObject(v: unknown): Command {
  if (!isPlainObject(v)) throw new CodecError('command is not an object');
  let id = 0;
  if (v.id !== undefined) {
    if (typeof v.id !== 'number' || !Number.isInteger(v.id) || v.id < 0 || v.id > 0xffffffff) throw new CodecError('bad command id');
    id = v.id;
  }
  let method: CommandMethod | undefined;
  let params: Record<string, unknown> | undefined;
  for (const key in v) {
    if (key === 'id') continue;
    if (!METHOD_SET.has(key)) continue;
    const p = v[key];
    if (p === null || p === undefined) continue;
    if (!isPlainObject(p)) throw new CodecError(`bad ${key} request`);
    if (method !== undefined) throw new CodecError('more than one request in a command');
    method = key as CommandMethod;
    params = p;
  }
  if (method === undefined) {
    if (id === 0) return { id: 0, method: 'pong', params: {} };
    return { id, method: 'unknown', params: {} };
  }
  if (id === 0 && method !== 'send') throw new CodecError(`${method} without id`);
  return { id, method, params: params ?? {} };
}

/** decodeCommands splits a frame into its commands (blank lines skipped), or throws CodecError. */
export function decodeCommands(frame: string, maxCommands = 1024): Command[] {
  const out: Command[] = [];
  let start = 0;
  const n = frame.length;
  while (start <= n) {
    let end = frame.indexOf('\n', start);
    if (end < 0) end = n;
    const line = frame.slice(start, end);
    if (line.trim() !== '') {
      if (out.length >= maxCommands) throw new CodecError('too many commands in a frame');
      out.push(decodeCommand(line));
    }
    start = end + 1;
  }
  if (out.length === 0) throw new CodecError('empty frame');
  return out;
}

/** frameHasNewlineOnly reports whether a buffer frame is empty apart from newlines (a pong-only frame). */
export function isBlank(buf: Uint8Array): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== NEWLINE && buf[i] !== 32 && buf[i] !== 13) return false;
  return true;
}

// ---- typed request parsing (throws ChatError 107 on bad fields) ----

function bad(): never {
  throw new ChatError(Errors.badRequest);
}

function str(p: Record<string, unknown>, k: string, required = false): string {
  const v = p[k];
  if (v === undefined || v === null) {
    if (required) bad();
    return '';
  }
  if (typeof v !== 'string') bad();
  return v;
}

function num(p: Record<string, unknown>, k: string): number {
  const v = p[k];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v)) bad();
  return v;
}

function bool(p: Record<string, unknown>, k: string): boolean {
  const v = p[k];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') bad();
  return v;
}

/** rawJson serialises an embedded JSON value (request data) back to text; undefined stays undefined. */
export function rawJson(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  return JSON.stringify(v);
}

export interface SubscribeRequestOpts {
  recover: boolean;
  epoch: string;
  offset: number;
}

export interface ConnectRequest {
  token: string;
  data?: string;
  subs: Record<string, SubscribeRequestOpts>;
  name: string;
  version: string;
}

export function parseConnect(p: Record<string, unknown>): ConnectRequest {
  const subs: Record<string, SubscribeRequestOpts> = {};
  if (p.subs !== undefined && p.subs !== null) {
    if (!isPlainObject(p.subs)) bad();
    for (const ch of Object.keys(p.subs)) {
      const s = p.subs[ch];
      if (!isPlainObject(s)) bad();
      subs[ch] = { recover: bool(s, 'recover'), epoch: str(s, 'epoch'), offset: num(s, 'offset') };
    }
  }
  return { token: str(p, 'token'), data: rawJson(p.data), subs, name: str(p, 'name'), version: str(p, 'version') };
}

export interface SubscribeRequest {
  channel: string;
  token: string;
  recover: boolean;
  epoch: string;
  offset: number;
  data?: string;
  positioned: boolean;
  recoverable: boolean;
  joinLeave: boolean;
  flag: number;
  /** Delta encoding asked for ('' none, 'fossil'). */
  delta: string;
  /** Publication tags filter as sent (`tf`), checked by tags-filter.ts; null when absent. */
  tf: unknown;
}

/** SubscribeFlag holds bits of SubscribeRequest.flag. */
export const SubscribeFlag = { channelCompaction: 1, rejectUnrecovered: 2 } as const;

export function parseSubscribe(p: Record<string, unknown>): SubscribeRequest {
  const offset = num(p, 'offset');
  if (offset < 0 || !Number.isInteger(offset)) bad();
  return {
    channel: str(p, 'channel', true),
    token: str(p, 'token'),
    recover: bool(p, 'recover'),
    epoch: str(p, 'epoch'),
    offset,
    data: rawJson(p.data),
    positioned: bool(p, 'positioned'),
    recoverable: bool(p, 'recoverable'),
    joinLeave: bool(p, 'join_leave'),
    flag: num(p, 'flag'),
    delta: str(p, 'delta'),
    tf: p.tf ?? null,
  };
}

export function parseChannel(p: Record<string, unknown>): string {
  return str(p, 'channel', true);
}

export function parsePublish(p: Record<string, unknown>): { channel: string; data: unknown } {
  const channel = str(p, 'channel', true);
  if (p.data === undefined) bad();
  return { channel, data: p.data };
}

export interface HistoryRequest {
  channel: string;
  limit: number;
  since?: { offset: number; epoch: string };
  reverse: boolean;
}

export function parseHistory(p: Record<string, unknown>): HistoryRequest {
  const channel = str(p, 'channel', true);
  const limit = num(p, 'limit');
  if (!Number.isInteger(limit)) bad();
  let since: HistoryRequest['since'];
  if (p.since !== undefined && p.since !== null) {
    if (!isPlainObject(p.since)) bad();
    const offset = num(p.since, 'offset');
    if (offset < 0 || !Number.isInteger(offset)) bad();
    since = { offset, epoch: str(p.since, 'epoch') };
  }
  return { channel, limit, since, reverse: bool(p, 'reverse') };
}

export function parseRpc(p: Record<string, unknown>): { method: string; data: unknown } {
  return { method: str(p, 'method'), data: p.data };
}

export function parseToken(p: Record<string, unknown>): string {
  return str(p, 'token', true);
}

export function parseSubRefresh(p: Record<string, unknown>): { channel: string; token: string } {
  return { channel: str(p, 'channel', true), token: str(p, 'token', true) };
}

// ---- encoding ----

/** ClientInfo describes a connection in presence, join/leave and publications; infos are raw JSON text. */
export interface ClientInfo {
  user: string;
  client: string;
  connInfo?: string;
  chanInfo?: string;
}

/** Publication is a channel message; `data` is raw JSON text. */
export interface Publication {
  data: string;
  info?: ClientInfo;
  offset?: number;
  tags?: Record<string, string>;
  /** `data` is a JSON string holding a Fossil delta against the previous publication (delta subscriptions). */
  delta?: boolean;
  /**
   * deltaWanted: the publisher asked for delta encoding (server API `delta: true`, or the namespace's
   * `deltaPublish`), so delta subscribers get it as a delta against the previous publication.
   * Carried by the broker, never sent to clients.
   */
  deltaWanted?: boolean;
}

/** StreamPosition is a place in a channel's history stream. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

export function encodeClientInfo(ci: ClientInfo): string {
  let s = '{"user":' + JSON.stringify(ci.user) + ',"client":' + JSON.stringify(ci.client);
  if (ci.connInfo !== undefined) s += ',"conn_info":' + ci.connInfo;
  if (ci.chanInfo !== undefined) s += ',"chan_info":' + ci.chanInfo;
  return s + '}';
}

export function encodePublication(pub: Publication): string {
  let s = '{"data":' + pub.data;
  if (pub.info) s += ',"info":' + encodeClientInfo(pub.info);
  if (pub.offset) s += ',"offset":' + pub.offset;
  if (pub.tags && Object.keys(pub.tags).length > 0) s += ',"tags":' + JSON.stringify(pub.tags);
  if (pub.delta) s += ',"delta":true';
  return s + '}';
}

/** PushType names the field of a Push. */
export type PushType = 'pub' | 'join' | 'leave' | 'unsubscribe' | 'message' | 'subscribe' | 'connect' | 'disconnect' | 'refresh';

/** encodePush builds the unwrapped Push JSON `{"channel":...,"<type>":<body>}` (what unidirectional transports send). */
export function encodePush(channel: string, type: PushType, body: string): string {
  if (channel === '') return '{"' + type + '":' + body + '}';
  return '{"channel":' + JSON.stringify(channel) + ',"' + type + '":' + body + '}';
}

/** wrapPush wraps a Push for bidirectional transports: `{"push":...}`. */
export function wrapPush(push: string): string {
  return '{"push":' + push + '}';
}

export function encodeReply(id: number, method: CommandMethod, result: string): string {
  return '{"id":' + id + ',"' + method + '":' + result + '}';
}

export function encodeErrorReply(id: number, err: { code: number; message: string; temporary?: boolean }): string {
  let e = '{"code":' + err.code + ',"message":' + JSON.stringify(err.message);
  if (err.temporary) e += ',"temporary":true';
  return '{"id":' + id + ',"error":' + e + '}}';
}

/** PING_FRAME_TEXT is the server ping: an empty reply. */
export const PING_TEXT = '{}';

// ---- WebSocket framing (RFC 6455 §5.2), server side so unmasked ----

const WS_FIN = 0x80;
/** WsOpcode holds the frame opcodes we write. */
export const WsOpcode = { text: 0x1, binary: 0x2, close: 0x8 } as const;
const WS_LEN_16 = 126;
const WS_LEN_64 = 127;
const WS_MAX_7 = 125;
const WS_MAX_16 = 0xffff;

/** wsFrame builds one unmasked final WebSocket frame around a payload. */
export function wsFrame(payload: Buffer, opcode: number = WsOpcode.text): Buffer {
  const n = payload.length;
  let head: number;
  if (n <= WS_MAX_7) head = 2;
  else if (n <= WS_MAX_16) head = 4;
  else head = 10;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = WS_FIN | opcode;
  if (head === 2) out[1] = n;
  else if (head === 4) {
    out[1] = WS_LEN_16;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = WS_LEN_64;
    out.writeUInt32BE(Math.floor(n / 0x100000000), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  payload.copy(out, head);
  return out;
}

/** encodePresenceMap is a presence reply's client map, client id → client info. */
export function encodePresenceMap(p: Record<string, ClientInfo>): string {
  const parts: string[] = [];
  for (const [id, info] of Object.entries(p)) parts.push(JSON.stringify(id) + ':' + encodeClientInfo(info));
  return '{' + parts.join(',') + '}';
}

/** encodeHistoryResult is a history reply body: publications, epoch and offset. */
export function encodeHistoryResult(pubs: Publication[], position: StreamPosition): string {
  let s = '{"publications":[' + pubs.map(encodePublication).join(',') + '],"epoch":' + JSON.stringify(position.epoch);
  if (position.offset > 0) s += ',"offset":' + position.offset;
  return s + '}';
}

