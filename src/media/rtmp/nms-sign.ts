/**
 * Node-Media-Server's signed publish URLs, for broadcasters moving from NMS without new settings:
 * `rtmp://host/live/NAME?sign=EXPIRES-HASH`, where EXPIRES is a Unix time in seconds and HASH is
 * the hex MD5 of `/live/NAME-EXPIRES-SECRET`. onair accepts one only while it has not expired and
 * only when the operator set the shared secret (docs/migration-from-nms.md). MD5 is NMS's choice,
 * kept for compatibility; the secret is what protects the path, and it never leaves the servers.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const SIGN_RE = /^(\d{1,12})-([0-9a-f]{32})$/;

/** signQueryOf reads `sign` from a publish name's query ("NAME?sign=…&x=y"), or undefined. */
export function signQueryOf(rawName: unknown): string | undefined {
  if (typeof rawName !== 'string') return undefined;
  const q = rawName.indexOf('?');
  if (q < 0) return undefined;
  return new URLSearchParams(rawName.slice(q + 1)).get('sign') ?? undefined;
}

/** nmsSign makes the sign value NMS expects for a stream path (tests, and operators' tools). */
export function nmsSign(streamPath: string, expiresSeconds: number, secret: string): string {
  return `${expiresSeconds}-${createHash('md5').update(`${streamPath}-${expiresSeconds}-${secret}`).digest('hex')}`;
}

/** verifyNmsSign checks a sign value for a stream path: well formed, not expired, the right hash. */
export function verifyNmsSign(streamPath: string, sign: string, secret: string, nowSeconds: number): boolean {
  const m = SIGN_RE.exec(sign);
  if (!m || !secret) return false;
  const expires = Number(m[1]);
  if (!Number.isSafeInteger(expires) || expires < nowSeconds) return false;
  const want = Buffer.from(nmsSign(streamPath, expires, secret).slice(m[1]?.length ?? 0));
  const got = Buffer.from(`-${m[2] ?? ''}`);
  return want.length === got.length && timingSafeEqual(want, got);
}
