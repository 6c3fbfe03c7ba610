/**
 * RTSP client authentication (RFC 2326 uses HTTP's): Basic (RFC 7617) and Digest (RFC 2617 /
 * RFC 7616: MD5, MD5-sess, SHA-256, SHA-256-sess; qop=auth or no qop). Pure apart from the
 * random cnonce, which callers may pass in.
 *
 *   WWW-Authenticate: Digest realm="r", nonce="n", qop="auth", opaque="o", algorithm=MD5[, stale=TRUE]
 *   Authorization:    Digest username="u", realm="r", nonce="n", uri="/p", response="…"[, qop=auth, nc=00000001, cnonce="c"][, opaque="o"][, algorithm=MD5]
 *
 *   HA1 = H(user:realm:password)            (-sess: H(H(user:realm:password):nonce:cnonce))
 *   HA2 = H(method:uri)
 *   response = H(HA1:nonce:nc:cnonce:qop:HA2)   with qop; H(HA1:nonce:HA2) without
 *
 * URLs carry the credentials (`rtsp://user:pass@host/…`, percent-encoded); maskUrl is what logs and
 * error messages show instead.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface RtspCredentials {
  username: string;
  password: string;
}

export interface AuthChallenge {
  /** Lower-case scheme: 'basic', 'digest', … */
  scheme: string;
  /** Parameters by lower-case name, quotes removed. */
  params: Record<string, string>;
}

export interface DigestInput {
  username: string;
  password: string;
  realm: string;
  nonce: string;
  method: string;
  uri: string;
  /** 'auth' or absent (RFC 2069 compatibility). */
  qop?: string;
  /** 8 hex digits, e.g. '00000001'. */
  nc?: string;
  cnonce?: string;
  /** MD5 (default), MD5-sess, SHA-256, SHA-256-sess. */
  algorithm?: string;
}

const TOKEN_RE = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const DIGEST_ALGORITHMS: Record<string, string> = { 'MD5': 'md5', 'MD5-SESS': 'md5', 'SHA-256': 'sha256', 'SHA-256-SESS': 'sha256' };
const NC_DIGITS = 8;
const CNONCE_BYTES = 8;

/**
 * parseWwwAuthenticate reads a WWW-Authenticate value holding one or more challenges (the RTSP
 * parser joins repeated headers with ", ", so `Digest realm="a", nonce="b", Basic realm="a"` is two).
 */
export function parseWwwAuthenticate(value: string): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  let at = 0;
  const skip = (chars: RegExp) => {
    while (at < value.length && chars.test(value.charAt(at))) at++;
  };
  let cur: AuthChallenge | null = null;
  while (at < value.length) {
    skip(/[\s,]/);
    if (at >= value.length) break;
    TOKEN_RE.lastIndex = at;
    const m = TOKEN_RE.exec(value);
    if (!m) {
      at++; // a stray character: skip it
      continue;
    }
    const token = m[0];
    at += token.length;
    skip(/[ \t]/);
    if (value[at] === '=' && cur) {
      // auth-param (or token68 padding, which we ignore)
      at++;
      skip(/[ \t]/);
      let v = '';
      if (value[at] === '"') {
        at++;
        while (at < value.length && value[at] !== '"') {
          if (value[at] === '\\' && at + 1 < value.length) at++;
          v += value[at];
          at++;
        }
        at++;
      } else {
        const start = at;
        while (at < value.length && value[at] !== ',' && !/\s/.test(value.charAt(at))) at++;
        v = value.slice(start, at);
      }
      cur.params[token.toLowerCase()] = v;
      continue;
    }
    if (value[at] === '=') {
      at++;
      continue;
    }
    cur = { scheme: token.toLowerCase(), params: {} };
    out.push(cur);
  }
  return out;
}

function hashHex(algorithm: string, text: string): string {
  return createHash(algorithm).update(text, 'utf8').digest('hex');
}

/** digestResponse computes the `response=` value of a Digest Authorization. */
export function digestResponse(i: DigestInput): string {
  const alg = (i.algorithm ?? 'MD5').toUpperCase();
  const h = DIGEST_ALGORITHMS[alg];
  if (!h) throw new Error(`digest algorithm ${alg} is not supported`);
  let ha1 = hashHex(h, `${i.username}:${i.realm}:${i.password}`);
  if (alg.endsWith('-SESS')) ha1 = hashHex(h, `${ha1}:${i.nonce}:${i.cnonce ?? ''}`);
  const ha2 = hashHex(h, `${i.method}:${i.uri}`);
  if (i.qop) return hashHex(h, `${ha1}:${i.nonce}:${i.nc ?? ''}:${i.cnonce ?? ''}:${i.qop}:${ha2}`);
  return hashHex(h, `${ha1}:${i.nonce}:${ha2}`);
}

/** basicAuthorization is the Authorization value for Basic. */
export function basicAuthorization(c: RtspCredentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

function quote(v: string): string {
  return `"${v.replace(/["\\]/g, (ch) => `\\${ch}`)}"`;
}

/** pickChallenge prefers Digest (a supported algorithm, qop auth or none) over Basic; null when neither is usable. */
export function pickChallenge(challenges: AuthChallenge[]): AuthChallenge | null {
  const digest = challenges.find((c) => {
    if (c.scheme !== 'digest' || !c.params['nonce']) return false;
    if (!DIGEST_ALGORITHMS[(c.params['algorithm'] ?? 'MD5').toUpperCase()]) return false;
    const qop = c.params['qop'];
    return qop === undefined || qop.split(',').some((q) => q.trim().toLowerCase() === 'auth');
  });
  return digest ?? challenges.find((c) => c.scheme === 'basic') ?? null;
}

/**
 * RtspAuthenticator answers one server's challenge for each request of a connection: Basic, or
 * Digest with an increasing nonce count for the challenge's nonce.
 */
export class RtspAuthenticator {
  private nc = 0;

  constructor(readonly challenge: AuthChallenge, private readonly creds: RtspCredentials, private readonly cnonce: () => string = () => randomBytes(CNONCE_BYTES).toString('hex')) {}

  /** authorization gives the Authorization header for a request. */
  authorization(method: string, uri: string): string {
    if (this.challenge.scheme === 'basic') return basicAuthorization(this.creds);
    const p = this.challenge.params;
    const qop = p['qop'] !== undefined ? 'auth' : undefined;
    const algorithm = p['algorithm'];
    const realm = p['realm'] ?? '';
    const nonce = p['nonce'] ?? '';
    const parts = [`username=${quote(this.creds.username)}`, `realm=${quote(realm)}`, `nonce=${quote(nonce)}`, `uri=${quote(uri)}`];
    let nc: string | undefined;
    let cnonce: string | undefined;
    if (qop) {
      nc = (++this.nc).toString(16).padStart(NC_DIGITS, '0');
      cnonce = this.cnonce();
    }
    const response = digestResponse({ ...this.creds, realm, nonce, method, uri, ...(qop ? { qop, nc: nc!, cnonce: cnonce! } : {}), ...(algorithm ? { algorithm } : {}) });
    parts.push(`response=${quote(response)}`);
    if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${quote(cnonce!)}`);
    if (p['opaque'] !== undefined) parts.push(`opaque=${quote(p['opaque'])}`);
    if (algorithm) parts.push(`algorithm=${algorithm}`);
    return `Digest ${parts.join(', ')}`;
  }
}

/** isStale tells a Digest challenge that only refreshes the nonce (the credentials were right). */
export function isStale(c: AuthChallenge): boolean {
  return c.scheme === 'digest' && (c.params['stale'] ?? '').toLowerCase() === 'true';
}

/** splitUrlCredentials takes `user:pass@` out of an rtsp:// URL (percent-decoded); the URL comes back without them. */
export function splitUrlCredentials(url: string): { url: string; credentials?: RtspCredentials } {
  const u = new URL(url);
  if (!u.username && !u.password) return { url };
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const credentials = { username: decode(u.username), password: decode(u.password) };
  u.username = '';
  u.password = '';
  return { url: u.toString(), credentials };
}

/** maskUrl hides a URL's user and password (`rtsp://***@host/…`) for logs and errors; non-URLs are returned masked up to the '@'. */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@');
}
