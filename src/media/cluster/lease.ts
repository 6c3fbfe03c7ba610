/**
 * ChannelLease: who is a channel's primary, decided by one Redis key (docs/scale-out.md,
 * "Hot standby").
 *
 *   {prefix}:cluster:lease:{channel}   "{token}:{nodeId}"   PX ttlMs   the holder
 *   {prefix}:cluster:fence:{channel}   integer                        the last token handed out
 *
 * acquire is SET NX with a fencing token taken from the counter, in one Lua script, so two
 * nodes racing for a free lease get one winner and distinct tokens. The counter never goes
 * back: it is raised to Redis's clock in microseconds when lower, so even a Redis that lost its
 * data hands out larger tokens than before. renew and release compare the whole value first
 * (compare-and-set), so a node whose lease expired and was taken can neither extend nor delete
 * the new holder's.
 */
import type { Redis } from 'ioredis';

export const LEASE_KEY_PREFIX = 'cluster:lease:';
export const FENCE_KEY_PREFIX = 'cluster:fence:';

// KEYS[1] lease, KEYS[2] fence; ARGV[1] node id, ARGV[2] ttl ms.
// Returns {1, token} when taken, {0, current value} when held.
const ACQUIRE = `
local cur = redis.call('GET', KEYS[1])
if cur then return {0, cur} end
local t = redis.call('INCR', KEYS[2])
local now = redis.call('TIME')
local floor = tonumber(now[1]) * 1000000 + tonumber(now[2])
if t < floor then
  t = floor
  redis.call('SET', KEYS[2], string.format('%d', t))
end
redis.call('SET', KEYS[1], string.format('%d', t) .. ':' .. ARGV[1], 'PX', ARGV[2])
return {1, string.format('%d', t)}
`;

// KEYS[1] lease; ARGV[1] expected value, ARGV[2] ttl ms.
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

// KEYS[1] lease; ARGV[1] expected value.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

/** LeaseHolder is a lease's current value: the node holding it and its fencing token. */
export interface LeaseHolder {
  node: string;
  /** Decimal string: tokens pass 2^53, so they are compared as big integers (compareTokens). */
  token: string;
}

export type AcquireResult = { acquired: true; token: string } | { acquired: false; holder: LeaseHolder | null };

/** compareTokens orders two fencing tokens (negative: a is older). */
export function compareTokens(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** parseHolder reads a lease value "{token}:{node}" (null when it is not one). */
export function parseHolder(raw: string | null): LeaseHolder | null {
  if (raw === null) return null;
  const i = raw.indexOf(':');
  if (i <= 0 || i === raw.length - 1) return null;
  const token = raw.slice(0, i);
  if (!/^\d+$/.test(token)) return null;
  return { token, node: raw.slice(i + 1) };
}

export interface ChannelLeaseOptions {
  redis: () => Redis;
  nodeId: string;
  /** How long a lease lives without a renewal (cluster.heartbeatTimeoutMs). */
  ttlMs: number;
  /** Key prefix, e.g. 'onair:control' (the control bus's), without a trailing colon. */
  prefix: string;
}

/** ChannelLease takes, renews, releases and reads channel leases for one node. Every method throws when Redis fails. */
export class ChannelLease {
  constructor(private readonly o: ChannelLeaseOptions) {}

  get nodeId(): string {
    return this.o.nodeId;
  }

  get ttlMs(): number {
    return this.o.ttlMs;
  }

  keyOf(channel: string): string {
    return `${this.o.prefix}:${LEASE_KEY_PREFIX}${channel}`;
  }

  private fenceOf(channel: string): string {
    return `${this.o.prefix}:${FENCE_KEY_PREFIX}${channel}`;
  }

  private valueOf(token: string): string {
    return `${token}:${this.o.nodeId}`;
  }

  /** acquire takes the channel's lease when nobody holds it; otherwise says who does. */
  async acquire(channel: string): Promise<AcquireResult> {
    const r = (await this.o.redis().eval(ACQUIRE, 2, this.keyOf(channel), this.fenceOf(channel), this.o.nodeId, String(this.o.ttlMs))) as [number, string];
    if (r[0] === 1) return { acquired: true, token: r[1] };
    return { acquired: false, holder: parseHolder(r[1]) };
  }

  /** renew extends the lease for ttlMs if this node still holds it with this token. */
  async renew(channel: string, token: string): Promise<boolean> {
    return (await this.o.redis().eval(RENEW, 1, this.keyOf(channel), this.valueOf(token), String(this.o.ttlMs))) === 1;
  }

  /** release gives the lease up if this node still holds it with this token. */
  async release(channel: string, token: string): Promise<boolean> {
    return (await this.o.redis().eval(RELEASE, 1, this.keyOf(channel), this.valueOf(token))) === 1;
  }

  /** holder reads who holds the channel's lease now (null: free). */
  async holder(channel: string): Promise<LeaseHolder | null> {
    return parseHolder(await this.o.redis().get(this.keyOf(channel)));
  }
}
