/**
 * RedisModerationState shares the moderation counters between nodes through
 * one Redis (ONAIR_REDIS_URL). `admit` is one Lua script, so a message costs
 * one round trip and the check-then-record contract of ModerationState holds
 * atomically across nodes. Invalidations travel on a pub/sub channel.
 */
import type { Redis } from 'ioredis';
import { newRedis } from '../../net/redis-client.js';
import { SLOW_KEEP_MS, type AdmitRefusal, type AdmitRequest, type AdmitResult, type Invalidation, type ModerationState } from './state.js';

const PREFIX = 'onair:mod:';
const INVALIDATE_CHANNEL = PREFIX + 'invalidate';

// KEYS: rate, slow, duplicate, unique, recent.
// ARGV: now, rateLimit, rateWindowMs, slowMs, duplicateMs, uniqueMs, recentId, recentMax, recentTtlMs (0 / '' = unused).
const ADMIT_LUA = `
local now = tonumber(ARGV[1])
local rateLimit = tonumber(ARGV[2])
local slowMs = tonumber(ARGV[4])
local dupMs = tonumber(ARGV[5])
local uniqMs = tonumber(ARGV[6])
if rateLimit > 0 then
  local c = tonumber(redis.call('GET', KEYS[1]) or '0')
  if c >= rateLimit then return {1, redis.call('PTTL', KEYS[1])} end
end
if slowMs > 0 then
  local last = redis.call('GET', KEYS[2])
  if last then
    local wait = tonumber(last) + slowMs - now
    if wait > 0 then return {2, wait} end
  end
end
if dupMs > 0 then
  local t = redis.call('PTTL', KEYS[3])
  if t > 0 then return {3, t} end
end
if uniqMs > 0 then
  local t = redis.call('PTTL', KEYS[4])
  if t > 0 then return {4, t} end
end
if rateLimit > 0 then
  local c = redis.call('INCR', KEYS[1])
  if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
end
if slowMs > 0 then redis.call('SET', KEYS[2], ARGV[1], 'PX', math.max(slowMs, ${SLOW_KEEP_MS})) end
if dupMs > 0 then redis.call('SET', KEYS[3], '1', 'PX', dupMs) end
if uniqMs > 0 then redis.call('SET', KEYS[4], '1', 'PX', uniqMs) end
if ARGV[7] ~= '' then
  redis.call('LPUSH', KEYS[5], ARGV[7])
  redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[8]) - 1)
  redis.call('PEXPIRE', KEYS[5], ARGV[9])
end
return {0, 0}
`;

const REFUSALS: AdmitRefusal[] = ['rate', 'slow', 'duplicate', 'unique'];
const UNUSED = PREFIX + 'unused';

type ScriptedRedis = Redis & { onairModAdmit(...args: (string | number)[]): Promise<[number, number]> };

export class RedisModerationState implements ModerationState {
  readonly name = 'redis';
  private readonly r: ScriptedRedis;
  private sub: Redis | undefined;
  private readonly handlers = new Set<(msg: Invalidation) => void>();

  constructor(private readonly url: string) {
    // Lazy: the first command connects, so building a node (compose) opens no socket before start.
    this.r = newRedis(url, { maxRetriesPerRequest: 3, lazyConnect: true }) as ScriptedRedis;
    this.r.defineCommand('onairModAdmit', { numberOfKeys: 5, lua: ADMIT_LUA });
  }

  async admit(q: AdmitRequest): Promise<AdmitResult> {
    const [code, ms] = await this.r.onairModAdmit(
      q.rate ? PREFIX + q.rate.key : UNUSED,
      q.slow ? PREFIX + q.slow.key : UNUSED,
      q.duplicate ? PREFIX + q.duplicate.key : UNUSED,
      q.unique ? PREFIX + q.unique.key : UNUSED,
      q.recent ? PREFIX + q.recent.key : UNUSED,
      q.now,
      q.rate?.limit ?? 0, q.rate?.windowMs ?? 0,
      q.slow?.intervalMs ?? 0, q.duplicate?.windowMs ?? 0, q.unique?.windowMs ?? 0,
      q.recent?.id ?? '', q.recent?.max ?? 0, q.recent?.ttlMs ?? 0,
    );
    if (code === 0) return { ok: true };
    const reason = REFUSALS[code - 1];
    if (reason === undefined) throw new Error(`the admit script answered an unknown code ${code}`);
    return { ok: false, reason, retryMs: Math.max(1, Number(ms)) };
  }

  async recentIds(key: string): Promise<string[]> {
    return this.r.lrange(PREFIX + key, 0, -1);
  }

  async publishInvalidation(msg: Invalidation): Promise<void> {
    await this.r.publish(INVALIDATE_CHANNEL, JSON.stringify(msg));
  }

  onInvalidation(handler: (msg: Invalidation) => void): () => void {
    this.handlers.add(handler);
    if (!this.sub) {
      this.sub = newRedis(this.url, { maxRetriesPerRequest: null });
      this.sub.on('message', (_ch: string, payload: string) => {
        let msg: Invalidation;
        try { msg = JSON.parse(payload) as Invalidation; } catch { return; }
        for (const h of this.handlers) h(msg);
      });
      this.sub.on('error', () => undefined);
      void this.sub.subscribe(INVALIDATE_CHANNEL).catch(() => undefined);
    }
    return () => { this.handlers.delete(handler); };
  }

  /** ready resolves once the invalidation subscription is active (tests wait for it). */
  async ready(): Promise<void> {
    if (!this.sub) return;
    if (this.sub.status !== 'ready') await new Promise<void>((res) => this.sub!.once('ready', () => res()));
    // subscribe() was issued at creation; a PING round trip orders after it.
    await this.sub.ping().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.handlers.clear();
    await Promise.allSettled([this.r.quit(), this.sub?.quit()]);
  }
}
