// EmulationRate: per-address and per-session token buckets, with a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmulationRate } from '../../../../src/chat/transport/emulation-rate.js';

function limiter(now: { t: number }, maxTracked = 100): EmulationRate {
  return new EmulationRate({ perSessionPerSecond: 2, perSessionBurst: 3, perIpPerSecond: 10, perIpBurst: 5, maxTracked, now: () => now.t });
}

test('a burst is taken, then requests refill at the rate', () => {
  const now = { t: 0 };
  const r = limiter(now);
  assert.deepEqual([1, 2, 3, 4].map(() => r.takeSession('s')), [true, true, true, false]);
  now.t = 499;
  assert.equal(r.takeSession('s'), false, 'under one token after 0.499 s at 2/s');
  now.t = 500;
  assert.equal(r.takeSession('s'), true);
  assert.equal(r.takeSession('other'), true, 'sessions have their own buckets');
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => r.takeIp('10.0.0.1')), [true, true, true, true, true, false]);
  assert.equal(r.takeIp('10.0.0.2'), true);
});

test('buckets are bounded: made-up sessions forget the least recent', () => {
  const now = { t: 0 };
  const r = limiter(now, 100);
  for (let i = 0; i < 1000; i++) r.takeSession(`s${i}`);
  assert.ok(r.tracked <= 100, `${r.tracked} buckets`);
});
