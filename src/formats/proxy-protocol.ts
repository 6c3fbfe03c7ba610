/**
 * The PROXY protocol header (HAProxy's "PROXY protocol" specification, versions 1 and 2): a load
 * balancer that forwards a TCP connection sends it first, so the server learns the client's
 * address instead of the balancer's. Pure: bytes in, values out.
 *
 * Version 1 is one text line, at most 107 bytes with its CRLF:
 *
 *   "PROXY" SP ("TCP4" | "TCP6") SP src-addr SP dst-addr SP src-port SP dst-port CRLF
 *   "PROXY" SP "UNKNOWN" [anything up to CRLF] CRLF
 *
 * Version 2 is binary:
 *
 *   signature   12 bytes  0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A
 *   ver_cmd      1 byte   high nibble 2 (version), low nibble 0 LOCAL / 1 PROXY
 *   fam          1 byte   high nibble 0 UNSPEC / 1 INET / 2 INET6 / 3 UNIX, low nibble 0 UNSPEC / 1 STREAM / 2 DGRAM
 *   len          2 bytes  big-endian length of what follows
 *   addresses            INET: src 4, dst 4, src port 2, dst port 2; INET6: 16, 16, 2, 2; UNIX: 108, 108
 *   TLVs                 the rest of len (skipped)
 */
import { isIPv4, isIPv6 } from 'node:net';

/** PROXY_V1_PREFIX starts every version 1 header. */
export const PROXY_V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** PROXY_V2_SIGNATURE starts every version 2 header. */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** V1_MAX_BYTES is the longest version 1 line the specification allows, CRLF included. */
export const V1_MAX_BYTES = 107;
/** V2_FIXED_BYTES is the signature, ver_cmd, fam and len. */
export const V2_FIXED_BYTES = 16;
/** V2_MAX_PAYLOAD_BYTES bounds what we buffer after the fixed part (addresses and TLVs) as a memory limit. */
export const V2_MAX_PAYLOAD_BYTES = 4096;

const V2_VERSION = 0x2;
const V2_CMD_LOCAL = 0x0;
const V2_CMD_PROXY = 0x1;
const V2_FAM_UNSPEC = 0x0;
const V2_FAM_INET = 0x1;
const V2_FAM_INET6 = 0x2;
const V2_FAM_UNIX = 0x3;
const V2_TRANSPORT_UNSPEC = 0x0;
const V2_TRANSPORT_STREAM = 0x1;
const V2_INET_BYTES = 12;
const V2_INET6_BYTES = 36;
const V2_UNIX_BYTES = 216;
const CR = 0x0d;
const LF = 0x0a;

/** Endpoint is one side of the proxied connection. */
export interface Endpoint {
  address: string;
  port: number;
}

/**
 * ProxyHeader is a decoded header. `proxied` carries the client (source) and the address it
 * connected to (destination); `local` means the header vouches for no client (v1 UNKNOWN, v2 LOCAL
 * such as the balancer's own health check, or a v2 family other than INET/INET6): the receiver
 * keeps the connection's own address.
 */
export type ProxyHeader =
  | { version: 1 | 2; kind: 'proxied'; family: 'ipv4' | 'ipv6'; source: Endpoint; destination: Endpoint }
  | { version: 1 | 2; kind: 'local' };

/** ProxyProtocolError names what is wrong with a header. */
export class ProxyProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProxyProtocolError';
  }
}

/** ParseResult is 'more' until a whole header arrived; then the header and the bytes after it. */
export type ParseResult = { done: false } | { done: true; header: ProxyHeader; rest: Buffer };

/**
 * sniffProxyHeader says whether bytes that start a connection are (the start of) a PROXY header:
 * 'yes', 'no', or 'maybe' while they are a shorter prefix of either signature.
 */
export function sniffProxyHeader(head: Buffer): 'yes' | 'no' | 'maybe' {
  for (const sig of [PROXY_V1_PREFIX, PROXY_V2_SIGNATURE]) {
    const n = Math.min(head.length, sig.length);
    if (n > 0 && head.subarray(0, n).equals(sig.subarray(0, n))) return head.length >= sig.length ? 'yes' : 'maybe';
  }
  return head.length === 0 ? 'maybe' : 'no';
}

/** ProxyHeaderParser is a push parser: feed it the first bytes of a connection, split anywhere. */
export class ProxyHeaderParser {
  private buf: Buffer = Buffer.alloc(0);
  private finished = false;

  /** push adds bytes; throws ProxyProtocolError on a malformed header, and once done takes no more. */
  push(chunk: Buffer): ParseResult {
    if (this.finished) throw new ProxyProtocolError('the header was already read');
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const r = parseProxyHeader(this.buf);
    if (r.done) {
      this.finished = true;
      this.buf = Buffer.alloc(0);
    }
    return r;
  }
}

/** parseProxyHeader reads a header from the start of `buf`, or says more bytes are needed. */
export function parseProxyHeader(buf: Buffer): ParseResult {
  const kind = sniffProxyHeader(buf);
  if (kind === 'no') throw new ProxyProtocolError('the connection did not start with a PROXY protocol header');
  if (kind === 'maybe') return { done: false };
  return buf[0] === PROXY_V1_PREFIX[0] ? parseV1(buf) : parseV2(buf);
}

function parseV1(buf: Buffer): ParseResult {
  const limit = Math.min(buf.length, V1_MAX_BYTES);
  let end = -1;
  for (let i = PROXY_V1_PREFIX.length; i < limit; i++) {
    if (buf[i] === LF) {
      if (buf[i - 1] !== CR) throw new ProxyProtocolError('PROXY v1: the line must end with CRLF');
      end = i + 1;
      break;
    }
  }
  if (end < 0) {
    if (buf.length >= V1_MAX_BYTES) throw new ProxyProtocolError(`PROXY v1: no CRLF within ${V1_MAX_BYTES} bytes`);
    return { done: false };
  }
  const line = buf.toString('latin1', 0, end - 2);
  const rest = buf.subarray(end);
  const parts = line.split(' ');
  if (parts[1] === 'UNKNOWN') return { done: true, header: { version: 1, kind: 'local' }, rest };
  if (parts.length !== 6) throw new ProxyProtocolError('PROXY v1: expected "PROXY TCP4|TCP6 SRC DST SRCPORT DSTPORT"');
  const [, proto, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const valid = proto === 'TCP4' ? isIPv4 : proto === 'TCP6' ? isIPv6 : null;
  if (!valid) throw new ProxyProtocolError(`PROXY v1: unknown protocol "${proto.slice(0, 16)}"`);
  if (!valid(src) || !valid(dst)) throw new ProxyProtocolError(`PROXY v1: an address is not ${proto === 'TCP4' ? 'IPv4' : 'IPv6'}`);
  return {
    done: true,
    header: { version: 1, kind: 'proxied', family: proto === 'TCP4' ? 'ipv4' : 'ipv6', source: { address: src, port: v1Port(sport) }, destination: { address: dst, port: v1Port(dport) } },
    rest,
  };
}

function v1Port(s: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(s) || Number(s) > 65535) throw new ProxyProtocolError(`PROXY v1: "${s.slice(0, 8)}" is not a port`);
  return Number(s);
}

function parseV2(buf: Buffer): ParseResult {
  if (buf.length < V2_FIXED_BYTES) return { done: false };
  const verCmd = buf.readUInt8(12);
  const fam = buf.readUInt8(13);
  const len = buf.readUInt16BE(14);
  if (verCmd >> 4 !== V2_VERSION) throw new ProxyProtocolError(`PROXY v2: version ${verCmd >> 4} is not 2`);
  const command = verCmd & 0x0f;
  if (command !== V2_CMD_LOCAL && command !== V2_CMD_PROXY) throw new ProxyProtocolError(`PROXY v2: unknown command ${command}`);
  if (len > V2_MAX_PAYLOAD_BYTES) throw new ProxyProtocolError(`PROXY v2: ${len} bytes of addresses and TLVs is over the ${V2_MAX_PAYLOAD_BYTES}-byte limit`);
  if (buf.length < V2_FIXED_BYTES + len) return { done: false };
  const body = buf.subarray(V2_FIXED_BYTES, V2_FIXED_BYTES + len);
  const rest = buf.subarray(V2_FIXED_BYTES + len);
  const family = fam >> 4;
  const transport = fam & 0x0f;
  if (family > V2_FAM_UNIX) throw new ProxyProtocolError(`PROXY v2: unknown address family ${family}`);
  if (transport > 0x2) throw new ProxyProtocolError(`PROXY v2: unknown transport ${transport}`);
  const need = family === V2_FAM_INET ? V2_INET_BYTES : family === V2_FAM_INET6 ? V2_INET6_BYTES : family === V2_FAM_UNIX ? V2_UNIX_BYTES : 0;
  if (len < need) throw new ProxyProtocolError(`PROXY v2: ${len} bytes is too short for the address block (${need})`);
  // LOCAL (the balancer speaking for itself) and families without an IP keep the socket's address.
  if (command === V2_CMD_LOCAL || family === V2_FAM_UNSPEC || family === V2_FAM_UNIX) return { done: true, header: { version: 2, kind: 'local' }, rest };
  if (transport !== V2_TRANSPORT_STREAM && transport !== V2_TRANSPORT_UNSPEC) throw new ProxyProtocolError('PROXY v2: a datagram header on a stream connection');
  const ipv4 = family === V2_FAM_INET;
  const n = ipv4 ? 4 : 16;
  const format = ipv4 ? formatIPv4 : formatIPv6;
  return {
    done: true,
    header: {
      version: 2, kind: 'proxied', family: ipv4 ? 'ipv4' : 'ipv6',
      source: { address: format(body.subarray(0, n)), port: body.readUInt16BE(2 * n) },
      destination: { address: format(body.subarray(n, 2 * n)), port: body.readUInt16BE(2 * n + 2) },
    },
    rest,
  };
}

/** encodeProxyHeaderV1 writes a version 1 line (a `local` header becomes "PROXY UNKNOWN"). */
export function encodeProxyHeaderV1(h: ProxyHeader): Buffer {
  if (h.kind === 'local') return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const proto = h.family === 'ipv4' ? 'TCP4' : 'TCP6';
  return Buffer.from(`PROXY ${proto} ${h.source.address} ${h.destination.address} ${h.source.port} ${h.destination.port}\r\n`, 'latin1');
}

/** encodeProxyHeaderV2 writes a version 2 header without TLVs (a `local` header is LOCAL, UNSPEC). */
export function encodeProxyHeaderV2(h: ProxyHeader): Buffer {
  if (h.kind === 'local') return Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([(V2_VERSION << 4) | V2_CMD_LOCAL, 0x00, 0x00, 0x00])]);
  const ipv4 = h.family === 'ipv4';
  const parse = ipv4 ? parseIPv4 : parseIPv6;
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(h.source.port, 0);
  ports.writeUInt16BE(h.destination.port, 2);
  const body = Buffer.concat([parse(h.source.address), parse(h.destination.address), ports]);
  const fixed = Buffer.from([(V2_VERSION << 4) | V2_CMD_PROXY, ((ipv4 ? V2_FAM_INET : V2_FAM_INET6) << 4) | V2_TRANSPORT_STREAM, 0, 0]);
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, fixed, body]);
}

function formatIPv4(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** formatIPv6 writes RFC 5952 text: lower-case hex, the longest run of zero groups as "::", mapped IPv4 dotted. */
export function formatIPv6(b: Buffer): string {
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${formatIPv4(b.subarray(12))}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

function parseIPv4(s: string): Buffer {
  if (!isIPv4(s)) throw new ProxyProtocolError(`"${s}" is not an IPv4 address`);
  return Buffer.from(s.split('.').map(Number));
}

/** parseIPv6 turns IPv6 text (with "::" and a dotted IPv4 tail allowed) into 16 bytes. */
export function parseIPv6(s: string): Buffer {
  if (!isIPv6(s)) throw new ProxyProtocolError(`"${s}" is not an IPv6 address`);
  let text = s;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    tail.push((v4.readUInt8(0) << 8) | v4.readUInt8(1), (v4.readUInt8(2) << 8) | v4.readUInt8(3));
    // Keep a "::" that ends right before the dotted part ("::ffff:1.2.3.4" → "::ffff", "::1.2.3.4" → "::").
    text = text[lastColon - 1] === ':' ? text.slice(0, lastColon + 1) : text.slice(0, lastColon);
  }
  const halves = text.split('::');
  const groupsOf = (t: string | undefined): number[] => (t ? t.split(':').map((g) => parseInt(g, 16)) : []);
  const head = groupsOf(halves[0]);
  const back = groupsOf(halves[1]);
  const zeros = halves.length === 2 ? 8 - tail.length - head.length - back.length : 0;
  const groups = [...head, ...new Array<number>(zeros).fill(0), ...back, ...tail];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}
