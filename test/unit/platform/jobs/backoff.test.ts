import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelayMs } from '../../../../src/platform/jobs/backoff.js';

test('backoff doubles per attempt and stops at the cap', () => {
  const o = { baseMs: 10_000, maxMs: 600_000 };
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelayMs(a, o)), [10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000, 600_000]);
  assert.equal(backoffDelayMs(0, o), 10_000);
  assert.equal(backoffDelayMs(1000, o), 600_000);
});

test('backoff jitter only shortens the delay, by at most the fraction', () => {
  const o = { baseMs: 1000, maxMs: 60_000, jitter: 0.5 };
  assert.equal(backoffDelayMs(3, o, () => 0), 4000);
  assert.equal(backoffDelayMs(3, o, () => 1), 2000);
  assert.equal(backoffDelayMs(3, o, () => 0.5), 3000);
});
