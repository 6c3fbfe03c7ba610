import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AudioClock, msToTicks, TimestampUnwrapper, RTMP_TIMESTAMP_MODULUS } from '../../../../src/media/hls/timeline.js';

test('timeline: unwrapper carries 32-bit wraps forward and tolerates late pre-wrap frames', () => {
  const u = new TimestampUnwrapper();
  assert.equal(u.unwrap(RTMP_TIMESTAMP_MODULUS - 40), RTMP_TIMESTAMP_MODULUS - 40);
  assert.equal(u.unwrap(0), RTMP_TIMESTAMP_MODULUS);
  assert.equal(u.unwrap(RTMP_TIMESTAMP_MODULUS - 20), RTMP_TIMESTAMP_MODULUS - 20); // late frame from before the wrap
  assert.equal(u.unwrap(40), RTMP_TIMESTAMP_MODULUS + 40);
  // a second wrap, reached in steps smaller than half the range
  for (const raw of [2 ** 30, 2 ** 31, 3 * 2 ** 30]) assert.equal(u.unwrap(raw), RTMP_TIMESTAMP_MODULUS + raw);
  assert.equal(u.unwrap(RTMP_TIMESTAMP_MODULUS - 1), 2 * RTMP_TIMESTAMP_MODULUS - 1);
  assert.equal(u.unwrap(5), 2 * RTMP_TIMESTAMP_MODULUS + 5);
});

test('timeline: msToTicks rounds absolute times (no drift at 30000/1001 fps)', () => {
  // 29.97 fps frame times in integer ms drift if durations are rounded one by one
  let sum = 0;
  let prev = 0;
  for (let i = 1; i <= 30_000; i++) {
    const ms = Math.round((i * 1001) / 30);
    const t = msToTicks(ms, 90_000);
    sum += t - prev;
    prev = t;
  }
  assert.equal(sum, msToTicks(Math.round((30_000 * 1001) / 30), 90_000));
});

test('timeline: AudioClock keeps AAC frames contiguous despite ms rounding, resyncs on gaps', () => {
  const c = new AudioClock(44100);
  const times: number[] = [];
  for (let i = 0; i < 100; i++) times.push(c.place(Math.round((i * 1024 * 1000) / 44100)));
  for (let i = 1; i < times.length; i++) assert.equal(times[i]! - times[i - 1]!, 1024);
  // a one-second gap resynchronises
  const after = c.place(Math.round((100 * 1024 * 1000) / 44100) + 1000);
  assert.ok(after - times[99]! > 40_000);
});
