import { test } from 'node:test';
import assert from 'node:assert/strict';
import { originOf, locateChannel } from '../../../../src/media/cluster/locate.js';
import { checkClusterConfig } from '../../../../src/media/cluster/start-check.js';
import type { NodeLive } from '../../../../src/media/control/bus-live.js';

const nodes: NodeLive[] = [
  { node: 'a', url: 'http://a:8080/', at: 100, streams: [{ channel: 'cam', nodeUrl: 'http://a:8080' }, { channel: 'other' }] },
  { node: 'b', at: 200, streams: [{ channel: 'cam', role: 'backup', nodeUrl: 'http://b:8080' }] },
  { node: 'self', url: 'http://self:8080', at: 300, streams: [{ channel: 'mine' }] },
  { node: 'nourl', at: 300, streams: [{ channel: 'hidden' }] },
];

test('the origin is the node listing the channel, with its advertised URL; backups, this node and URL-less nodes are never one', () => {
  assert.deepEqual(originOf(nodes, 'cam', 'self'), { node: 'a', url: 'http://a:8080' });
  assert.deepEqual(originOf(nodes, 'other', 'self'), { node: 'a', url: 'http://a:8080' });
  assert.equal(originOf(nodes, 'mine', 'self'), null);
  assert.equal(originOf(nodes, 'hidden', 'self'), null);
  assert.equal(originOf(nodes, 'nobody', 'self'), null);
  assert.equal(originOf(nodes, 'cam', 'a'), null);
});

test('two nodes listing a channel as primary: the latest writer wins', () => {
  const two: NodeLive[] = [
    { node: 'x', url: 'http://x', at: 10, streams: [{ channel: 'cam' }] },
    { node: 'y', url: 'http://y', at: 20, streams: [{ channel: 'cam' }] },
  ];
  assert.equal(originOf(two, 'cam', 'self')?.node, 'y');
});

test('failover: the node a lease notice names is the origin, even while its entry still says backup and the old primary\'s has not expired', () => {
  assert.equal(originOf(nodes, 'cam', 'self', 'b')?.node, 'b');
  assert.equal(originOf(nodes, 'cam', 'self', 'b')?.url, 'http://b:8080');
  // A named node that does not list the channel (or is this node) changes nothing.
  assert.equal(originOf(nodes, 'cam', 'self', 'nourl')?.node, 'a');
  assert.equal(originOf(nodes, 'mine', 'self', 'self'), null);
  const fresherOld: NodeLive[] = [
    { node: 'old', url: 'http://old', at: 50, streams: [{ channel: 'cam' }] },
    { node: 'new', url: 'http://new', at: 40, streams: [{ channel: 'cam' }] },
  ];
  assert.equal(originOf(fresherOld, 'cam', 'self', 'new')?.node, 'new');
});

test('locateChannel reads the list once; a failing read throws', async () => {
  let reads = 0;
  assert.equal((await locateChannel({ list: async () => { reads++; return nodes; } }, 'cam', 'self'))?.node, 'a');
  assert.equal(reads, 1);
  await assert.rejects(locateChannel({ list: () => Promise.reject(new Error('redis down')) }, 'cam', 'self'), /redis down/);
});

test('a media node with redis.url and no cluster.secret does not start; the message names ONAIR_CLUSTER_SECRET', () => {
  const cluster = { edgeGraceSeconds: 30, heartbeatTimeoutMs: 2000, edgeHoldSeconds: 10 };
  assert.throws(() => checkClusterConfig({ roles: ['media'], redis: { url: 'redis://r' }, cluster }), /cluster\.secret.*ONAIR_CLUSTER_SECRET/);
  checkClusterConfig({ roles: ['media'], redis: { url: 'redis://r' }, cluster: { ...cluster, secret: 's'.repeat(16) } });
  checkClusterConfig({ roles: ['api', 'chat'], redis: { url: 'redis://r' }, cluster });
  checkClusterConfig({ roles: ['media'], redis: {}, cluster });
});
