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
 * Restream targets must be globally reachable unicast addresses (unless
 * media.restream.allowPrivateTargets). IPv4: everything except the ranges below (this network,
 * private, CGNAT, loopback, link-local with cloud metadata at 169.254.169.254, IETF protocol
 * assignments, documentation, 6to4 relay, benchmarking, multicast, reserved, broadcast). IPv6: only
 * 2000::/3 counts as global, less its non-global parts; every other form (::/96 IPv4-compatible
 * such as ::127.0.0.1, 64:ff9b::/96 NAT64, fec0::/10 site-local, ::ffff:0:0:0/96, fc00::/7,
 * fe80::/10, multicast) is refused. IPv4-mapped ::ffff:a.b.c.d follows the IPv4 rule.
 */
const IPV4_NOT_GLOBAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) IPV4_NOT_GLOBAL.addSubnet(net, bits, 'ipv4');
/** Parts of 2000::/3 that are not global unicast: IETF protocol assignments (Teredo, ORCHID, benchmarking), documentation, 6to4. */
const IPV6_GLOBAL = new BlockList();
IPV6_GLOBAL.addSubnet('2000::', 3, 'ipv6');
const IPV6_NOT_GLOBAL = new BlockList();
for (const [net, bits] of [['2001::', 23], ['2001:db8::', 32], ['2002::', 16], ['3fff::', 20]] as const) IPV6_NOT_GLOBAL.addSubnet(net, bits, 'ipv6');

/** ipv6Bytes expands an IPv6 literal (any compression, an embedded dotted IPv4 tail) to 16 bytes; null when it is not one. */
export function ipv6Bytes(ip: string): number[] | null {
  if (isIP(ip) !== 6) return null;
  let text = ip.toLowerCase();
  const tail: number[] = [];
  const [, prefix, v4] = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text) ?? [];
  if (prefix !== undefined && v4 !== undefined) {
    for (const part of v4.split('.')) tail.push(Number(part));
    text = prefix.endsWith('::') ? prefix : prefix.slice(0, -1);
  }
  const [head, rest] = text.includes('::') ? text.split('::') as [string, string] : [text, null];
  const groups = (g: string) => (g ? g.split(':').map((x) => parseInt(x, 16)) : []);
  const left = groups(head);
  const right = rest === null ? [] : groups(rest);
  const fill = 8 - tail.length / 2 - left.length - right.length;
  const all = [...left, ...new Array<number>(rest === null ? 0 : fill).fill(0), ...right];
  const bytes = all.flatMap((g) => [g >> 8, g & 0xff]).concat(tail);
  return bytes.length === 16 ? bytes : null;
}

/** isForbiddenAddress says whether an IP literal is anything but a global unicast address (see above); a non-literal is forbidden too. */
export function isForbiddenAddress(ip: string): boolean {
  if (isIP(ip) === 4) return IPV4_NOT_GLOBAL.check(ip, 'ipv4');
  const b = ipv6Bytes(ip);
  if (!b) return true;
  // IPv4-mapped (::ffff:a.b.c.d, in any spelling): the socket reaches that IPv4 address.
  if (b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return IPV4_NOT_GLOBAL.check(b.slice(12).join('.'), 'ipv4');
  const canonical = Array.from({ length: 8 }, (_, i) => (((b[2 * i] ?? 0) << 8) | (b[2 * i + 1] ?? 0)).toString(16)).join(':');
  return !IPV6_GLOBAL.check(canonical, 'ipv6') || IPV6_NOT_GLOBAL.check(canonical, 'ipv6');
}

export type Resolver = (host: string) => Promise<string[]>;

const dnsResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * resolveTargetHost resolves a target's host once, refuses it when any of its addresses is not
 * global unicast, and returns the address to connect to. The push connects to exactly that
 * address on every attempt (the name stays for TLS SNI and the RTMP tcUrl), so a DNS answer that
 * changes after the check (rebinding) is never used. With allowPrivate, nothing is checked and
 * null is returned: connect by name.
 */
export async function resolveTargetHost(host: string, allowPrivate: boolean, resolve: Resolver = dnsResolver): Promise<string | null> {
  if (allowPrivate) return null;
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
  const [first] = addresses;
  if (first === undefined) throw new TargetError('invalid_restream_url', `url: ${host} has no address`);
  const bad = addresses.find(isForbiddenAddress);
  if (bad) throw new TargetError('restream_target_forbidden', `url: ${host} is a loopback, private, link-local or otherwise not public address (${bad}); restream targets must be public`);
  return first;
}

/** checkTargetHost refuses a host that is (or resolves to) an address that is not global unicast; see resolveTargetHost. */
export async function checkTargetHost(host: string, allowPrivate: boolean, resolve: Resolver = dnsResolver): Promise<void> {
  await resolveTargetHost(host, allowPrivate, resolve);
}
