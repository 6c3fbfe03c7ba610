/**
 * The JSON bodies of Centrifugo's HTTP proxy protocol: requests onair POSTs to the
 * application backend and the responses it accepts back. Pure: strings and values
 * in, values out; no sockets, no timers. Field names follow Centrifugo's proxy.proto.
 */
import type { Disconnect, ProtocolError } from '../protocol/codes.js';

/** ProxyKind names the proxied events (also the metric label). */
export type ProxyKind = 'connect' | 'refresh' | 'subscribe' | 'publish' | 'sub_refresh' | 'rpc';
export const PROXY_KINDS: readonly ProxyKind[] = ['connect', 'refresh', 'subscribe', 'publish', 'sub_refresh', 'rpc'];

/** PROTOCOL_JSON is the `protocol` and `encoding` onair reports: it only speaks JSON to clients. */
const PROTOCOL_JSON = 'json';
/** MAX_CLOSE_REASON_BYTES is what fits a WebSocket close frame's reason (125 minus the code). */
export const MAX_CLOSE_REASON_BYTES = 123;
/** Custom disconnect codes a backend may use (Centrifugo: 4000–4499 reconnect, 4500–4999 terminal). */
export const CUSTOM_DISCONNECT_MIN = 4000;
export const CUSTOM_DISCONNECT_MAX = 4999;

/** ProxyClientContext is what every request says about the connection. */
export interface ProxyClientContext {
  client: string;
  transport: string;
  user: string;
  /** Raw JSON of the connection's meta, sent when includeConnectionMeta is on. */
  meta?: string;
}

/** ProxyResponseError means the backend answered 200 with a body onair cannot use. */
export class ProxyResponseError extends Error {}

/** ProxyReply is a decoded response: a result, a custom error, or a custom disconnect. */
export type ProxyReply<R> =
  | { type: 'result'; result: R }
  | { type: 'error'; error: ProtocolError }
  | { type: 'disconnect'; disconnect: Disconnect };

/** ChannelOverride holds per-subscription overrides of namespace options (BoolValue fields). */
export interface ChannelOverride {
  presence?: boolean;
  joinLeave?: boolean;
  forcePushJoinLeave?: boolean;
  forcePositioning?: boolean;
  forceRecovery?: boolean;
}

/** ServerSubOptions are the options of one server-side subscription in a connect result's `subs`. */
export interface ServerSubOptions {
  /** Raw JSON channel info. */
  info?: string;
  /** Raw JSON data for the client, in the connect reply's `subs` entry. */
  data?: string;
  override: ChannelOverride;
}

export interface ConnectResult {
  user: string;
  /** Unix seconds; 0 = never expires. */
  expireAt: number;
  info?: string;
  data?: string;
  channels: string[];
  subs: Record<string, ServerSubOptions>;
  meta?: string;
}

export interface RefreshResult {
  expired: boolean;
  expireAt: number;
  info?: string;
}

export interface SubscribeResult {
  info?: string;
  data?: string;
  override: ChannelOverride;
  expireAt: number;
}

export interface PublishResult {
  /** Replacement data (raw JSON), if the backend rewrote it. */
  data?: string;
  skipHistory: boolean;
}

export interface RpcResult {
  data?: string;
}

// ---- requests ----

/** JSON field of client data: `"data":<raw>` or, in binary mode, `"b64data":"<base64 of raw>"`. */
function dataField(raw: string | undefined, binary: boolean): string {
  if (raw === undefined) return '';
  return binary ? ',"b64data":' + JSON.stringify(Buffer.from(raw).toString('base64')) : ',"data":' + raw;
}

function head(ctx: ProxyClientContext, withUser: boolean): string {
  let s = '{"client":' + JSON.stringify(ctx.client) + ',"transport":' + JSON.stringify(ctx.transport);
  s += ',"protocol":"' + PROTOCOL_JSON + '","encoding":"' + PROTOCOL_JSON + '"';
  if (withUser) s += ',"user":' + JSON.stringify(ctx.user);
  return s;
}

function metaField(ctx: ProxyClientContext): string {
  return ctx.meta === undefined ? '' : ',"meta":' + ctx.meta;
}

/** encodeConnectRequest is the connect proxy body; `data` is the client's raw JSON connect data. */
export function encodeConnectRequest(
  ctx: Omit<ProxyClientContext, 'user' | 'meta'>,
  req: { name: string; version: string; data?: string; channels?: string[] },
  binary = false,
): string {
  let s = head({ ...ctx, user: '' }, false);
  if (req.name !== '') s += ',"name":' + JSON.stringify(req.name);
  if (req.version !== '') s += ',"version":' + JSON.stringify(req.version);
  s += dataField(req.data, binary);
  if (req.channels && req.channels.length > 0) s += ',"channels":' + JSON.stringify(req.channels);
  return s + '}';
}

/** encodeRefreshRequest is the refresh proxy body. */
export function encodeRefreshRequest(ctx: ProxyClientContext): string {
  return head(ctx, true) + metaField(ctx) + '}';
}

/** encodeSubscribeRequest is the subscribe proxy body; `data` is the client's raw JSON subscribe data. */
export function encodeSubscribeRequest(ctx: ProxyClientContext, channel: string, data: string | undefined, binary = false): string {
  return head(ctx, true) + ',"channel":' + JSON.stringify(channel) + metaField(ctx) + dataField(data, binary) + '}';
}

/** encodePublishRequest is the publish proxy body; `data` is the publication's raw JSON. */
export function encodePublishRequest(ctx: ProxyClientContext, channel: string, data: string, binary = false): string {
  return head(ctx, true) + ',"channel":' + JSON.stringify(channel) + dataField(data, binary) + metaField(ctx) + '}';
}

/** encodeSubRefreshRequest is the sub_refresh proxy body. */
export function encodeSubRefreshRequest(ctx: ProxyClientContext, channel: string): string {
  return head(ctx, true) + ',"channel":' + JSON.stringify(channel) + metaField(ctx) + '}';
}

/** encodeRpcRequest is the rpc proxy body; an empty method is left out (unnamed RPC). */
export function encodeRpcRequest(ctx: ProxyClientContext, method: string, data: string | undefined, binary = false): string {
  let s = head(ctx, true);
  if (method !== '') s += ',"method":' + JSON.stringify(method);
  return s + dataField(data, binary) + metaField(ctx) + '}';
}

// ---- responses ----

function bad(what: string): never {
  throw new ProxyResponseError('proxy response: ' + what);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') bad(k + ' must be a string');
  return v;
}

function optBool(o: Record<string, unknown>, k: string): boolean {
  const v = o[k];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') bad(k + ' must be a boolean');
  return v;
}

/** unixSeconds reads `expire_at`: a non-negative number of Unix seconds (0 or absent = none). */
function unixSeconds(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(k + ' must be a non-negative number');
  return Math.floor(v);
}

/**
 * jsonOrB64 reads a JSON payload field (`info`, `data`) or its base64 twin (`b64info`, `b64data`)
 * as raw JSON text. onair's client protocol is JSON only, so base64 bytes must decode to JSON.
 */
function jsonOrB64(o: Record<string, unknown>, k: string): string | undefined {
  const b64 = o['b64' + k];
  if (b64 !== undefined && b64 !== null && b64 !== '') {
    if (typeof b64 !== 'string') bad('b64' + k + ' must be a string');
    const text = Buffer.from(b64, 'base64').toString('utf8');
    try {
      JSON.parse(text);
    } catch {
      bad('b64' + k + ' must hold JSON (onair speaks the JSON protocol only)');
    }
    return text;
  }
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  return JSON.stringify(v);
}

function stringArray(o: Record<string, unknown>, k: string): string[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) bad(k + ' must be an array of strings');
  return v;
}

/** boolValue reads a Centrifugo BoolValue `{"value": bool}`. */
function boolValue(o: Record<string, unknown>, k: string): boolean | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) bad(k + ' must be {"value": bool}');
  return optBool(v, 'value');
}

function decodeOverride(v: unknown): ChannelOverride {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) bad('override must be an object');
  const out: ChannelOverride = {};
  const presence = boolValue(v, 'presence');
  if (presence !== undefined) out.presence = presence;
  const joinLeave = boolValue(v, 'join_leave');
  if (joinLeave !== undefined) out.joinLeave = joinLeave;
  const forcePush = boolValue(v, 'force_push_join_leave');
  if (forcePush !== undefined) out.forcePushJoinLeave = forcePush;
  const positioning = boolValue(v, 'force_positioning');
  if (positioning !== undefined) out.forcePositioning = positioning;
  const recovery = boolValue(v, 'force_recovery');
  if (recovery !== undefined) out.forceRecovery = recovery;
  return out;
}

/** truncateUtf8 cuts a string to at most `max` UTF-8 bytes without splitting a character. */
export function truncateUtf8(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let out = '';
  let n = 0;
  for (const ch of s) {
    const b = Buffer.byteLength(ch);
    if (n + b > max) break;
    out += ch;
    n += b;
  }
  return out;
}

/**
 * decodeReply splits a response into result, error or disconnect (checked in that order of
 * precedence: disconnect, error, result) and decodes the result with `result`; a body without
 * any of them reads as `missing` (an empty result unless given).
 */
function decodeReply<R>(body: unknown, result: (r: Record<string, unknown>) => R, missing?: () => R): ProxyReply<R> {
  if (!isObject(body)) bad('body must be a JSON object');
  const d = body.disconnect;
  if (d !== undefined && d !== null) {
    if (!isObject(d)) bad('disconnect must be an object');
    const code = d.code;
    if (typeof code !== 'number' || !Number.isInteger(code) || code < CUSTOM_DISCONNECT_MIN || code > CUSTOM_DISCONNECT_MAX) {
      bad(`disconnect code must be an integer in [${CUSTOM_DISCONNECT_MIN}, ${CUSTOM_DISCONNECT_MAX}]`);
    }
    return { type: 'disconnect', disconnect: { code, reason: truncateUtf8(optString(d, 'reason') ?? '', MAX_CLOSE_REASON_BYTES) } };
  }
  const e = body.error;
  if (e !== undefined && e !== null) {
    if (!isObject(e)) bad('error must be an object');
    const code = e.code;
    if (typeof code !== 'number' || !Number.isInteger(code) || code < 0) bad('error code must be a non-negative integer');
    const error: ProtocolError = { code, message: optString(e, 'message') ?? '' };
    if (optBool(e, 'temporary')) error.temporary = true;
    return { type: 'error', error };
  }
  const r = body.result;
  if (r === undefined || r === null) return { type: 'result', result: missing ? missing() : result({}) };
  if (!isObject(r)) bad('result must be an object');
  return { type: 'result', result: result(r) };
}

/** decodeConnectResponse decodes a connect proxy response (`subs` channels join `channels`). */
export function decodeConnectResponse(body: unknown): ProxyReply<ConnectResult> {
  return decodeReply(body, (r) => {
    const subs: Record<string, ServerSubOptions> = {};
    const rawSubs = r.subs;
    if (rawSubs !== undefined && rawSubs !== null) {
      if (!isObject(rawSubs)) bad('subs must be an object');
      for (const [ch, o] of Object.entries(rawSubs)) {
        if (o !== null && !isObject(o)) bad('subs.' + ch + ' must be an object');
        const opts = o ?? {};
        subs[ch] = { info: jsonOrB64(opts, 'info'), data: jsonOrB64(opts, 'data'), override: decodeOverride(opts.override) };
      }
    }
    const channels = stringArray(r, 'channels');
    for (const ch of Object.keys(subs)) if (!channels.includes(ch)) channels.push(ch);
    const meta = r.meta;
    if (meta !== undefined && meta !== null && !isObject(meta)) bad('meta must be an object');
    return {
      user: optString(r, 'user') ?? '',
      expireAt: unixSeconds(r, 'expire_at'),
      info: jsonOrB64(r, 'info'),
      data: jsonOrB64(r, 'data'),
      channels,
      subs,
      meta: meta === undefined || meta === null ? undefined : JSON.stringify(meta),
    };
  });
}

/**
 * decodeRefreshResponse decodes a refresh or sub_refresh response (both have the same result);
 * no result at all means expired, so a backend that answers `{}` does not keep a session forever.
 */
export function decodeRefreshResponse(body: unknown): ProxyReply<RefreshResult> {
  return decodeReply<RefreshResult>(
    body,
    (r) => ({ expired: optBool(r, 'expired'), expireAt: unixSeconds(r, 'expire_at'), info: jsonOrB64(r, 'info') }),
    () => ({ expired: true, expireAt: 0 }),
  );
}

export function decodeSubscribeResponse(body: unknown): ProxyReply<SubscribeResult> {
  return decodeReply(body, (r) => ({
    info: jsonOrB64(r, 'info'),
    data: jsonOrB64(r, 'data'),
    override: decodeOverride(r.override),
    expireAt: unixSeconds(r, 'expire_at'),
  }));
}

export function decodePublishResponse(body: unknown): ProxyReply<PublishResult> {
  return decodeReply(body, (r) => ({ data: jsonOrB64(r, 'data'), skipHistory: optBool(r, 'skip_history') }));
}

export function decodeRpcResponse(body: unknown): ProxyReply<RpcResult> {
  return decodeReply(body, (r) => ({ data: jsonOrB64(r, 'data') }));
}
