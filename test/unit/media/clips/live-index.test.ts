import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingWriter } from '../../../../src/media/record/writer.js';
import { scanFragmented } from '../../../../src/media/record/finalize.js';
import { LiveFileIndex } from '../../../../src/media/clips/live-index.js';
import { cutLiveTail } from '../../../../src/media/clips/cut.js';
import { decodeErrors, ffprobe, loadFlv, makeFlv } from '../../helpers/record-media.js';

test('LiveFileIndex follows a file growing in uneven pieces: same runs as a full scan, only the last seconds kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-clipidx-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = loadFlv(makeFlv(dir, 8));
  const full = join(dir, 'full.fmp4');
  const w = await RecordingWriter.create({ file: full, video: src.video, audio: src.audio, fragmentMs: 1000, fsyncIntervalMs: 100 });
  for (const f of src.frames) w.onFrame(f);
  await w.finish();
  const bytes = readFileSync(full);
  const scan = await scanFragmented(full);

  const growing = join(dir, 'growing.fmp4');
  writeFileSync(growing, Buffer.alloc(0));
  const all = new LiveFileIndex(growing, 3600);
  const tail = new LiveFileIndex(growing, 2);
  // Appends of 1, 7, 333 … bytes: boxes are torn at every possible kind of place.
  let at = 0;
  let step = 1;
  let refreshes = 0;
  while (at < bytes.length) {
    const n = Math.min(bytes.length - at, step);
    appendFileSync(growing, bytes.subarray(at, at + n));
    at += n;
    step = (step * 7 + 5) % 40_000 + 1;
    await Promise.all([all.refresh(), tail.refresh()]);
    refreshes++;
    assert.ok(all.runs.length <= scan.runs.length);
  }
  assert.ok(refreshes > 20, `${refreshes} refreshes`);
  assert.deepEqual(all.runs, scan.runs);
  assert.equal(all.tracks.length, 2);
  assert.ok(tail.runs.length < all.runs.length && tail.runs.length > 0);
  assert.equal(tail.endSeconds, all.endSeconds);
  const firstKept = Math.min(...tail.runs.map((r) => r.baseMediaDecodeTime / all.tracks.find((x) => x.trackId === r.trackId)!.timescale));
  assert.ok(firstKept >= all.endSeconds - 2 - 1.1 && firstKept <= all.endSeconds - 2, `kept from ${firstKept} of ${all.endSeconds}`);

  // A clip through the index: the last 3 s (a keyframe every second).
  const out = join(dir, 'clip.mp4');
  const r = await cutLiveTail(all, out, 3);
  assert.ok(Math.abs(r.durationSeconds - 3) < 1.05, `duration ${r.durationSeconds}`);
  assert.ok(Math.abs(ffprobe(out).duration - r.durationSeconds) < 0.15);
  assert.equal(decodeErrors(out), '');
});

test('LiveFileIndex stops at bytes that are not a box', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-clipidx-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'bad.fmp4');
  writeFileSync(f, Buffer.from([0, 0, 0, 3, 0x6d, 0x6f, 0x6f, 0x76, 1, 2, 3, 4, 5, 6, 7, 8]));
  const idx = new LiveFileIndex(f, 10);
  await idx.refresh();
  await idx.refresh();
  assert.equal(idx.hasInit, false);
  assert.deepEqual(idx.runs, []);
  await assert.rejects(cutLiveTail(idx, join(dir, 'x.mp4'), 5), /no complete fragment/);
});
