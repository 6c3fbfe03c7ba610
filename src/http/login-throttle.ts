/**
 * LoginThrottle slows password guessing: failed logins are counted per client address and per
 * username; past a number of free failures each further failure blocks that key for a time that
 * doubles (up to a maximum). While a key is blocked, logins for it are answered 429 at once,
 * without checking the password. A success clears that username's count only: the address keeps
 * its count, so logging into one's own account does not buy more guesses at others.
 *
 * IPv6 clients are counted per /64 (one subscriber's block). Both tables are LRU maps with a cap,
 * and an entry without a failure for `forgetAfterMs` counts as gone.
 */
import { isIP } from 'node:net';
import { parseIPv6 } from '../formats/proxy-protocol.js';

export interface LoginThrottleOptions {
  freeFailuresPerUsername: number;
  freeFailuresPerIp: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  forgetAfterMs: number;
  maxTrackedEntries: number;
}

interface Failures {
  count: number;
  lastAt: number;
  blockedUntil: number;
}

/** LruMap is a Map capped at `max` entries that drops the least recently used first. */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();
  constructor(readonly max: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }

  delete(key: K): void {
    this.map.delete(key);
  }
}

/** addressKey counts IPv4 clients by address and IPv6 clients by their /64. */
export function addressKey(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  return `${parseIPv6(ip).subarray(0, 8).toString('hex')}/64`;
}

export class LoginThrottle {
  private readonly byIp: LruMap<string, Failures>;
  private readonly byUsername: LruMap<string, Failures>;

  constructor(private readonly o: LoginThrottleOptions, private readonly now: () => number = Date.now) {
    this.byIp = new LruMap(o.maxTrackedEntries);
    this.byUsername = new LruMap(o.maxTrackedEntries);
  }

  /** retryAfterMs answers how long a login for this address and username must wait (0: go ahead). */
  retryAfterMs(ip: string, username: string): number {
    const now = this.now();
    return Math.max(this.blockedFor(this.byIp, addressKey(ip), now), this.blockedFor(this.byUsername, username.toLowerCase(), now));
  }

  /** failed counts a wrong password; answers how long the next try must wait (0: none yet). */
  failed(ip: string, username: string): number {
    const now = this.now();
    const a = this.count(this.byIp, addressKey(ip), this.o.freeFailuresPerIp, now);
    const b = this.count(this.byUsername, username.toLowerCase(), this.o.freeFailuresPerUsername, now);
    return Math.max(a, b);
  }

  /** succeeded clears the username's failures (not the address's). */
  succeeded(username: string): void {
    this.byUsername.delete(username.toLowerCase());
  }

  /** tracked is the number of entries per table (for tests and metrics). */
  tracked(): { ips: number; usernames: number } {
    return { ips: this.byIp.size, usernames: this.byUsername.size };
  }

  private fresh(table: LruMap<string, Failures>, key: string, now: number): Failures | undefined {
    const f = table.get(key);
    if (f && now - f.lastAt > this.o.forgetAfterMs && now >= f.blockedUntil) {
      table.delete(key);
      return undefined;
    }
    return f;
  }

  private blockedFor(table: LruMap<string, Failures>, key: string, now: number): number {
    const f = this.fresh(table, key, now);
    return f ? Math.max(0, f.blockedUntil - now) : 0;
  }

  private count(table: LruMap<string, Failures>, key: string, free: number, now: number): number {
    const f = this.fresh(table, key, now) ?? { count: 0, lastAt: now, blockedUntil: 0 };
    f.count++;
    f.lastAt = now;
    if (f.count > free) {
      const doublings = Math.min(f.count - free - 1, 30);
      f.blockedUntil = now + Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** doublings);
    }
    table.set(key, f);
    return Math.max(0, f.blockedUntil - now);
  }
}
