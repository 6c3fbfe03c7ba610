import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, truncateSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingWriter } from '../../../../src/media/record/writer.js';
import { finalizeRecording, scanFragmented } from '../../../../src/media/record/finalize.js';
import { decodeErrors, ffprobe, loadFlv, makeFlv, topLevelBoxes } from '../../helpers/record-media.js';

const SECONDS = 6;

test('recorder writes fMP4 while live and finalises it into a faststart MP4', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-rec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = loadFlv(makeFlv(dir, SECONDS));
  assert.ok(src.video && src.audio);
  const fmp4 = join(dir, 'rec.fmp4');
  let written = 0;
  const w = await RecordingWriter.create({ file: fmp4, video: src.video, audio: src.audio, fragmentMs: 1000, fsyncIntervalMs: 100, onWritten: (n) => { written += n; } });
  // Start mid-GOP like a late subscriber would not (the hub gives a GOP), but a new publisher can: frames before the keyframe are dropped.
  for (const f of src.frames) w.onFrame(f);
  await w.finish();
  assert.equal(w.failed, false);
  assert.equal(statSync(fmp4).size, written);
  assert.ok(Math.abs(w.durationMs - SECONDS * 1000) < 100, `writer duration ${w.durationMs}`);
  const scan = await scanFragmented(fmp4);
  assert.ok(scan.fragments >= SECONDS - 1 && scan.fragments <= SECONDS + 1, `about one fragment per second: ${scan.fragments}`);

  const mp4 = join(dir, 'rec.mp4');
  const r = await finalizeRecording(fmp4, mp4);
  assert.deepEqual(topLevelBoxes(mp4), ['ftyp', 'moov', 'mdat']);
  assert.equal(r.hasVideo && r.hasAudio, true);
  const p = ffprobe(mp4);
  assert.ok(Math.abs(p.duration - SECONDS) <= 0.5, `ffprobe duration ${p.duration}`);
  assert.deepEqual(p.streams.map((s) => s.codec_type).sort(), ['audio', 'video']);
  const v = p.streams.find((s) => s.codec_type === 'video')!;
  assert.deepEqual([v.codec_name, v.width, v.height], ['h264', 640, 360]);
  assert.equal(decodeErrors(mp4), '');
});

test('a torn last fragment (crash mid-write) is dropped; everything before it is kept and playable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-rec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = loadFlv(makeFlv(dir, 4));
  const fmp4 = join(dir, 'rec.fmp4');
  const w = await RecordingWriter.create({ file: fmp4, video: src.video, audio: src.audio, fragmentMs: 1000, fsyncIntervalMs: 100 });
  for (const f of src.frames) w.onFrame(f);
  await w.finish();
  const full = statSync(fmp4).size;
  for (const cut of [full - 7, Math.floor(full * 0.6), Math.floor(full * 0.3) + 3]) {
    const torn = join(dir, `torn-${cut}.fmp4`);
    copyFileSync(fmp4, torn);
    truncateSync(torn, cut);
    const out = join(dir, `torn-${cut}.mp4`);
    const r = await finalizeRecording(torn, out);
    assert.ok(r.discardedBytes > 0, 'the torn tail is discarded');
    assert.deepEqual(topLevelBoxes(out), ['ftyp', 'moov', 'mdat']);
    const p = ffprobe(out);
    assert.ok(p.duration > 0 && p.duration < 4, `partial duration ${p.duration}`);
    assert.equal(decodeErrors(out), '', `cut at ${cut} decodes cleanly`);
  }
});

test('a write failure (ENOSPC-like) stops the writer once and keeps a finalisable file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-rec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = loadFlv(makeFlv(dir, 3));
  const fmp4 = join(dir, 'rec.fmp4');
  const errors: string[] = [];
  // A tiny backlog limit makes the writer fail the same way a full disk does: once, without throwing.
  const w = await RecordingWriter.create({ file: fmp4, video: src.video, audio: src.audio, fragmentMs: 500, fsyncIntervalMs: 100, maxQueuedBytes: 1, onError: (e) => errors.push(String(e.code)) });
  for (const f of src.frames) w.onFrame(f);
  await w.finish();
  assert.deepEqual(errors, ['EBACKLOG']);
  assert.equal(w.failed, true);
  await assert.rejects(finalizeRecording(fmp4, join(dir, 'x.mp4')), /no complete fragment/);
});
