/**
 * Connection limits: per-client-address and global counters for one listener. A connection
 * takes a lease on accept and gives it back on close; a lease given back twice counts once.
 * IPv6 clients are grouped per /64 (one subscriber usually holds a whole /64), IPv4 per address.
 * Addresses in the exemption list skip the per-address cap but still count toward the global
 * one, which protects the process whoever connects. Pure: no sockets, timers or metrics here.
 */
import { BlockList, isIP } from 'node:net';
import { isAddressOrCidr, normalizeAddress } from '../http/client-address.js';

/** LimitSettings are one listener's caps; 0 means no cap. */
export interface LimitSettings {
  perIp: number;
  global: number;
}

/** LimitRefusal names the cap that refused a connection (the `reason` label of onair_connections_refused_total). */
export type LimitRefusal = 'per_ip' | 'global';

/** Lease is one admitted connection; release gives its slots back (only the first call counts). */
export interface Lease {
  readonly key: string;
  release(): void;
}

/** Admission is acquire's answer: a lease, or the cap that refused. */
export type Admission = { ok: true; lease: Lease } | { ok: false; reason: LimitRefusal; key: string };

/** ipv6Words expands an IPv6 address (no zone, maybe with an embedded IPv4 tail) to its eight 16-bit words. */
function ipv6Words(address: string): number[] {
  let a = address;
  const tail = a.lastIndexOf(':');
  if (a.includes('.', tail)) {
    // "::ffff:1.2.3.4" style tail: turn the dotted quad into two words.
    const v4 = a.slice(tail + 1).split('.').map(Number);
    a = `${a.slice(0, tail + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const [head, rest] = a.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = rest === undefined ? [] : rest ? rest.split(':') : [];
  const fill = rest === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(fill).fill('0'), ...right].map((w) => parseInt(w, 16));
}

/** limitKey is the counter a client address falls under: the IPv4 address, or the IPv6 /64 as "xxxx:xxxx:xxxx:xxxx::/64". */
export function limitKey(address: string): string {
  const a = normalizeAddress(address);
  if (isIP(a) !== 6) return a;
  const words = ipv6Words(a);
  return `${words.slice(0, 4).map((w) => w.toString(16)).join(':')}::/64`;
}

/** exemptionOf turns `limits.exempt` into a predicate; a bad entry throws naming it (config validation catches it first). */
export function exemptionOf(entries: readonly string[]): (address: string) => boolean {
  if (entries.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of entries) {
    if (!isAddressOrCidr(entry)) throw new Error(`limits.exempt: "${entry}" is not an IP address or CIDR block`);
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

/** ConnectionLimiter counts one listener's open connections per client address and in all. */
export class ConnectionLimiter {
  private readonly perKey = new Map<string, number>();
  private total = 0;
  private readonly exempt: (address: string) => boolean;

  constructor(readonly settings: LimitSettings, exempt: readonly string[] = []) {
    this.exempt = exemptionOf(exempt);
  }

  /** size is the number of open leases. */
  get size(): number {
    return this.total;
  }

  /** countOf is the number of open leases under an address's key (its /64 for IPv6). */
  countOf(address: string): number {
    return this.perKey.get(limitKey(address)) ?? 0;
  }

  /** acquire admits a connection from `address` when both caps allow it. */
  acquire(address: string): Admission {
    const key = limitKey(address);
    const { perIp, global } = this.settings;
    if (global > 0 && this.total >= global) return { ok: false, reason: 'global', key };
    const current = this.perKey.get(key) ?? 0;
    if (perIp > 0 && current >= perIp && !this.exempt(address)) return { ok: false, reason: 'per_ip', key };
    this.perKey.set(key, current + 1);
    this.total++;
    let released = false;
    return {
      ok: true,
      lease: {
        key,
        release: () => {
          if (released) return;
          released = true;
          this.total--;
          const n = (this.perKey.get(key) ?? 1) - 1;
          if (n <= 0) this.perKey.delete(key);
          else this.perKey.set(key, n);
        },
      },
    };
  }
}
