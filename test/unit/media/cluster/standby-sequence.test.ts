// The LL-HLS sequence across a failover, as the hot standby carries it: the newest heartbeat of
// another node naming the channel gives the position, with one renewal period's worth of
// segments of slack; nothing heard (or heard long ago) gives nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import prom from 'prom-client';
import { HotStandby, standbyMetrics } from '../../../../src/media/cluster/standby.js';
import { StreamHub } from '../../../../src/media/hub/hub.js';
import { silentLogger } from '../../../../src/observability/logger.js';

function standby(now: () => number, ttlMs = 1500) {
  const hub = new StreamHub({ logger: silentLogger(), gopCacheMaxFrames: 100, viewerQueueSkipBytes: 1000, viewerQueueMaxBytes: 5000, viewerStallMs: 1000, flushIntervalMs: 0, rtmpChunkSize: 4096 });
  return new HotStandby({
    redisUrl: 'redis://127.0.0.1:1', nodeId: 'node-b', secret: 's'.repeat(32), ttlMs, hub, logger: silentLogger(),
    metrics: standbyMetrics(new prom.Registry()), prefix: 'test', directory: () => ({ list: async () => [] }), now,
  });
}

test('previousSequence: the newest heartbeat naming the channel, plus the segments its node may have begun since', () => {
  let t = 1_000_000;
  const s = standby(() => t); // renews every 500 ms
  assert.equal(s.previousSequence('cam', 2000), undefined, 'nothing heard');
  s.peers.set('node-a', { at: t - 300, primaries: [{ channel: 'cam', token: '1', hls: { nextMsn: 40, discontinuity: 1 } }] });
  s.peers.set('node-c', { at: t - 9000, primaries: [{ channel: 'cam', token: '0', hls: { nextMsn: 12, discontinuity: 0 } }] });
  s.peers.set('node-d', { at: t, primaries: [{ channel: 'other', token: '5', hls: { nextMsn: 99, discontinuity: 0 } }] });
  assert.deepEqual(s.previousSequence('cam', 2000), { nextMsn: 41, discontinuity: 1 });
  assert.deepEqual(s.previousSequence('cam', 200), { nextMsn: 43, discontinuity: 1 }, 'short segments: more may have begun in one renewal');
  assert.equal(s.previousSequence('nobody', 2000), undefined);
  t += 10 * 60_000;
  assert.equal(s.previousSequence('cam', 2000), undefined, 'too long ago');
});
