import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { annexBKeyframe, jpegSize, snapshotJpeg } from '../../../../src/media/thumbnail/snapshot.js';
import { loadFlv, makeFlv } from '../../helpers/record-media.js';

test('one keyframe becomes a JPEG with the stream aspect ratio (short-lived ffmpeg)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-snap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = loadFlv(makeFlv(dir, 1, '854x480'));
  const key = src.frames.find((f) => f.kind === 'video' && f.keyframe)!;
  const annexB = annexBKeyframe(src.video!, key.data);
  assert.deepEqual([...annexB.subarray(0, 5)], [0, 0, 0, 1, 0x67], 'starts with the SPS');
  const jpeg = await snapshotJpeg(src.video!, key.data, { ffmpeg: 'ffmpeg', maxWidth: 640 });
  assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8]);
  const size = jpegSize(jpeg)!;
  assert.equal(size.width, 640);
  assert.ok(Math.abs(size.width / size.height - 854 / 480) < 0.01, `aspect ${size.width}x${size.height}`);
  const file = join(dir, 'x.jpg');
  writeFileSync(file, jpeg);
  const probe = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'csv=p=0', file], { encoding: 'utf8' }).trim();
  assert.equal(probe, `mjpeg,${size.width},${size.height}`);
});

test('a broken keyframe fails with ffmpeg error text', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-snap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = loadFlv(makeFlv(dir, 0.2)).video!;
  const junk = Buffer.alloc(40, 0x55);
  junk.writeUInt32BE(36, 0);
  await assert.rejects(snapshotJpeg(src, junk, { ffmpeg: 'ffmpeg' }), /ffmpeg snapshot failed/);
});
