/**
 * EmulationRate bounds the POST /emulation requests a node takes: a token bucket per client
 * address and one per session (the same keyed, LRU-bounded buckets as chat.publishRate). Every
 * command of an http_stream / sse client is one such request, so without a cap one client could
 * make a node parse and route requests as fast as it can send them. Over a cap the request is
 * refused with 429 before its body is decoded; the SDK drops that command only (its call
 * times out) and keeps its session.
 */
import { PublishRateLimiter } from '../publish-rate.js';

/** EmulationRateOptions are chat.emulationRate: refill per second and bucket size, per session and per address. */
export interface EmulationRateOptions {
  perSessionPerSecond: number;
  perSessionBurst: number;
  perIpPerSecond: number;
  perIpBurst: number;
  /** Buckets of each kind kept at once (least recently seen forgotten first). */
  maxTracked: number;
  now?: () => number;
}

/** EmulationRate answers whether one more emulation request of an address, or of a session, may be taken now. */
export class EmulationRate {
  private readonly perIp: PublishRateLimiter;
  private readonly perSession: PublishRateLimiter;

  constructor(opts: EmulationRateOptions) {
    const common = { maxTracked: opts.maxTracked, ...(opts.now ? { now: opts.now } : {}) };
    this.perIp = new PublishRateLimiter({ perSecond: opts.perIpPerSecond, burst: opts.perIpBurst, ...common });
    this.perSession = new PublishRateLimiter({ perSecond: opts.perSessionPerSecond, burst: opts.perSessionBurst, ...common });
  }

  /** takeIp spends a token of the address's bucket; false when it is empty. */
  takeIp(ip: string): boolean {
    return this.perIp.take(ip);
  }

  /** takeSession spends a token of the session's bucket; false when it is empty. */
  takeSession(session: string): boolean {
    return this.perSession.take(session);
  }

  /** tracked counts the buckets held (both kinds), bounded by 2 × maxTracked. */
  get tracked(): number {
    return this.perIp.size + this.perSession.size;
  }
}
