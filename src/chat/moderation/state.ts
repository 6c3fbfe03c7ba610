/**
 * ModerationState holds the short-lived counters every node must agree on:
 * per-user rate limits, slow-mode timestamps, duplicate and unique-chat
 * windows and each user's recent message ids; and it carries cache
 * invalidations between nodes. Memory (one node) and Redis implementations
 * share one contract and one test suite:
 *
 * - `admit` is atomic: it checks rate → slow → duplicate → unique and
 *   records nothing unless all pass; then it records all of them (and the
 *   message id) together. A refused message never consumes a slot.
 * - Windows are measured with the caller's clock (`now`), in milliseconds.
 * - `publishInvalidation` reaches every subscriber, including the sender's own.
 */
import { EventEmitter } from 'node:events';

export interface AdmitRequest {
  now: number;
  /** At most `limit` messages per window that opens with the first message. */
  rate?: { key: string; limit: number; windowMs: number };
  /** One message per interval. */
  slow?: { key: string; intervalMs: number };
  /** The same user's identical text, refused within the window. */
  duplicate?: { key: string; windowMs: number };
  /** Anyone's identical text in the channel, refused within the window. */
  unique?: { key: string; windowMs: number };
  /** Remember the message id in a capped list (for "delete this user's recent messages"). */
  recent?: { key: string; id: string; max: number; ttlMs: number };
}

export type AdmitRefusal = 'rate' | 'slow' | 'duplicate' | 'unique';
export type AdmitResult = { ok: true } | { ok: false; reason: AdmitRefusal; retryMs: number };

/** Invalidation tells nodes to drop cached rules of a channel ('*' = every channel), or one user's roles. */
export interface Invalidation {
  channel: string;
  user?: string;
}

export interface ModerationState {
  readonly name: string;
  admit(req: AdmitRequest): Promise<AdmitResult>;
  /** recentIds lists remembered message ids, newest first. */
  recentIds(key: string): Promise<string[]>;
  publishInvalidation(msg: Invalidation): Promise<void>;
  /** onInvalidation subscribes; the returned function unsubscribes. */
  onInvalidation(handler: (msg: Invalidation) => void): () => void;
  close(): Promise<void>;
}

const SWEEP_EVERY = 4096;
/** SLOW_KEEP_MS: slow-mode timestamps are kept this long, so a longer interval set later still counts from the last message. */
export const SLOW_KEEP_MS = 3_600_000;

/** MemoryModerationState keeps the counters in this process (single node; tests; benchmarks). */
export class MemoryModerationState implements ModerationState {
  readonly name = 'memory';
  private readonly values = new Map<string, { v: number; exp: number }>();
  private readonly lists = new Map<string, { ids: string[]; exp: number }>();
  private readonly events = new EventEmitter();
  private ops = 0;

  private live(key: string, now: number): { v: number; exp: number } | undefined {
    const e = this.values.get(key);
    if (e && e.exp <= now) {
      this.values.delete(key);
      return undefined;
    }
    return e;
  }

  async admit(r: AdmitRequest): Promise<AdmitResult> {
    return this.admitSync(r);
  }

  /** admitSync is admit without the promise, for callers on the hot path that know the state is local. */
  admitSync(r: AdmitRequest): AdmitResult {
    const now = r.now;
    if (++this.ops % SWEEP_EVERY === 0) this.sweep(now);
    if (r.rate) {
      const e = this.live(r.rate.key, now);
      if (e && e.v >= r.rate.limit) return { ok: false, reason: 'rate', retryMs: e.exp - now };
    }
    if (r.slow) {
      const e = this.live(r.slow.key, now);
      if (e && e.v + r.slow.intervalMs > now) return { ok: false, reason: 'slow', retryMs: e.v + r.slow.intervalMs - now };
    }
    if (r.duplicate) {
      const e = this.live(r.duplicate.key, now);
      if (e) return { ok: false, reason: 'duplicate', retryMs: e.exp - now };
    }
    if (r.unique) {
      const e = this.live(r.unique.key, now);
      if (e) return { ok: false, reason: 'unique', retryMs: e.exp - now };
    }
    if (r.rate) {
      const e = this.live(r.rate.key, now);
      if (e) e.v++;
      else this.values.set(r.rate.key, { v: 1, exp: now + r.rate.windowMs });
    }
    if (r.slow) this.values.set(r.slow.key, { v: now, exp: now + Math.max(r.slow.intervalMs, SLOW_KEEP_MS) });
    if (r.duplicate) this.values.set(r.duplicate.key, { v: 1, exp: now + r.duplicate.windowMs });
    if (r.unique) this.values.set(r.unique.key, { v: 1, exp: now + r.unique.windowMs });
    if (r.recent) {
      let l = this.lists.get(r.recent.key);
      if (!l || l.exp <= now) this.lists.set(r.recent.key, (l = { ids: [], exp: 0 }));
      l.ids.unshift(r.recent.id);
      if (l.ids.length > r.recent.max) l.ids.length = r.recent.max;
      l.exp = now + r.recent.ttlMs;
    }
    return { ok: true };
  }

  async recentIds(key: string): Promise<string[]> {
    const l = this.lists.get(key);
    return l && l.exp > Date.now() ? [...l.ids] : [];
  }

  async publishInvalidation(msg: Invalidation): Promise<void> {
    this.events.emit('invalidate', msg);
  }

  onInvalidation(handler: (msg: Invalidation) => void): () => void {
    this.events.on('invalidate', handler);
    return () => this.events.off('invalidate', handler);
  }

  private sweep(now: number): void {
    for (const [k, e] of this.values) if (e.exp <= now) this.values.delete(k);
    for (const [k, l] of this.lists) if (l.exp <= now) this.lists.delete(k);
  }

  async close(): Promise<void> {
    this.events.removeAllListeners();
    this.values.clear();
    this.lists.clear();
  }
}
