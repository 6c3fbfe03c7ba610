/**
 * RTMP handshake: the simple one of the RTMP 1.0 spec (C0/C1/C2, S0/S1/S2 of 1 + 1536 bytes)
 * and the HMAC-SHA256 digest ("complex") variant Flash-era clients and ffmpeg use.
 *
 *   C1/S1 = time(4) version(4) 1528 bytes, split into two 764-byte blocks (key, digest);
 *   the digest block holds offset(4) ... digest(32) ... and the 32-byte digest's position is
 *   (sum of the 4 offset bytes) % 728 + base, where base is 12 (digest block first) or
 *   776 (key block first). digest = HMAC(key, C1 without those 32 bytes).
 *   S2/C2 = random(1504) HMAC(HMAC(fullKey, peerDigest), random)(32).
 */
import { createHmac, randomBytes } from 'node:crypto';

export const RTMP_VERSION = 3;
export const HANDSHAKE_SIZE = 1536;
const DIGEST_LEN = 32;
const DIGEST_MOD = 728;
/** Offsets of the digest-offset bytes and the digest base for the two C1 layouts. */
const SCHEMES = [
  { offsetAt: 772, base: 776 }, // key block first
  { offsetAt: 8, base: 12 }, // digest block first
] as const;
type Scheme = (typeof SCHEMES)[number];

const KEY_TAIL = Buffer.from([
  0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57,
  0x6e, 0xec, 0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
]);
/** Client key: the 30-byte text signs C1; the full 62 bytes key C2. */
const CLIENT_KEY = Buffer.concat([Buffer.from('Genuine Adobe Flash Player 001', 'latin1'), KEY_TAIL]);
const CLIENT_KEY_TEXT_LEN = 30;
/** Server key: the 36-byte text signs S1; the full 68 bytes key S2. */
const SERVER_KEY = Buffer.concat([Buffer.from('Genuine Adobe Flash Media Server 001', 'latin1'), KEY_TAIL]);
const SERVER_KEY_TEXT_LEN = 36;
/** Version we put in S1 (FMS-like; a version byte >= 3 tells clients to check our digests). */
const SERVER_VERSION = Buffer.from([0x0d, 0x0e, 0x0a, 0x0d]);
/** Version our client puts in C1 when it does the digest handshake. */
const CLIENT_VERSION = Buffer.from([0x0a, 0x00, 0x2d, 0x02]);

function hmac(key: Buffer, ...data: Buffer[]): Buffer {
  const h = createHmac('sha256', key);
  for (const d of data) h.update(d);
  return h.digest();
}

function digestPos(block: Buffer, scheme: Scheme): number {
  const o = scheme.offsetAt;
  return ((block.readUInt8(o) + block.readUInt8(o + 1) + block.readUInt8(o + 2) + block.readUInt8(o + 3)) % DIGEST_MOD) + scheme.base;
}

function digestAt(block: Buffer, pos: number, key: Buffer): Buffer {
  return hmac(key, block.subarray(0, pos), block.subarray(pos + DIGEST_LEN));
}

/** findDigest returns the position of a valid digest in a C1/S1 block, or -1. */
export function findDigest(block: Buffer, key: Buffer): { pos: number; scheme: Scheme } | null {
  for (const scheme of SCHEMES) {
    const pos = digestPos(block, scheme);
    if (digestAt(block, pos, key).equals(block.subarray(pos, pos + DIGEST_LEN))) return { pos, scheme };
  }
  return null;
}

function signBlock(block: Buffer, scheme: Scheme, key: Buffer): number {
  const pos = digestPos(block, scheme);
  digestAt(block, pos, key).copy(block, pos);
  return pos;
}

function time4(): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE((Date.now() & 0x7fffffff) >>> 0, 0);
  return b;
}

/**
 * serverHandshake answers a client's C0+C1 with S0+S1+S2. When C1 carries a valid client
 * digest we sign S1/S2 the digest way, otherwise we answer the simple way (S2 echoes C1).
 */
export function serverHandshake(c1: Buffer): { response: Buffer; complex: boolean } {
  if (c1.length !== HANDSHAKE_SIZE) throw new RangeError('C1 must be 1536 bytes');
  const s1 = randomBytes(HANDSHAKE_SIZE);
  time4().copy(s1, 0);
  const clientKey = CLIENT_KEY.subarray(0, CLIENT_KEY_TEXT_LEN);
  const found = c1.readUInt32BE(4) !== 0 ? findDigest(c1, clientKey) : null;
  if (!found) {
    s1.fill(0, 4, 8);
    const s2 = Buffer.from(c1);
    return { response: Buffer.concat([Buffer.from([RTMP_VERSION]), s1, s2]), complex: false };
  }
  SERVER_VERSION.copy(s1, 4);
  signBlock(s1, found.scheme, SERVER_KEY.subarray(0, SERVER_KEY_TEXT_LEN));
  const clientDigest = c1.subarray(found.pos, found.pos + DIGEST_LEN);
  const s2 = randomBytes(HANDSHAKE_SIZE);
  hmac(hmac(SERVER_KEY, clientDigest), s2.subarray(0, HANDSHAKE_SIZE - DIGEST_LEN)).copy(s2, HANDSHAKE_SIZE - DIGEST_LEN);
  return { response: Buffer.concat([Buffer.from([RTMP_VERSION]), s1, s2]), complex: true };
}

/** clientHello builds C0+C1; with complex it carries a client digest (digest block first). */
export function clientHello(complex: boolean): { c0c1: Buffer; c1: Buffer } {
  const c1 = randomBytes(HANDSHAKE_SIZE);
  time4().copy(c1, 0);
  if (complex) {
    CLIENT_VERSION.copy(c1, 4);
    signBlock(c1, SCHEMES[1], CLIENT_KEY.subarray(0, CLIENT_KEY_TEXT_LEN));
  } else {
    c1.fill(0, 4, 8);
  }
  return { c0c1: Buffer.concat([Buffer.from([RTMP_VERSION]), c1]), c1 };
}

export class HandshakeError extends Error {
  constructor(message: string) {
    super(`rtmp handshake: ${message}`);
    this.name = 'HandshakeError';
  }
}

/**
 * clientFinish checks S0+S1+S2 against our C1 and builds C2. When S1 carries a server
 * digest (version byte >= 3), S2 must be signed for our digest, as ffmpeg checks too.
 */
export function clientFinish(c1: Buffer, s0s1s2: Buffer, complex: boolean): Buffer {
  if (s0s1s2.length !== 1 + 2 * HANDSHAKE_SIZE) throw new HandshakeError('bad S0S1S2 length');
  if (s0s1s2[0] !== RTMP_VERSION) throw new HandshakeError(`unsupported version ${s0s1s2[0]}`);
  const s1 = s0s1s2.subarray(1, 1 + HANDSHAKE_SIZE);
  const s2 = s0s1s2.subarray(1 + HANDSHAKE_SIZE);
  if (complex && s1.readUInt8(4) >= 3) {
    const found = findDigest(s1, SERVER_KEY.subarray(0, SERVER_KEY_TEXT_LEN));
    if (!found) throw new HandshakeError('S1 digest does not verify');
    const ourPos = digestPos(c1, SCHEMES[1]);
    const expect = hmac(hmac(SERVER_KEY, c1.subarray(ourPos, ourPos + DIGEST_LEN)), s2.subarray(0, HANDSHAKE_SIZE - DIGEST_LEN));
    if (!expect.equals(s2.subarray(HANDSHAKE_SIZE - DIGEST_LEN))) throw new HandshakeError('S2 signature mismatch');
    const c2 = randomBytes(HANDSHAKE_SIZE);
    const serverDigest = s1.subarray(found.pos, found.pos + DIGEST_LEN);
    hmac(hmac(CLIENT_KEY, serverDigest), c2.subarray(0, HANDSHAKE_SIZE - DIGEST_LEN)).copy(c2, HANDSHAKE_SIZE - DIGEST_LEN);
    return c2;
  }
  return Buffer.from(s1); // simple handshake: C2 echoes S1
}
