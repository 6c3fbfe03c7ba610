/**
 * TokenBucket is a small per-key rate limiter: a burst of `burst` takes, refilled at `perSecond`.
 * Keys come from clients (addresses, channel names), so the table is capped: past `maxKeys` the
 * least recently used key is forgotten (it starts again with a full bucket).
 */
export class TokenBucket {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly burst: number, private readonly perSecond: number, private readonly maxKeys = 10_000) {}

  get size(): number {
    return this.buckets.size;
  }

  take(key: string, now = Date.now()): boolean {
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    this.buckets.delete(key); // re-inserted last: Map order is the LRU order
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
