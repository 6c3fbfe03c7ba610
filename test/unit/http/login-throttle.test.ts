import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressKey, LoginThrottle, LruMap } from '../../../src/http/login-throttle.js';
import { BoundedQueue, QueueFullError } from '../../../src/http/bounded-queue.js';

const OPTS = { freeFailuresPerUsername: 3, freeFailuresPerIp: 5, backoffBaseMs: 1000, backoffMaxMs: 8000, forgetAfterMs: 60_000, maxTrackedEntries: 100 };

function clocked(opts = OPTS) {
  const clock = { now: 0 };
  return { clock, throttle: new LoginThrottle(opts, () => clock.now) };
}

test('LoginThrottle: free failures, then a block that doubles up to the maximum', () => {
  const { clock, throttle } = clocked();
  const waits: number[] = [];
  for (let i = 0; i < 8; i++) {
    assert.equal(throttle.retryAfterMs('198.51.100.1', 'bob'), 0, `attempt ${i} may go`);
    waits.push(throttle.failed('198.51.100.1', 'bob'));
    clock.now += waits[i]!;
  }
  assert.deepEqual(waits, [0, 0, 0, 1000, 2000, 4000, 8000, 8000]);
});

test('LoginThrottle: a blocked username is blocked from every address; usernames compare case-insensitively', () => {
  const { throttle } = clocked();
  for (let i = 0; i < 4; i++) throttle.failed(`198.51.100.${i}`, 'Bob');
  assert.equal(throttle.retryAfterMs('203.0.113.9', 'bob'), 1000);
  assert.equal(throttle.retryAfterMs('203.0.113.9', 'alice'), 0);
});

test('LoginThrottle: success clears the username only, never the address', () => {
  const { throttle } = clocked();
  for (const u of ['a', 'b']) for (let i = 0; i < 2; i++) throttle.failed('198.51.100.1', u);
  throttle.succeeded('mine');
  throttle.succeeded('a');
  assert.equal(throttle.failed('198.51.100.1', 'c'), 0, 'the fifth failure from the address: still free');
  assert.equal(throttle.failed('198.51.100.1', 'c'), 1000, 'the sixth blocks: the successes cleared nothing of the address');
});

test('LoginThrottle: failures are forgotten after forgetAfterMs', () => {
  const { clock, throttle } = clocked();
  for (let i = 0; i < 3; i++) throttle.failed('198.51.100.1', 'bob');
  clock.now += 60_001;
  assert.equal(throttle.failed('198.51.100.1', 'bob'), 0, 'counting starts again');
});

test('LoginThrottle: IPv6 addresses count per /64', () => {
  assert.equal(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:db8:1:2:bbbb::2'));
  assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'));
  assert.equal(addressKey('198.51.100.1'), '198.51.100.1');
  const { throttle } = clocked();
  for (let i = 0; i < 6; i++) throttle.failed(`2001:db8:1:2::${i + 1}`, `user${i}`);
  assert.ok(throttle.retryAfterMs('2001:db8:1:2::ffff', 'someone') > 0);
});

test('LoginThrottle: the tables are bounded (LRU)', () => {
  const { throttle } = clocked({ ...OPTS, maxTrackedEntries: 100 });
  for (let i = 0; i < 1000; i++) throttle.failed(`10.0.${i >> 8}.${i & 255}`, `user${i}`);
  assert.deepEqual(throttle.tracked(), { ips: 100, usernames: 100 });
  const m = new LruMap<string, number>(2);
  m.set('a', 1);
  m.set('b', 2);
  m.get('a');
  m.set('c', 3);
  assert.equal(m.get('b'), undefined, 'the least recently used went');
  assert.equal(m.get('a'), 1);
});

test('BoundedQueue: runs at most `concurrency` at once, queues up to maxQueued, refuses beyond at once', async () => {
  const q = new BoundedQueue(2, 3);
  let running = 0;
  let peak = 0;
  const gates: (() => void)[] = [];
  const task = () => new Promise<number>((resolve) => {
    running++;
    peak = Math.max(peak, running);
    gates.push(() => { running--; resolve(1); });
  });
  const accepted = Array.from({ length: 5 }, () => q.run(task));
  await assert.rejects(q.run(task), QueueFullError);
  assert.equal(q.size, 5);
  while (gates.length > 0 || running > 0) {
    await new Promise((r) => setImmediate(r));
    gates.shift()?.();
  }
  assert.deepEqual(await Promise.all(accepted), [1, 1, 1, 1, 1]);
  assert.equal(peak, 2);
  assert.equal(q.size, 0);
  await assert.rejects(q.run(async () => { throw new Error('boom'); }), /boom/);
  assert.equal(q.size, 0, 'a failing task frees its slot');
});
