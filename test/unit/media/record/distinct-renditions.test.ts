import { test } from 'node:test';
import assert from 'node:assert/strict';
import { distinctRenditions } from '../../../../src/media/record/distinct-renditions.js';

const r = (name: string, height: number, videoCodec: string | null, bytes: number) => ({ name, file: `${name}.mp4`, width: 0, height, videoCodec, audioCodec: 'aac', bytes });

test('a 720p-named copy of a 360p source is dropped: the source is the one 360p entry', () => {
  const list = [r('source', 360, 'avc', 1000), r('720p', 360, 'avc', 1200)];
  assert.deepEqual(distinctRenditions(list).map((x) => x.name), ['source']);
});

test('other heights and codecs stay, in their order; of two non-source twins the smaller file stays', () => {
  const list = [r('source', 1080, 'avc', 9000), r('720p', 720, 'avc', 3000), r('hevc', 1080, 'hevc', 5000), r('a', 480, 'avc', 800), r('b', 480, 'avc', 700)];
  assert.deepEqual(distinctRenditions(list).map((x) => x.name), ['source', '720p', 'hevc', 'b']);
  assert.deepEqual(distinctRenditions([]), []);
});
