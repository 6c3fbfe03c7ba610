/**
 * Client addresses: the one place that decides which address a request or connection comes
 * from. It is the socket's peer address, unless that peer is a trusted proxy: then the proxy's
 * word (the X-Forwarded-For hop it appended, or its PROXY protocol header) is taken, hop by hop,
 * until an address no trusted proxy vouches for. Per-IP limits and the addresses the owner sees
 * all come from here, so a node behind the cluster's load balancer sees its real clients.
 */
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/** TrustSetting is `http.trustProxy` / `media.proxyProtocol.trusted`: nobody, everybody, or these addresses and CIDR blocks. */
export type TrustSetting = boolean | readonly string[];

/** Trust answers whether a peer address is a proxy we believe. */
export type Trust = (address: string) => boolean;

/** normalizeAddress writes an address the way limits and logs compare it: IPv4-mapped IPv6 as plain IPv4, no zone, lower case. */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  let a = address.trim().toLowerCase();
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  if (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4) a = a.slice(7);
  return a;
}

/** isAddressOrCidr accepts "203.0.113.7", "10.0.0.0/8", "::1" and "fd00::/8". */
export function isAddressOrCidr(entry: string): boolean {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return false;
  if (slash < 0) return true;
  const bits = entry.slice(slash + 1);
  return /^(0|[1-9][0-9]{0,2})$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** trustOf turns a trust setting into a predicate; a bad entry throws naming it (config validation catches it first). */
export function trustOf(setting: TrustSetting): Trust {
  if (setting === true) return () => true;
  if (setting === false || setting.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of setting) {
    if (!isAddressOrCidr(entry)) throw new Error(`"${entry}" is not an IP address or CIDR block`);
    const slash = entry.indexOf('/');
    const address = normalizeAddress(slash < 0 ? entry : entry.slice(0, slash));
    const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (slash < 0) list.addAddress(address, type);
    else list.addSubnet(address, Number(entry.slice(slash + 1)), type);
  }
  return (address) => {
    const a = normalizeAddress(address);
    const family = isIP(a);
    return family !== 0 && list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/**
 * clientAddress picks the client's address from the socket's peer and an X-Forwarded-For
 * header: starting at the peer, while the current address is trusted, step to the next hop from
 * the right. The first untrusted address is the client; a malformed hop stops the walk at the
 * last address a trusted proxy gave; with every hop trusted, the left-most one is the client.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trust: Trust): string {
  let current = normalizeAddress(peer);
  if (!trust(current) || forwardedFor === undefined) return current;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeAddress(hops[i]);
    if (isIP(hop) === 0) return current;
    current = hop;
    if (!trust(current)) return current;
  }
  return current;
}

const CLIENT_ADDRESS = Symbol('onair.clientAddress');
type Stamped = IncomingMessage & { [CLIENT_ADDRESS]?: string };

/** stampClientAddress records a request's client address once, where it arrives (the HTTP app's upgrade dispatch). */
export function stampClientAddress(req: IncomingMessage, trust: Trust): string {
  const address = clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trust);
  (req as Stamped)[CLIENT_ADDRESS] = address;
  return address;
}

/**
 * clientAddressOf answers a raw request's client address: the stamped one (WebSocket upgrades are
 * stamped before any handler runs), else the socket's. Fastify routes use `request.clientIp`, which the
 * HTTP app computes with the same trust.
 */
export function clientAddressOf(req: IncomingMessage): string {
  return (req as Stamped)[CLIENT_ADDRESS] ?? normalizeAddress(req.socket.remoteAddress);
}
