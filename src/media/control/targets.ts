/**
 * Restream target addresses: parsing, normalising and the SSRF check. Pure apart from the
 * DNS lookup in checkTargetHost, so the rules are unit-tested without sockets.
 *
 * A target is stored as a base URL `rtmp[s]://host[:port]/app[/more]` plus a stream key; the key
 * is the last path segment of what is pushed to (`{url}/{streamKey}`) and is never shown in full.
 * A URL given with the key in it (`rtmp://host/app/KEY`) is split the same way, so the secret
 * is masked whichever way the owner pasted it.
 */
import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { RTMPS_DEFAULT_PORT } from '../rtmp/client.js';

export const RESTREAM_URL_MAX_LENGTH = 1024;
export const RESTREAM_KEY_MAX_LENGTH = 512;
export const RESTREAM_NAME_MAX_LENGTH = 64;
/** Keys this short are masked whole; longer ones show their last MASK_SHOWN_CHARS characters. */
const MASK_MIN_LENGTH_TO_SHOW = 12;
const MASK_SHOWN_CHARS = 4;
const MASK = '****';

/** TargetError names what is wrong with a target address (code = the API error code). */
export class TargetError extends Error {
  constructor(readonly code: 'invalid_restream_url' | 'restream_target_forbidden', message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

export interface NormalisedTarget {
  /** rtmp://host[:port]/app[/...] or rtmps://host:port/app[/...] (port always named) without the stream key, no trailing slash. */
  url: string;
  streamKey: string;
  /** The hostname (brackets stripped from IPv6 literals). */
  host: string;
}

// Keys and path segments: printable, no spaces, no fragment marker.
const KEY_RE = /^[\x21-\x22\x24-\x7e]+$/;

/**
 * normaliseTarget checks an owner-given URL (and optional separate stream key) and splits it
 * into base URL and key. rtmps:// (RTMP over TLS) targets get their port written out, 443 when
 * none is given, so the stored address says where the push goes.
 */
export function normaliseTarget(rawUrl: string, rawKey?: string | null): NormalisedTarget {
  const input = rawUrl.trim();
  if (!input || input.length > RESTREAM_URL_MAX_LENGTH) throw new TargetError('invalid_restream_url', `url: 1-${RESTREAM_URL_MAX_LENGTH} characters`);
  let u: URL;
  try {
    u = new URL(input);
  } catch {
    throw new TargetError('invalid_restream_url', 'url: not a URL (expected rtmp[s]://host[:port]/app/streamkey)');
  }
  if (u.protocol !== 'rtmp:' && u.protocol !== 'rtmps:') throw new TargetError('invalid_restream_url', `url: ${u.protocol.replace(/:$/, '')}:// is not a restream protocol; use rtmp:// or rtmps://`);
  if (u.username || u.password) throw new TargetError('invalid_restream_url', 'url: user names and passwords in the URL are not supported');
  if (u.hash) throw new TargetError('invalid_restream_url', 'url: no #fragment');
  if (!u.hostname) throw new TargetError('invalid_restream_url', 'url: needs a host');
  const segments = u.pathname.split('/').filter((s) => s.length > 0);
  for (const s of segments) if (!KEY_RE.test(s)) throw new TargetError('invalid_restream_url', 'url: path segments must be printable characters without spaces');
  let key = rawKey?.trim() ?? '';
  if (rawKey !== undefined && rawKey !== null && !key) throw new TargetError('invalid_restream_url', 'streamKey: empty');
  if (key) {
    if (key.length > RESTREAM_KEY_MAX_LENGTH || !KEY_RE.test(key) || key.startsWith('/')) throw new TargetError('invalid_restream_url', `streamKey: 1-${RESTREAM_KEY_MAX_LENGTH} printable characters, no spaces`);
    if (u.search) throw new TargetError('invalid_restream_url', 'url: no ?query when the stream key is given separately (put it in streamKey)');
    if (segments.length < 1) throw new TargetError('invalid_restream_url', 'url: needs the application path (rtmp[s]://host/app)');
  } else {
    if (segments.length < 2) throw new TargetError('invalid_restream_url', 'url: needs a stream key, as streamKey or as the last path segment (rtmp[s]://host/app/streamkey)');
    key = segments.pop()! + u.search;
    if (key.length > RESTREAM_KEY_MAX_LENGTH) throw new TargetError('invalid_restream_url', `streamKey: at most ${RESTREAM_KEY_MAX_LENGTH} characters`);
  }
  const tls = u.protocol === 'rtmps:';
  // URL drops a port equal to the scheme's default; rtmp(s) is not a special scheme, so u.port is as given.
  const port = u.port ? `:${u.port}` : tls ? `:${RTMPS_DEFAULT_PORT}` : '';
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { url: `${tls ? 'rtmps' : 'rtmp'}://${u.hostname}${port}/${segments.join('/')}`, streamKey: key, host };
}

/** pushUrlOf is the address a push relay publishes to. */
export function pushUrlOf(t: { url: string; streamKey: string }): string {
  return `${t.url}/${t.streamKey}`;
}

/** maskKey shows at most the last few characters of a secret (none of a short one). */
export function maskKey(key: string | null | undefined): string | null {
  if (!key) return null;
  return key.length >= MASK_MIN_LENGTH_TO_SHOW ? MASK + key.slice(-MASK_SHOWN_CHARS) : MASK;
}

/** scrubKey removes a stream key from a message (remote servers may echo the stream name). */
export function scrubKey(text: string, key: string): string {
  return key ? text.split(key).join(maskKey(key)!) : text;
}

/**
 * Addresses a restream must not reach unless media.restream.allowPrivateTargets: this host,
 * private networks, link-local (cloud metadata at 169.254.169.254), CGNAT, multicast, reserved.
 */
const FORBIDDEN = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) FORBIDDEN.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) FORBIDDEN.addSubnet(net, bits, 'ipv6');

/** isForbiddenAddress says whether an IP literal is loopback, private, link-local or otherwise not public. */
export function isForbiddenAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return FORBIDDEN.check(ip, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped) return FORBIDDEN.check(mapped[1]!, 'ipv4');
    return FORBIDDEN.check(ip, 'ipv6');
  }
  return true;
}

export type Resolver = (host: string) => Promise<string[]>;

const dnsResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * checkTargetHost refuses a host that is (or resolves to) a forbidden address. It runs when a
 * target is saved and again before each push connects, so a DNS answer that changed since is
 * caught too (a small window between this lookup and the connect's own remains).
 */
export async function checkTargetHost(host: string, allowPrivate: boolean, resolve: Resolver = dnsResolver): Promise<void> {
  if (allowPrivate) return;
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) throw new TargetError('restream_target_forbidden', `url: ${host} is this machine; restream targets must be public addresses`);
  let addresses: string[];
  if (isIP(h)) addresses = [h];
  else {
    try {
      addresses = await resolve(h);
    } catch (err) {
      throw new TargetError('invalid_restream_url', `url: cannot resolve ${host} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  if (addresses.length === 0) throw new TargetError('invalid_restream_url', `url: ${host} has no address`);
  const bad = addresses.find(isForbiddenAddress);
  if (bad) throw new TargetError('restream_target_forbidden', `url: ${host} is a loopback, private or link-local address (${bad}); restream targets must be public`);
}
