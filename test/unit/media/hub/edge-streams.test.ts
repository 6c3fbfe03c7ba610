// The hub's two kinds of streams: local ones (a publisher on this node) and edge ones (pulled from
// the node holding the publisher for this node's players only, src/media/cluster).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HUB_EVENT_STREAM_START, StreamHub } from '../../../../src/media/hub/hub.js';
import type { Batch } from '../../../../src/media/hub/batch.js';
import type { Viewer } from '../../../../src/media/hub/viewer.js';
import type { StreamSubscriber } from '../../../../src/media/hub/types.js';
import { silentLogger } from '../../../../src/observability/logger.js';

function makeHub() {
  const published: string[] = [];
  const hub = new StreamHub({
    logger: silentLogger(), gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1000, viewerQueueMaxBytes: 5000, viewerStallMs: 60_000,
    flushIntervalMs: 0, rtmpChunkSize: 4096,
    events: { publish: async (ch) => (published.push(ch), {}) },
  });
  return { hub, published };
}

class NullViewer implements Viewer {
  onClose?: () => void;
  constructor(readonly protocol: Viewer['protocol'] = 'flv') {}
  queuedBytes = () => 0;
  start = () => 0;
  write = (_b: Batch) => 0;
  end = () => undefined;
}
const source = (protocol: 'rtmp' | 'edge') => ({ protocol, close: () => undefined });
const sub = (): StreamSubscriber & { frames: number } => ({ frames: 0, onFrame() { this.frames++; } });

test('an edge stream is playable but outside the local view: not live, not listed, no start event, no live notice', () => {
  const { hub, published } = makeHub();
  const starts: string[] = [];
  hub.on(HUB_EVENT_STREAM_START, (ch: string) => starts.push(ch));
  const waiting = sub();
  hub.subscribe('cam', waiting);
  const s = hub.publish('cam', source('edge'));
  assert.ok(s);
  assert.equal(s.from, 'edge');
  assert.equal(hub.playable('cam'), true);
  assert.equal(hub.isLive('cam'), false);
  assert.deepEqual(hub.liveChannels(), []);
  assert.deepEqual(hub.stats(), []);
  assert.equal(hub.stats('cam'), null);
  assert.deepEqual(starts, []);
  assert.deepEqual(published, []);
  assert.equal(s.subscribers.has(waiting), false, 'an origin-only output waiting for the channel is not given the edge stream');
  assert.equal(hub.kick('cam'), false, 'ends are for the node holding the publisher');
  s.end('pull ended');
  assert.equal(hub.playable('cam'), false);
  // The local publish after it is a local stream, and the waiting output gets it.
  const local = hub.publish('cam', source('rtmp'));
  assert.equal(local?.from, 'local');
  assert.equal(local.subscribers.has(waiting), true);
  assert.deepEqual(starts, ['cam']);
});

test('players reach an edge stream: byte-stream viewers and playback subscribers; both count as its audience', () => {
  const { hub } = makeHub();
  const s = hub.publish('cam', source('edge'))!;
  const t0 = s.audienceChangedAt;
  assert.equal(s.audience(), 0);
  const detach = hub.addViewer('cam', new NullViewer());
  assert.ok(detach);
  const player = sub();
  const off = hub.subscribe('cam', player, { playback: true });
  assert.equal(s.audience(), 2);
  assert.equal(s.subscribers.has(player), true);
  detach();
  off();
  assert.equal(s.audience(), 0);
  assert.ok(s.audienceChangedAt >= t0);
  // Without `playback` a subscriber waits for a local stream instead.
  const output = sub();
  hub.subscribe('cam', output);
  assert.equal(s.subscribers.has(output), false);
});

test('an origin counts edge pulls apart from its viewers', () => {
  const { hub } = makeHub();
  const s = hub.publish('cam', source('rtmp'))!;
  hub.addViewer('cam', new NullViewer('flv'));
  hub.addViewer('cam', new NullViewer('edge'));
  assert.equal(s.edgePulls(), 1);
  assert.deepEqual(hub.stats('cam')?.viewers, { flv: 1, wsflv: 0, rtmp: 0 });
  assert.equal(hub.viewerCount.edge, 1);
});

test('openForPlay asks the on-demand source only for channels not playable here', async () => {
  const { hub } = makeHub();
  const asked: string[] = [];
  assert.equal(await hub.openForPlay('cam'), false, 'no source: offline');
  hub.setOnDemand({
    open: async (ch) => {
      asked.push(ch);
      if (ch === 'far') hub.publish('far', source('edge'));
      return ch === 'far' || ch === 'liar';
    },
  });
  assert.equal(await hub.openForPlay('far'), true);
  assert.equal(await hub.openForPlay('far'), true);
  assert.equal(await hub.openForPlay('nowhere'), false);
  assert.equal(await hub.openForPlay('liar'), false, 'a source that says yes without a stream is not believed');
  hub.publish('here', source('rtmp'));
  assert.equal(await hub.openForPlay('here'), true);
  assert.deepEqual(asked, ['far', 'nowhere', 'liar']);
  hub.setOnDemand(null);
  hub.stop();
  assert.equal(hub.playable('far'), false, 'stop ends edge streams too');
});
