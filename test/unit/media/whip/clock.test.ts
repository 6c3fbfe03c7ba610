import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamClock } from '../../../../src/media/whip/clock.js';

test('before sender reports: arrival of the first packet + RTP distance; across a 32-bit wrap', () => {
  const c = new StreamClock(90_000, 48_000);
  const base = 2 ** 32 - 900; // wraps 10 ms in
  assert.equal(c.wallOf('video', base, 5000), 5000);
  assert.equal(c.wallOf('video', (base + 2700) >>> 0, 5031), 5030, 'RTP time, not arrival jitter');
  assert.equal(c.wallOf('video', (base + 90_000) >>> 0, 6100), 6000);
  // A late packet from before the wrap still maps backwards correctly.
  assert.equal(c.wallOf('video', base + 450, 6200), 5005);
  c.setOrigin(5000);
  assert.equal(c.streamMs(6000), 1000);
});

test('sender reports: both tracks on the sender clock, moved onto ours without a jump', () => {
  const c = new StreamClock(90_000, 48_000);
  // Video arrives from t=1000 (RTP 0), audio from t=1040 (RTP 0) although the sender captured both at once.
  c.wallOf('video', 0, 1000);
  c.wallOf('audio', 0, 1040);
  assert.equal(c.wallOf('audio', 48_000, 2040), 2040, 'arrival-based before reports');
  // Sender NTP clock is 1 h ahead; its reports say RTP 0 of both tracks was captured at the same instant.
  const ntp0 = 3_600_000 + 1000;
  c.senderReport('video', ntp0 + 500, 45_000, 1500);
  c.senderReport('audio', ntp0 + 500, 24_000, 1500);
  assert.equal(c.wallOf('video', 90_000, 2000), 2000, 'video carries on without a jump');
  assert.equal(c.wallOf('audio', 48_000, 2040), 2000, 'audio now lines up with video (the 40 ms arrival skew is gone)');
});
