import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/** newId makes a primary key; UUIDs keep ids unguessable and portable across engines. */
export const newId = (): string => randomUUID();

/** randomToken makes a URL-safe secret with `bytes` of entropy. */
export const randomToken = (bytes = 32): string => randomBytes(bytes).toString('base64url');

/** sha256 hashes high-entropy secrets (tokens, stream keys) for storage and lookup. */
export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** safeEqual compares secrets in constant time. */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
