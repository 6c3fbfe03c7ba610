import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyframeWindow, KEYFRAMES_KEPT } from '../../../../src/media/hub/keyframe-meter.js';

test('KeyframeWindow: no interval before the second keyframe', () => {
  const w = new KeyframeWindow();
  assert.equal(w.intervalSeconds(), undefined);
  w.add(1000);
  assert.equal(w.intervalSeconds(), undefined);
  w.add(3000);
  assert.equal(w.intervalSeconds(), 2);
});

test('KeyframeWindow: averages over the recent GOPs only and ignores replayed keyframes', () => {
  const w = new KeyframeWindow();
  for (let i = 0; i < 20; i++) w.add(i * 4000); // an old 4 s interval...
  for (let i = 1; i <= KEYFRAMES_KEPT; i++) w.add(76_000 + i * 1000); // ...then 1 s GOPs
  assert.equal(w.intervalSeconds(), 1);
  w.add(80_000); // a GOP cache replay: not newer than the last one
  assert.equal(w.intervalSeconds(), 1);
});
