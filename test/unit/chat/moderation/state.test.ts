import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryModerationState, type ModerationState, type Invalidation } from '../../../../src/chat/moderation/state.js';
import { RedisModerationState } from '../../../../src/chat/moderation/state-redis.js';
import { startRedis, waitFor } from '../../helpers/moderation.js';

interface Impl { name: string; make(): Promise<{ a: ModerationState; b: ModerationState; dispose(): Promise<void> }> }

const impls: Impl[] = [
  {
    name: 'memory',
    async make() {
      const s = new MemoryModerationState();
      return { a: s, b: s, dispose: () => s.close() };
    },
  },
  {
    name: 'redis',
    async make() {
      const redis = await startRedis();
      const a = new RedisModerationState(redis.url);
      const b = new RedisModerationState(redis.url);
      return { a, b, dispose: async () => { await a.close(); await b.close(); await redis.stop(); } };
    },
  },
];

// One contract, run against both implementations; `a` and `b` are two nodes' views of the same state.
for (const impl of impls) {
  describe(`ModerationState contract: ${impl.name}`, () => {
    let a: ModerationState;
    let b: ModerationState;
    let dispose: () => Promise<void>;
    let n = 0;
    const k = (s: string) => `${s}:${++n}`;
    before(async () => ({ a, b, dispose } = await impl.make()));
    after(async () => dispose?.());

    test('rate limit: limit messages per window, shared by nodes, window opens at the first message', async () => {
      const key = k('rate');
      const t0 = 1_000_000;
      for (let i = 0; i < 3; i++) assert.deepEqual(await (i % 2 ? b : a).admit({ now: t0 + i, rate: { key, limit: 3, windowMs: 60_000 } }), { ok: true });
      const r = await b.admit({ now: t0 + 10, rate: { key, limit: 3, windowMs: 60_000 } });
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.reason, 'rate');
      assert.ok(!r.ok && r.retryMs > 0 && r.retryMs <= 60_000);
    });

    test('slow mode: one message per interval with the remaining time', async () => {
      const key = k('slow');
      const t0 = Date.now();
      assert.deepEqual(await a.admit({ now: t0, slow: { key, intervalMs: 10_000 } }), { ok: true });
      const r = await b.admit({ now: t0 + 4_000, slow: { key, intervalMs: 10_000 } });
      assert.deepEqual(r, { ok: false, reason: 'slow', retryMs: 6_000 });
      // A changed interval applies to the stored timestamp, longer ones too.
      const longer = await b.admit({ now: t0 + 20_000, slow: { key, intervalMs: 30_000 } });
      assert.deepEqual(longer, { ok: false, reason: 'slow', retryMs: 10_000 });
      assert.deepEqual(await b.admit({ now: t0 + 4_000, slow: { key, intervalMs: 3_000 } }), { ok: true });
    });

    test('duplicate and unique windows refuse repeats until they expire', async () => {
      const dup = k('dup');
      const uniq = k('uniq');
      const now = Date.now();
      assert.deepEqual(await a.admit({ now, duplicate: { key: dup, windowMs: 200 }, unique: { key: uniq, windowMs: 5_000 } }), { ok: true });
      const d = await b.admit({ now, duplicate: { key: dup, windowMs: 200 } });
      assert.equal(!d.ok && d.reason, 'duplicate');
      const u = await b.admit({ now, unique: { key: uniq, windowMs: 5_000 } });
      assert.equal(!u.ok && u.reason, 'unique');
      await new Promise((r) => setTimeout(r, 250));
      assert.deepEqual(await b.admit({ now: Date.now(), duplicate: { key: dup, windowMs: 200 } }), { ok: true });
    });

    test('admit is all or nothing: a refused message records nothing', async () => {
      const rate = k('r');
      const slow = k('s');
      const uniq = k('u');
      const now = Date.now();
      assert.deepEqual(await a.admit({ now, unique: { key: uniq, windowMs: 60_000 } }), { ok: true });
      // Refused by unique: neither the rate counter nor the slow slot may be consumed.
      const r = await b.admit({ now, rate: { key: rate, limit: 1, windowMs: 60_000 }, slow: { key: slow, intervalMs: 60_000 }, unique: { key: uniq, windowMs: 60_000 } });
      assert.equal(!r.ok && r.reason, 'unique');
      assert.deepEqual(await b.admit({ now, rate: { key: rate, limit: 1, windowMs: 60_000 }, slow: { key: slow, intervalMs: 60_000 } }), { ok: true });
      const again = await a.admit({ now, rate: { key: rate, limit: 1, windowMs: 60_000 } });
      assert.equal(!again.ok && again.reason, 'rate');
    });

    test('recent message ids: newest first, capped', async () => {
      const key = k('recent');
      for (let i = 0; i < 5; i++) await (i % 2 ? a : b).admit({ now: Date.now(), recent: { key, id: `m${i}`, max: 3, ttlMs: 60_000 } });
      assert.deepEqual(await a.recentIds(key), ['m4', 'm3', 'm2']);
      assert.deepEqual(await b.recentIds(k('none')), []);
    });

    test('invalidations reach every node, the sender included', async () => {
      const gotA: Invalidation[] = [];
      const gotB: Invalidation[] = [];
      const offA = a.onInvalidation((m) => gotA.push(m));
      const offB = b.onInvalidation((m) => gotB.push(m));
      if (b instanceof RedisModerationState) await b.ready();
      if (a instanceof RedisModerationState) await a.ready();
      await a.publishInvalidation({ channel: 'demo', user: 'u1' });
      await waitFor(() => gotA.length >= 1 && gotB.length >= 1, 3000, 'invalidation');
      assert.deepEqual(gotB[0], { channel: 'demo', user: 'u1' });
      offA();
      offB();
    });
  });
}
