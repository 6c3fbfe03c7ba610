/**
 * Emoji effects: viewers react, the server rate-limits each user with a token
 * bucket and sums reactions per channel over a short window, then publishes
 * ONE `{type:'effects', window_ms, counts}` to `effects:{channel}` per window.
 * Aggregation is per node: N chat nodes publish up to N times per window per
 * channel, and a client adds up what it receives.
 */
import type { ServerPublisher } from '../hooks.js';
import type { Logger } from '../../observability/logger.js';
import type { SupportersMetrics } from './metrics.js';

/** BUILTIN_EFFECTS are the effects every deployment has: 🎉 ❤️ 💰 🚀 👏. */
export const BUILTIN_EFFECTS = ['party', 'hearts', 'money', 'rocket', 'clap'] as const;
/** EFFECT_EMOJI maps built-in effect names to the emoji clients may also send. */
export const EFFECT_EMOJI: Record<string, string> = { '🎉': 'party', '❤️': 'hearts', '❤': 'hearts', '💰': 'money', '🚀': 'rocket', '👏': 'clap' };
/** EFFECT_CODE_POINTS maps the code point of each effect emoji to its effect (❤️ is ❤ plus a variation selector). */
const EFFECT_CODE_POINTS: ReadonlyMap<number, string> = new Map([...Object.entries(EFFECT_EMOJI)].map(([emoji, name]) => [emoji.codePointAt(0) ?? 0, name]));
/** MAX_EMOJI_PER_MESSAGE bounds what one chat message can fire, whatever its length (the user's bucket bounds it again). */
export const MAX_EMOJI_PER_MESSAGE = 10;

/** effectsInText counts the effect emoji a chat message contains ("🎉🎉 축하" → party 2), at most MAX_EMOJI_PER_MESSAGE in all. */
export function effectsInText(text: string): Map<string, number> {
  const out = new Map<string, number>();
  let total = 0;
  for (const ch of text) {
    const name = EFFECT_CODE_POINTS.get(ch.codePointAt(0) ?? 0);
    if (name === undefined) continue;
    out.set(name, (out.get(name) ?? 0) + 1);
    if (++total >= MAX_EMOJI_PER_MESSAGE) break;
  }
  return out;
}

/** EFFECTS_PREFIX is the namespace of aggregated effects channels. */
export const EFFECTS_PREFIX = 'effects:';
/** IDLE_BUCKET_MS: a bucket untouched this long is full again and can be forgotten. */
const IDLE_BUCKET_MS = 60_000;
/** STOPPED_RETRY_MS is the retry hint while the node shuts down (the client reconnects elsewhere). */
const STOPPED_RETRY_MS = 1000;
/** SWEEP_EVERY_MS bounds how often idle buckets are swept. */
const SWEEP_EVERY_MS = 10_000;

/** EffectsPublication is what subscribers of `effects:{channel}` receive. */
export interface EffectsPublication {
  type: 'effects';
  window_ms: number;
  counts: Record<string, number>;
  /** Sum of counts. */
  total: number;
  /** End of the window, epoch ms. */
  ts: number;
}

/** TokenBucket refills `rate` tokens per second up to `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(private readonly rate: number, private readonly burst: number, now: number) {
    this.tokens = burst;
    this.last = now;
  }

  /** take removes up to n whole tokens and answers how many it got. */
  take(n: number, now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    const got = Math.min(n, Math.floor(this.tokens));
    this.tokens -= got;
    return got;
  }

  /** retryAfterMs is how long until one token is available. */
  retryAfterMs(): number {
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }

  idleSince(): number {
    return this.last;
  }
}

export interface EffectsOptions {
  publisher?: ServerPublisher;
  logger: Logger;
  metrics: SupportersMetrics;
  windowMs: number;
  ratePerSecond: number;
  burst: number;
  custom?: string[];
  now?: () => number;
}

export interface ReactResult {
  /** Reactions accepted into this window (0 when rate limited). */
  accepted: number;
  /** When nothing was accepted: ms until the next reaction would be. */
  retryAfterMs?: number;
}

/** EffectsAggregator owns the per-user buckets and per-channel counters of this node. */
export class EffectsAggregator {
  readonly effects: ReadonlySet<string>;
  private readonly buckets = new Map<string, TokenBucket>();
  private pending = new Map<string, Map<string, number>>();
  private timer: NodeJS.Timeout | null = null;
  private lastSweep = 0;
  private stopped = false;
  private readonly now: () => number;
  private inflight = new Set<Promise<unknown>>();
  private limitedPending = 0;

  constructor(private readonly opts: EffectsOptions) {
    this.effects = new Set([...BUILTIN_EFFECTS, ...(opts.custom ?? [])]);
    this.now = opts.now ?? Date.now;
  }

  setPublisher(p: ServerPublisher | undefined): void {
    this.opts.publisher = p;
  }

  /** normalize maps an emoji or name to a known effect name, or undefined. */
  normalize(effect: unknown): string | undefined {
    if (typeof effect !== 'string') return undefined;
    const name = EFFECT_EMOJI[effect] ?? effect;
    return this.effects.has(name) ? name : undefined;
  }

  /**
   * react counts `count` reactions of one user (or anonymous client) to a
   * channel's effect, as many as the user's bucket allows.
   */
  react(channel: string, userKey: string, effect: string, count = 1): ReactResult {
    if (this.stopped) return { accepted: 0, retryAfterMs: STOPPED_RETRY_MS };
    const now = this.now();
    let b = this.buckets.get(userKey);
    if (!b) {
      b = new TokenBucket(this.opts.ratePerSecond, this.opts.burst, now);
      this.buckets.set(userKey, b);
    }
    const got = b.take(Math.max(1, Math.floor(count)), now);
    // Metrics are added once per window in flush(): prom-client's label hashing costs more than the rest of react().
    if (got < count) this.limitedPending += count - got;
    // The window opens with its first reaction; an idle node runs no timer.
    if (!this.timer) this.timer = setTimeout(() => void this.flush(), this.opts.windowMs);
    if (got === 0) return { accepted: 0, retryAfterMs: b.retryAfterMs() };
    let counts = this.pending.get(channel);
    if (!counts) this.pending.set(channel, (counts = new Map<string, number>()));
    counts.set(effect, (counts.get(effect) ?? 0) + got);
    return { accepted: got };
  }

  /** flush publishes one publication per channel that had reactions in the window. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = new Map();
    const ts = this.now();
    const sends: Promise<unknown>[] = [];
    if (this.limitedPending > 0) this.opts.metrics.rateLimited.inc(this.limitedPending);
    this.limitedPending = 0;
    const byEffect = new Map<string, number>();
    for (const counts of batch.values()) for (const [e, n] of counts) byEffect.set(e, (byEffect.get(e) ?? 0) + n);
    for (const [e, n] of byEffect) this.opts.metrics.reactions.inc({ effect: e }, n);
    for (const [channel, counts] of batch) {
      const pub: EffectsPublication = { type: 'effects', window_ms: this.opts.windowMs, counts: Object.fromEntries(counts), total: [...counts.values()].reduce((a, b) => a + b, 0), ts };
      const p = this.opts.publisher;
      if (!p) continue;
      this.opts.metrics.publications.inc();
      const send = p.publish(EFFECTS_PREFIX + channel, pub).catch((err) => this.opts.logger.warn({ err, channel }, 'effects: publish failed'));
      this.inflight.add(send);
      void send.finally(() => this.inflight.delete(send));
      sends.push(send);
    }
    if (ts - this.lastSweep > SWEEP_EVERY_MS) {
      this.lastSweep = ts;
      for (const [k, b] of this.buckets) if (ts - b.idleSince() > IDLE_BUCKET_MS) this.buckets.delete(k);
    }
    return Promise.all(sends).then(() => undefined);
  }

  /** stop publishes what is pending and refuses further reactions. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.flush();
    await Promise.all([...this.inflight]);
    this.buckets.clear();
  }

  /** bucketCount is exposed for tests (idle buckets are swept). */
  bucketCount(): number {
    return this.buckets.size;
  }
}
