import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingWriter } from '../../../../src/media/record/writer.js';
import { cutLiveTail, mp4DurationSeconds } from '../../../../src/media/clips/cut.js';
import { decodeErrors, ffprobe, loadFlv, makeFlv, topLevelBoxes } from '../../helpers/record-media.js';

const SECONDS = 8;

test('cutLiveTail cuts the last seconds of a growing fMP4 (torn tail ignored) from a keyframe into a faststart MP4', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-clip-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = loadFlv(makeFlv(dir, SECONDS)); // H.264 with B-frames, GOP 1 s, AAC
  const fmp4 = join(dir, 'recording.fmp4');
  const w = await RecordingWriter.create({ file: fmp4, video: src.video, audio: src.audio, fragmentMs: 1000, fsyncIntervalMs: 100 });
  for (const f of src.frames) w.onFrame(f);
  await w.finish();
  // A file being written: the last fragment is only half on disk.
  const growing = join(dir, 'growing.fmp4');
  copyFileSync(fmp4, growing);
  truncateSync(growing, statSync(fmp4).size - 5000);

  const out = join(dir, 'clip.mp4');
  const r = await cutLiveTail(growing, out, 3);
  assert.deepEqual(topLevelBoxes(out), ['ftyp', 'moov', 'mdat']);
  assert.equal(r.bytes, statSync(out).size);
  assert.ok(Number.isInteger(Math.round(r.startSeconds * 1000) / 1000), `keyframe start ${r.startSeconds}`);
  assert.ok(r.startSeconds >= 3 && r.startSeconds <= 5, `start ${r.startSeconds} (media on disk ends near 7 s)`);
  assert.ok(r.durationSeconds >= 3 && r.durationSeconds <= 4.2, `duration ${r.durationSeconds}`);
  const p = ffprobe(out);
  assert.ok(Math.abs(p.duration - r.durationSeconds) < 0.15, `ffprobe ${p.duration} vs ${r.durationSeconds}`);
  assert.deepEqual(p.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ['audio:aac', 'video:h264']);
  assert.equal(decodeErrors(out), '');
  assert.ok(Math.abs((await mp4DurationSeconds(out)) - p.duration) < 0.05, 'mvhd duration (ours)');
  // …and of an MP4 written by ffmpeg (VOD clips are measured this way).
  const ffOut = join(dir, 'ff.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', join(dir, 'in.flv'), '-t', '2.5', '-c', 'copy', '-movflags', '+faststart', ffOut]);
  assert.ok(Math.abs((await mp4DurationSeconds(ffOut)) - ffprobe(ffOut).duration) < 0.05, 'mvhd duration (ffmpeg faststart)');
  const first = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=flags', '-read_intervals', '%+#1', '-of', 'csv=p=0', out], { encoding: 'utf8' });
  assert.match(first.trim(), /^K/, 'the clip starts with a keyframe');

  // Asking for more than was recorded gives everything from the first keyframe.
  const all = await cutLiveTail(growing, join(dir, 'all.mp4'), 60);
  assert.equal(all.startSeconds, 0);
  assert.ok(all.durationSeconds > 6 && all.durationSeconds < SECONDS, `all ${all.durationSeconds}`);

  // A file with only its init segment has nothing to cut yet.
  const empty = join(dir, 'empty.fmp4');
  const e = await RecordingWriter.create({ file: empty, video: src.video, audio: src.audio, fragmentMs: 1000, fsyncIntervalMs: 100 });
  await assert.rejects(cutLiveTail(empty, join(dir, 'none.mp4'), 5), /no complete fragment/);
  await e.finish();
});
