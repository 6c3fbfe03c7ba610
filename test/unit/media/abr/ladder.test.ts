import { test } from 'node:test';
import assert from 'node:assert/strict';
import { abrArgs, renditionChannel, rungsFor, splitRenditionName } from '../../../../src/media/abr/ladder.js';
import { configSchema } from '../../../../src/config/index.js';

const LADDER = [
  { name: '720p', height: 720, videoKbps: 2500 },
  { name: '480p', height: 480, videoKbps: 1000 },
  { name: '240p', height: 240, videoKbps: 300 },
];

test('rungs at or above the source height are skipped', () => {
  assert.deepEqual(rungsFor(LADDER, 1080).map((r) => r.name), ['720p', '480p', '240p']);
  assert.deepEqual(rungsFor(LADDER, 720).map((r) => r.name), ['480p', '240p']);
  assert.deepEqual(rungsFor(LADDER, 360).map((r) => r.name), ['240p']);
  assert.deepEqual(rungsFor(LADDER, 240), []);
  assert.deepEqual(rungsFor(LADDER, 0), [], 'unknown height: no renditions');
});

test('rendition names: {channel}_{rung}, split on the last separator, only for ladder rungs', () => {
  assert.equal(renditionChannel('demo', '480p'), 'demo_480p');
  assert.deepEqual(splitRenditionName('my_show_480p', LADDER)?.channel, 'my_show');
  assert.equal(splitRenditionName('my_show_480p', LADDER)?.rung.name, '480p');
  assert.equal(splitRenditionName('my_show', LADDER), undefined);
  assert.equal(splitRenditionName('_480p', LADDER), undefined);
  assert.equal(splitRenditionName('demo_1080p', LADDER), undefined);
});

test('ffmpeg args: FLV on stdin, progress on stdout, one FLV output per rung on fd 3, 4, ...', () => {
  const args = abrArgs(LADDER.slice(1), { preset: 'veryfast', audio: true });
  const s = args.join(' ');
  assert.match(s, /-f flv -i pipe:0/);
  assert.match(s, /-progress pipe:1/);
  assert.equal(args.filter((a) => a === 'pipe:3').length, 1);
  assert.equal(args.filter((a) => a === 'pipe:4').length, 1);
  assert.equal(args.includes('pipe:5'), false);
  // Per rung: scale, bitrate, keyframes where the source has them, audio copied.
  assert.match(s, /-vf scale=-2:480 .*-b:v 1000k -maxrate 1000k -bufsize 2000k -force_key_frames source .*-c:a copy .*pipe:3/);
  assert.match(s, /-vf scale=-2:240 .*-b:v 300k .*pipe:4/);
  assert.equal(args.filter((a) => a === 'zerolatency').length, 2);
  const noAudio = abrArgs(LADDER.slice(2), { preset: 'ultrafast', audio: false });
  assert.equal(noAudio.includes('-c:a'), false);
  assert.equal(noAudio.includes('ultrafast'), true);
});

test('config: ABR is off by default with a 720p/480p ladder; rung names are unique', () => {
  const c = configSchema.parse({});
  assert.equal(c.media.abr.enabled, false);
  assert.deepEqual(c.media.abr.ladder.map((r) => r.name), ['720p', '480p']);
  assert.throws(() => configSchema.parse({ media: { abr: { ladder: [{ name: 'a', height: 240, videoKbps: 300 }, { name: 'a', height: 160, videoKbps: 100 }] } } }));
  assert.throws(() => configSchema.parse({ media: { abr: { ladder: [{ name: 'bad name', height: 240, videoKbps: 300 }] } } }));
});
