/**
 * PublishRateLimiter is a token bucket per user (per client for anonymous connections) across
 * every channel: one connection cannot publish faster than `perSecond` however many channels it
 * spreads its publications over. The buckets live in an LRU map so made-up users cost bounded memory.
 */
import { LruMap } from './lru.js';

/** PublishRateOptions: refill rate, bucket size and how many publishers are tracked. */
export interface PublishRateOptions {
  perSecond: number;
  burst: number;
  maxTracked: number;
  now?: () => number;
}

/** PublishRateLimiter answers whether a publisher may publish now (and takes a token if so). */
export class PublishRateLimiter {
  private readonly buckets: LruMap<string, { tokens: number; at: number }>;
  private readonly now: () => number;

  constructor(private readonly opts: PublishRateOptions) {
    this.buckets = new LruMap(opts.maxTracked);
    this.now = opts.now ?? Date.now;
  }

  /** take spends one token of the publisher's bucket; false when it is empty. */
  take(publisher: string): boolean {
    const now = this.now();
    const b = this.buckets.get(publisher) ?? { tokens: this.opts.burst, at: now };
    b.tokens = Math.min(this.opts.burst, b.tokens + ((now - b.at) / 1000) * this.opts.perSecond);
    b.at = now;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(publisher, b);
    return ok;
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** publisherKey is who a publication is counted against: the user, or the client when anonymous. */
export function publisherKey(user: string, clientId: string): string {
  return user !== '' ? 'u:' + user : 'c:' + clientId;
}
