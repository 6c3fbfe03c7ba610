import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TranscodeDelay, TRANSCODE_DELAY_WINDOW_SECONDS } from '../../../../src/media/whip/transcode-delay.js';

test('transcode delay: an output frame is timed from the newest input it completes', () => {
  const d = new TranscodeDelay();
  // 20 ms Opus packets (960 samples) written at 1000, 1020, 1040, 1060 ms.
  for (let i = 1; i <= 4; i++) d.input(960 * i, 1000 + 20 * (i - 1));
  // Encoder priming: a frame ending before the first packet's end completes nothing.
  assert.equal(d.output(512, 1010), undefined);
  assert.equal(d.lastMs, -1);
  // A frame ending at sample 2048 completes packets 1 and 2 (ends 960, 1920): timed from packet 2 (1020 ms).
  assert.equal(d.output(2048, 1095), 75);
  // The next frame (ends 3072) completes packet 3 (ends 2880) only.
  assert.equal(d.output(3072, 1100), 60);
  assert.equal(d.lastMs, 60);
  assert.equal(d.maxMs, 75);
  // Packet 4 ends at 3840.
  assert.equal(d.output(4096, 1150), 90);
  assert.equal(d.output(5120, 1160), undefined, 'no input left to complete');
});

test('transcode delay: the recent maximum forgets seconds older than the window', () => {
  const d = new TranscodeDelay();
  let sample = 0;
  const frame = (inWall: number, outWall: number) => {
    sample += 1024;
    d.input(sample, inWall);
    return d.output(sample, outWall);
  };
  assert.equal(frame(0, 400), 400); // a 400 ms stall in second 0
  for (let s = 1; s < TRANSCODE_DELAY_WINDOW_SECONDS; s++) frame(s * 1000, s * 1000 + 50);
  assert.equal(d.recentMaxMs((TRANSCODE_DELAY_WINDOW_SECONDS - 1) * 1000 + 500), 400);
  assert.equal(d.recentMaxMs((TRANSCODE_DELAY_WINDOW_SECONDS - 1) * 1000 + 500, 3), 50, 'a shorter look back');
  // One window later the stall is out of view; the 50 ms frames remain.
  frame(TRANSCODE_DELAY_WINDOW_SECONDS * 1000, TRANSCODE_DELAY_WINDOW_SECONDS * 1000 + 50);
  assert.equal(d.recentMaxMs(TRANSCODE_DELAY_WINDOW_SECONDS * 1000 + 500), 50);
  assert.equal(d.maxMs, 400, 'the all-time maximum stays');
  assert.equal(d.recentMaxMs(100 * 1000), -1, 'nothing recent after a long silence');
});

test('transcode delay: a stalled transcoder keeps a bounded backlog', () => {
  const d = new TranscodeDelay();
  for (let i = 1; i <= 5000; i++) d.input(960 * i, i * 20);
  assert.ok(d.pendingCount <= 1024, `pending ${d.pendingCount}`);
  // The oldest inputs were forgotten; the frame completing everything is timed from the newest.
  assert.equal(d.output(960 * 5000, 5000 * 20 + 30), 30);
  assert.equal(d.output(960 * 5001, 200_000), undefined);
});
