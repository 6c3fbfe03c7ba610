/**
 * Connection and subscription JWTs (HS256), with the claims Centrifugo reads.
 */
import { SignJWT, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import { ChatError, DisconnectError, Disconnects, Errors } from './protocol/codes.js';

/** ConnectionClaims are the claims of a connection token. */
export interface ConnectionClaims {
  /** User id; empty for anonymous. */
  sub: string;
  exp?: number;
  iat?: number;
  jti?: string;
  /** Connection info, any JSON value; seen by others in presence and publications. */
  info?: unknown;
  /** Connection info as base64 of JSON bytes (alternative to info). */
  b64info?: string;
  /** Server-side subscriptions made at connect. */
  channels?: string[];
  /** Server-side subscriptions with options (keys are channels). */
  subs?: Record<string, unknown>;
  /** Private data the server keeps with the connection. */
  meta?: unknown;
  /** Overrides exp for connection expiry; 0 means never expire. */
  expire_at?: number;
}

/** SubscriptionClaims are the claims of a subscription token. */
export interface SubscriptionClaims {
  sub: string;
  channel: string;
  exp?: number;
  iat?: number;
  info?: unknown;
  b64info?: string;
  expire_at?: number;
}

function key(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

async function sign(secret: string, claims: Record<string, unknown>, ttlSeconds?: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { iat: now, ...claims };
  if (ttlSeconds !== undefined && ttlSeconds > 0 && payload.exp === undefined) payload.exp = now + ttlSeconds;
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key(secret));
}

/** signConnectionToken issues a connection JWT; ttlSeconds (if > 0) sets exp unless claims have one. */
export function signConnectionToken(secret: string, claims: Partial<ConnectionClaims> & { sub: string }, ttlSeconds?: number): Promise<string> {
  return sign(secret, claims, ttlSeconds);
}

/** signSubscriptionToken issues a subscription JWT for one channel. */
export function signSubscriptionToken(
  secret: string,
  claims: Partial<SubscriptionClaims> & { sub: string; channel: string },
  ttlSeconds?: number,
): Promise<string> {
  return sign(secret, claims, ttlSeconds);
}

async function verify(secret: string, token: string): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(token, key(secret), { algorithms: ['HS256'] });
    return payload;
  } catch (e) {
    // jose checks the signature before exp, so JWTExpired means a genuine but expired token.
    if (e instanceof joseErrors.JWTExpired) throw new ChatError(Errors.tokenExpired);
    throw new DisconnectError(Disconnects.invalidToken);
  }
}

function infoOf(p: JWTPayload): string | undefined {
  if (typeof p.b64info === 'string' && p.b64info !== '') {
    const text = Buffer.from(p.b64info, 'base64').toString('utf8');
    try {
      JSON.parse(text);
    } catch {
      return JSON.stringify(text);
    }
    return text;
  }
  if (p.info !== undefined) return JSON.stringify(p.info);
  return undefined;
}

/** VerifiedConnection is what the server keeps from a verified connection token. */
export interface VerifiedConnection {
  user: string;
  /** Raw JSON of info, if any. */
  info?: string;
  /** Parsed info (for hooks). */
  infoValue?: unknown;
  /** Unix seconds of expiry; 0 = never. */
  expireAt: number;
  /** Unix seconds the token was issued (`iat`); 0 when it has none. */
  issuedAt: number;
  channels: string[];
  meta?: unknown;
}

/**
 * verifyConnectionToken checks a connection token: a bad signature or shape
 * throws DisconnectError(3500 invalid token), an expired one ChatError(109).
 */
export async function verifyConnectionToken(secret: string, token: string, nowMs = Date.now()): Promise<VerifiedConnection> {
  const now = Math.floor(nowMs / 1000);
  const p = await verify(secret, token);
  if (p.sub !== undefined && typeof p.sub !== 'string') throw new DisconnectError(Disconnects.invalidToken);
  let expireAt = typeof p.exp === 'number' ? p.exp : 0;
  if (typeof p.expire_at === 'number') expireAt = p.expire_at;
  if (typeof p.exp === 'number' && p.exp <= now) throw new ChatError(Errors.tokenExpired);
  if (expireAt > 0 && expireAt <= now) throw new ChatError(Errors.tokenExpired);
  const channels: string[] = [];
  if (Array.isArray(p.channels)) for (const c of p.channels) if (typeof c === 'string') channels.push(c);
  if (p.subs && typeof p.subs === 'object') for (const c of Object.keys(p.subs)) if (!channels.includes(c)) channels.push(c);
  const info = infoOf(p);
  const issuedAt = typeof p.iat === 'number' ? p.iat : 0;
  return { user: p.sub ?? '', info, infoValue: info !== undefined ? JSON.parse(info) : undefined, expireAt, issuedAt, channels, meta: p.meta };
}

/** VerifiedSubscription is what the server keeps from a verified subscription token. */
export interface VerifiedSubscription {
  info?: string;
  expireAt: number;
}

/**
 * verifySubscriptionToken checks a subscription token for a user and channel:
 * expired → ChatError(109); bad signature or claims that do not match → ChatError(103).
 */
export async function verifySubscriptionToken(
  secret: string,
  token: string,
  user: string,
  channel: string,
  nowMs = Date.now(),
): Promise<VerifiedSubscription> {
  const now = Math.floor(nowMs / 1000);
  let p: JWTPayload;
  try {
    p = await verify(secret, token);
  } catch (e) {
    if (e instanceof ChatError) throw e;
    throw new ChatError(Errors.permissionDenied);
  }
  if ((p.sub ?? '') !== user || p.channel !== channel) throw new ChatError(Errors.permissionDenied);
  let expireAt = typeof p.exp === 'number' ? p.exp : 0;
  if (typeof p.expire_at === 'number') expireAt = p.expire_at;
  if (typeof p.exp === 'number' && p.exp <= now) throw new ChatError(Errors.tokenExpired);
  if (expireAt > 0 && expireAt <= now) throw new ChatError(Errors.tokenExpired);
  return { info: infoOf(p), expireAt };
}
