/**
 * Emulation session ids: `<random id>.<mac>`, the MAC an HMAC-SHA256 of the node and the id under
 * the chat token secret every node shares. Any node can tell a session a node issued from a forged
 * one without asking, so forged ids are refused before they cost a broker message.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

/** MAC_BYTES is the length of the truncated MAC (128 bits). */
const MAC_BYTES = 16;
/** MAX_SESSION_CHARS bounds what is hashed for an id given by a client. */
export const MAX_SESSION_CHARS = 128;
/** DOMAIN keeps these MACs apart from every other use of the secret. */
const DOMAIN = 'onair-chat-emulation-session\n';

function mac(secret: string, node: string, id: string): Buffer {
  return createHmac('sha256', secret)
    .update(DOMAIN + node + '\n' + id)
    .digest()
    .subarray(0, MAC_BYTES);
}

/** issueSession makes a session id for a connection held by `node`. */
export function issueSession(secret: string, node: string): string {
  const id = randomUUID();
  return id + '.' + mac(secret, node, id).toString('base64url');
}

/** sessionIssuedBy tells whether `session` was issued for `node` by a node sharing `secret`. */
export function sessionIssuedBy(secret: string, node: string, session: string): boolean {
  if (session.length > MAX_SESSION_CHARS) return false;
  const dot = session.indexOf('.');
  if (dot <= 0) return false;
  // Compared as text: decoding would ignore the spare bits of the last base64 character, so
  // several spellings would pass for one MAC.
  const given = Buffer.from(session.slice(dot + 1));
  const want = Buffer.from(mac(secret, node, session.slice(0, dot)).toString('base64url'));
  return given.length === want.length && timingSafeEqual(given, want);
}
