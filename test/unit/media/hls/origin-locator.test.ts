import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOriginLocator } from '../../../../src/media/hls/origin-locator.js';
import { originOf } from '../../../../src/media/cluster/locate.js';
import type { NodeLive } from '../../../../src/media/control/bus-live.js';

const nodes: NodeLive[] = [
  { node: 'self', url: 'http://self:8080', at: 0, streams: [{ channel: 'mine', live: true }] },
  { node: 'a', url: 'http://a:8080/', at: 0, streams: [{ channel: 'cam', live: true, nodeUrl: 'http://a.internal:8080/' }, { channel: 'old', live: false }] },
  { node: 'b', at: 0, streams: [{ channel: 'nourl', live: true }] },
  { node: 'c', url: 'http://c:8080', at: 0, streams: [{ channel: 'cam', live: true, role: 'backup' }, { channel: 'game', live: true }] },
];

test('originOf: channels live on other nodes, at their advertised URL; own, ended, backup and URL-less entries are skipped', () => {
  const urls = ['cam', 'game', 'mine', 'old', 'nourl'].map((ch) => originOf(nodes, ch, 'self')?.url);
  assert.deepEqual(urls, ['http://a.internal:8080', 'http://c:8080', undefined, undefined, undefined]);
});

test('originOf: a channel two nodes list (the publisher moved) goes to the node that wrote most recently', () => {
  const moved: NodeLive[] = [
    { node: 'dead', url: 'http://dead:8080', at: 1000, streams: [{ channel: 'cam', live: true }] },
    { node: 'new', url: 'http://new:8080', at: 5000, streams: [{ channel: 'cam', live: true }] },
  ];
  assert.equal(originOf(moved, 'cam', 'self')?.url, 'http://new:8080');
  assert.equal(originOf([...moved].reverse(), 'cam', 'self')?.url, 'http://new:8080');
});

test('createOriginLocator reads the list once for concurrent lookups and reuses it for maxAgeMs', async () => {
  let reads = 0;
  let now = 0;
  const locate = createOriginLocator({ list: async () => { reads++; return nodes; }, selfNode: 'self', maxAgeMs: 1000, now: () => now });
  assert.deepEqual(await Promise.all([locate('cam'), locate('game'), locate('mine')]), ['http://a.internal:8080', 'http://c:8080', undefined]);
  assert.equal(reads, 1);
  now = 999;
  await locate('cam');
  assert.equal(reads, 1);
  now = 1000;
  await locate('cam');
  assert.equal(reads, 2);
});

test('createOriginLocator passes a failed read on (the service answers 503) and reads again next time', async () => {
  let fail = true;
  const locate = createOriginLocator({ list: async () => { if (fail) throw new Error('redis down'); return nodes; }, selfNode: 'self', maxAgeMs: 1000 });
  await assert.rejects(locate('cam'), /redis down/);
  fail = false;
  assert.equal(await locate('cam'), 'http://a.internal:8080');
});
