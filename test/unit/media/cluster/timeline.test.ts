import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EdgeTimeline, TIMELINE_REBASE_STEP_MS } from '../../../../src/media/cluster/timeline.js';
import type { MediaFrame } from '../../../../src/media/hub/types.js';

const v = (dts: number, keyframe = false): MediaFrame => ({ kind: 'video', codec: 'avc', dts, pts: dts + 40, keyframe, data: Buffer.alloc(1) });
const a = (dts: number): MediaFrame => ({ kind: 'audio', codec: 'aac', dts, pts: dts, keyframe: false, data: Buffer.alloc(1) });
/** run maps frames and lists the decode times handed out (null: dropped). */
const run = (t: EdgeTimeline, frames: MediaFrame[], hasVideo = true) => frames.map((f) => t.map(f, hasVideo)?.dts ?? null);

test('the first connection keeps the origin\'s times and starts at a keyframe', () => {
  const t = new EdgeTimeline();
  assert.deepEqual(run(t, [a(960), v(980), v(1000, true), a(1000), v(1040)]), [null, null, 1000, 1000, 1040]);
  assert.equal(t.offsetMs, 0);
});

test('a reconnect to the same timeline skips the replayed GOP and continues at the next keyframe past it', () => {
  const t = new EdgeTimeline();
  run(t, [v(1000, true), v(1040), v(1080), a(1070)]);
  t.newSource(true);
  // The origin's cached GOP starts at 1000 again: already sent; the next keyframe (2000) continues.
  assert.deepEqual(run(t, [v(1000, true), v(1040), v(1080), a(1070), v(2000, true), a(1990), a(2010), v(2040)]), [null, null, null, null, 2000, 1990, 2010, 2040]);
  assert.equal(t.offsetMs, 0);
});

test('another timeline (a republish or another origin) is shifted to follow the last frame sent; pts moves with dts', () => {
  const t = new EdgeTimeline();
  run(t, [v(50_000, true), v(50_040)]);
  t.newSource(false);
  const k = v(0, true);
  assert.equal(t.map(k, true)?.dts, 50_040 + TIMELINE_REBASE_STEP_MS);
  assert.equal(k.pts - k.dts, 40, 'composition offset kept');
  assert.deepEqual(run(t, [a(10), v(40)]), [50_090, 50_120]);
  // A "same" timeline far ahead (hours: the live list was stale) is pulled back the same way.
  t.newSource(true);
  assert.equal(t.map(v(9_000_000, true), true)?.dts, 50_120 + TIMELINE_REBASE_STEP_MS);
});

test('a short real pause on the same timeline keeps the times as they are', () => {
  const t = new EdgeTimeline();
  run(t, [v(1000, true)]);
  t.newSource(true);
  assert.deepEqual(run(t, [v(4000, true), v(4040)]), [4000, 4040]);
  // The same 3 s pause from another origin is shifted: a timeline's gaps mean nothing on another.
  t.newSource(false);
  assert.equal(t.map(v(4000, true), true)?.dts, 4040 + TIMELINE_REBASE_STEP_MS);
});

test('audio-only streams start at any frame', () => {
  const t = new EdgeTimeline();
  assert.deepEqual(run(t, [a(100), a(123)], false), [100, 123]);
  t.newSource(true);
  assert.deepEqual(run(t, [a(50), a(146)], false), [null, 146]);
});

test('track announcements map through the current offset, never below zero', () => {
  const t = new EdgeTimeline();
  run(t, [v(5000, true)]);
  t.newSource(false);
  t.map(v(0, true), true);
  assert.equal(t.announceDts(0), 5000 + TIMELINE_REBASE_STEP_MS);
  assert.equal(new EdgeTimeline().announceDts(-5), 0);
});
