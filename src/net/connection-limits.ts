/**
 * Connection limits: per-client-address and global counters for one listener. A connection
 * takes a lease on accept and gives it back on close; a lease given back twice counts once.
 * IPv6 clients are grouped per /64 (one subscriber usually holds a whole /64), IPv4 per address.
 * Addresses in the exemption list skip the per-address cap but still count toward the global
 * one, which protects the process whoever connects. Pure: no sockets, timers or metrics here.
 */
import { normalizeAddress, trustOf } from '../http/client-address.js';
import { addressKey } from '../http/login-throttle.js';

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

/** limitKey is the counter a client address falls under: the IPv4 address, or the IPv6 /64 (as the login throttle counts). */
export function limitKey(address: string): string {
  return addressKey(normalizeAddress(address));
}

/** exemptionOf turns `limits.exempt` into a predicate (the same address matching as http.trustProxy). */
export function exemptionOf(entries: readonly string[]): (address: string) => boolean {
  return trustOf(entries);
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

  /** refusalOf names the cap that would refuse a connection from `address` now, or null when both allow it (takes nothing). */
  refusalOf(address: string): LimitRefusal | null {
    const { perIp, global } = this.settings;
    if (global > 0 && this.total >= global) return 'global';
    if (perIp > 0 && this.countOf(address) >= perIp && !this.exempt(address)) return 'per_ip';
    return null;
  }

  /** acquire admits a connection from `address` when both caps allow it. */
  acquire(address: string): Admission {
    const key = limitKey(address);
    const refusal = this.refusalOf(address);
    if (refusal !== null) return { ok: false, reason: refusal, key };
    const current = this.perKey.get(key) ?? 0;
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
