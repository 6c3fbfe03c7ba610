// ClusterLiveView against a real redis-server: a media node (with edge streams) writes its edge
// audience and every node adds it to the origin's viewers; a node without edges (an api-only node)
// only reads, never registers itself, and sees channels live elsewhere with summed viewers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../../../../testkit/redis.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { ClusterLiveView } from '../../../../src/media/cluster/live-view.js';
import type { NodeLive } from '../../../../src/media/control/bus-live.js';
import type { StreamHub } from '../../../../src/media/hub/hub.js';

const PREFIX = 'test';
let server: RedisServer;
let redis: Redis;

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});

after(async () => {
  redis.disconnect();
  await server.stop();
});

/** An origin node A listing `cam` with 2 FLV viewers of its own. */
const list = async (): Promise<NodeLive[]> => [{ node: 'a', url: 'http://a', at: Date.now(), streams: [{ channel: 'cam', nodeUrl: 'http://a', viewers: { flv: 2 } }] }];

/** edgesOf fakes a hub's edge streams: channel → players per protocol. */
const edgesOf = (m: Record<string, Record<string, number>>) => new Map(Object.entries(m).map(([ch, viewers]) => [ch, { stats: () => ({ viewers }) }])) as unknown as StreamHub['edges'];

const view = (nodeId: string, edges?: StreamHub['edges']) => new ClusterLiveView({
  redis: () => redis, nodeId, ...(edges ? { edges } : {}), list, logger: silentLogger(), ttlMs: 5000, refreshMs: 60_000, prefix: PREFIX,
});

test('an edge node writes its audience; a read-only node adds it to the origin\'s entry and writes nothing', async () => {
  const edge = view('b', edgesOf({ cam: { flv: 3, rtmp: 1 } }));
  const reader = view('api-1');
  await edge.start();
  await reader.start();
  try {
    assert.deepEqual(await redis.zrange(`${PREFIX}:edge:nodes`, 0, -1), ['b'], 'only the edge node is in the index');
    assert.equal(await redis.exists(`${PREFIX}:edge:node:api-1`), 0);
    assert.equal(reader.remote('cam')?.node, 'a');
    assert.deepEqual(reader.edgeViewersOf('cam'), { flv: 3, rtmp: 1 });
    assert.equal(reader.remote('idle'), undefined);
    await reader.stop();
    assert.deepEqual(await redis.zrange(`${PREFIX}:edge:nodes`, 0, -1), ['b'], 'a reader\'s stop removes nothing of the others');
  } finally {
    await edge.stop();
  }
  assert.deepEqual(await redis.zrange(`${PREFIX}:edge:nodes`, 0, -1), [], 'the edge node\'s stop removes its entry');
});
