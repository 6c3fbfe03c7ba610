/**
 * Pusher signatures: channel authorization (`key:hex(HMAC-SHA256(secret, socket_id:channel[:channel_data]))`)
 * and HTTP API request signing (auth_signature over "METHOD\nPATH\nsorted query"). Pure.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** SOCKET_ID_RE is the form of Pusher socket ids ("123.456"). */
export const SOCKET_ID_RE = /^\d+\.\d+$/;
/** Largest clock difference accepted on signed HTTP API requests. */
export const MAX_TIMESTAMP_SKEW_SECONDS = 600;

export function hmacHex(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text, 'utf8').digest('hex');
}

export function md5Hex(body: string | Buffer): string {
  return createHash('md5').update(body).digest('hex');
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** channelAuth is the `auth` value that lets a socket subscribe to a private or presence channel. */
export function channelAuth(key: string, secret: string, socketId: string, channel: string, channelData?: string): string {
  const text = channelData === undefined ? socketId + ':' + channel : socketId + ':' + channel + ':' + channelData;
  return key + ':' + hmacHex(secret, text);
}

/** verifyChannelAuth checks a subscribe's `auth` against our key and secret. */
export function verifyChannelAuth(key: string, secret: string, auth: string, socketId: string, channel: string, channelData?: string): boolean {
  return safeEqual(auth, channelAuth(key, secret, socketId, channel, channelData));
}

/** userAuth is the `auth` of a `pusher:signin`: the HMAC is over `socket_id::user::user_data`. */
export function userAuth(key: string, secret: string, socketId: string, userData: string): string {
  return key + ':' + hmacHex(secret, socketId + '::user::' + userData);
}

export function verifyUserAuth(key: string, secret: string, auth: string, socketId: string, userData: string): boolean {
  return safeEqual(auth, userAuth(key, secret, socketId, userData));
}

/** requestSignature signs an HTTP API request; query holds every parameter but auth_signature. */
export function requestSignature(secret: string, method: string, path: string, query: Record<string, string>): string {
  const keys = Object.keys(query).sort();
  const qs = keys.map((k) => k + '=' + query[k]).join('&');
  return hmacHex(secret, method.toUpperCase() + '\n' + path + '\n' + qs);
}

export type RequestCheck = { ok: true } | { ok: false; status: 400 | 401; message: string };

/**
 * verifyRequest checks a signed HTTP API request: our key, auth_version 1.0, a timestamp
 * within ±600 s, body_md5 when there is a body, and the signature.
 */
export function verifyRequest(
  cfg: { key: string; secret: string },
  req: { method: string; path: string; query: Record<string, string>; body: string },
  nowSeconds: number,
): RequestCheck {
  const q: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query)) q[k.toLowerCase()] = v;
  const sig = q.auth_signature;
  if (q.auth_key === undefined || sig === undefined || q.auth_timestamp === undefined) return { ok: false, status: 401, message: 'missing auth_key, auth_timestamp or auth_signature' };
  if (!safeEqual(q.auth_key, cfg.key)) return { ok: false, status: 401, message: 'unknown auth_key' };
  if (q.auth_version !== undefined && q.auth_version !== '1.0') return { ok: false, status: 401, message: 'auth_version must be 1.0' };
  const ts = Number(q.auth_timestamp);
  if (!Number.isFinite(ts) || Math.abs(nowSeconds - ts) > MAX_TIMESTAMP_SKEW_SECONDS) {
    return { ok: false, status: 401, message: 'auth_timestamp is more than 600 s from the server time' };
  }
  if (req.body.length > 0) {
    if (q.body_md5 === undefined || !safeEqual(q.body_md5, md5Hex(req.body))) return { ok: false, status: 401, message: 'body_md5 does not match the body' };
  }
  delete q.auth_signature;
  if (!safeEqual(sig, requestSignature(cfg.secret, req.method, req.path, q))) return { ok: false, status: 401, message: 'invalid auth_signature' };
  return { ok: true };
}
