import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** SEALED_PREFIX names the format version, so a later scheme can sit beside this one. */
const SEALED_PREFIX = 'v1.';
const ALGORITHM = 'aes-256-gcm';
/** GCM's recommended 96-bit nonce, fresh for every seal. */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** HKDF info: the secret may be shared with nothing else, but the label keeps derived keys apart if it ever is. */
const HKDF_INFO = 'onair stream key v1';

/**
 * StreamKeyCipher seals stream keys at rest with AES-256-GCM under a key derived from
 * streamKey.secret, so the owner can read the key again while a copy of the database alone
 * cannot. The channel id is the associated data: a sealed key moved to another row fails to open.
 */
export class StreamKeyCipher {
  private readonly key: Buffer;

  constructor(secret: string) {
    if (secret.length < 16) throw new Error('streamKey.secret must be at least 16 characters');
    this.key = Buffer.from(hkdfSync('sha256', secret, '', HKDF_INFO, KEY_BYTES));
  }

  /** seal encrypts a stream key for one channel: `v1.` + base64url(iv | tag | ciphertext). */
  seal(channelId: string, streamKey: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(channelId));
    const body = Buffer.concat([cipher.update(streamKey, 'utf8'), cipher.final()]);
    return SEALED_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** open decrypts what seal made for the same channel, or gives undefined (another secret, another row, damaged). */
  open(channelId: string, sealed: string): string | undefined {
    if (!sealed.startsWith(SEALED_PREFIX)) return undefined;
    const raw = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64url');
    if (raw.length <= IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv(ALGORITHM, this.key, raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(channelId));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
