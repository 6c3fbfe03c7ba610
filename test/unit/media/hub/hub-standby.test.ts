// The hub's hot-standby side: a publish the arbiter calls a backup is held apart (not live, no
// viewer or output attaches, no events), promote() makes it the primary with its tracks and GOP,
// a fenced primary keeps its viewers, kick ends both, and a second publish on one node is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HUB_EVENT_BACKUP_CHANGE, HUB_EVENT_STREAM_FENCED, HUB_EVENT_STREAM_START, StreamHub, type StreamRole } from '../../../../src/media/hub/hub.js';
import { FlvFrameReader } from '../../../../src/media/flv/frame-reader.js';
import type { MediaFrame, StreamSubscriber } from '../../../../src/media/hub/types.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { FlvParser, FLV_TAG_SCRIPT, type FlvTag } from '../../../../src/formats/flv.js';
import { codecMismatch } from '../../../../src/media/cluster/standby.js';

function fixture(): FlvTag[] {
  const tags: FlvTag[] = [];
  new FlvParser({ onTag: (t) => tags.push(t) }).push(readFileSync(new URL('../../../fixtures/media/h264-aac-640x360.flv', import.meta.url)));
  return tags.filter((t) => t.type !== FLV_TAG_SCRIPT);
}

function makeHub(role: StreamRole) {
  const events: unknown[] = [];
  const hub = new StreamHub({
    logger: silentLogger(), gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1000, viewerQueueMaxBytes: 5000, viewerStallMs: 60_000,
    flushIntervalMs: 0, rtmpChunkSize: 4096,
    events: { publish: async (_ch, data) => (events.push(data), {}) },
  });
  hub.setArbiter({ roleFor: () => role });
  return { hub, events };
}

class Recording implements StreamSubscriber {
  tracks = 0;
  frames: MediaFrame[] = [];
  ended: string | null = null;
  onTracks(): void {
    this.tracks++;
  }
  onFrame(f: MediaFrame): void {
    this.frames.push(f);
  }
  onEnd(reason: string): void {
    this.ended = reason;
  }
}

test('a backup is held apart: not live, outputs wait, no live event; a second publish on the node is refused', async () => {
  const { hub, events } = makeHub('backup');
  const changes: string[] = [];
  const starts: string[] = [];
  hub.on(HUB_EVENT_BACKUP_CHANGE, (c: string) => changes.push(c));
  hub.on(HUB_EVENT_STREAM_START, (c: string) => starts.push(c));
  const out = new Recording();
  hub.subscribe('cam', out);
  const b = hub.publish('cam', { protocol: 'rtmp', close: () => undefined })!;
  assert.equal(b.role, 'backup');
  const reader = new FlvFrameReader(b);
  for (const t of fixture().slice(0, 20)) reader.tag(t.type, t.timestamp, t.data);
  assert.equal(hub.isLive('cam'), false);
  assert.equal(hub.holds('cam'), true);
  assert.deepEqual(hub.liveChannels(), []);
  assert.equal(hub.addViewer('cam', { protocol: 'flv' } as never), null, 'no viewer attaches to a backup');
  assert.equal(out.frames.length, 0, 'outputs are not fed');
  assert.deepEqual(starts, []);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(events, [], 'no live event for a backup');
  assert.ok(changes.length >= 2, 'started and got tracks');
  assert.deepEqual(hub.stats(), []);
  assert.equal(hub.backupStats('cam')?.role, 'backup');
  assert.equal(hub.backupStats('cam')?.video?.codec, 'avc');
  assert.equal(hub.publish('cam', { protocol: 'rtmp', close: () => undefined }), null, 'same-node duplicate refused');
});

test('promote makes the backup the primary: waiting outputs get its tracks and GOP at once', () => {
  const { hub } = makeHub('backup');
  const starts: string[] = [];
  hub.on(HUB_EVENT_STREAM_START, (c: string) => starts.push(c));
  const out = new Recording();
  hub.subscribe('cam', out);
  const b = hub.publish('cam', { protocol: 'rtmp', close: () => undefined })!;
  const reader = new FlvFrameReader(b);
  for (const t of fixture().slice(0, 20)) reader.tag(t.type, t.timestamp, t.data);
  assert.equal(hub.promote('cam'), true);
  assert.equal(hub.promote('cam'), false, 'once');
  assert.deepEqual(starts, ['cam']);
  assert.equal(hub.isLive('cam'), true);
  assert.equal(hub.stats('cam')?.role, 'primary');
  assert.equal(hub.backups.size, 0);
  assert.ok(out.tracks >= 1);
  assert.ok(out.frames.length > 0 && out.frames[0]!.keyframe, 'the cached GOP from its keyframe');
  // Frames after the promotion flow on.
  const before = out.frames.length;
  for (const t of fixture().slice(20, 30)) reader.tag(t.type, t.timestamp, t.data);
  assert.ok(out.frames.length > before);
});

test('fence keeps the primary live and says so once; kick ends primary and backup', () => {
  const { hub } = makeHub('primary');
  const fenced: string[] = [];
  hub.on(HUB_EVENT_STREAM_FENCED, (c: string) => fenced.push(c));
  let closed = '';
  hub.publish('cam', { protocol: 'rtmp', close: (r) => (closed = r) });
  assert.equal(hub.fence('cam'), true);
  assert.equal(hub.fence('cam'), false);
  assert.equal(hub.fence('other'), false, 'nothing to fence');
  assert.deepEqual(fenced, ['cam']);
  assert.equal(hub.isLive('cam'), true);
  assert.equal(hub.isFenced('cam'), true);
  assert.equal(hub.stats('cam')?.isolated, true);
  assert.equal(hub.kick('cam', 'ended by an admin'), true);
  assert.equal(closed, 'ended by an admin');
  assert.equal(hub.isFenced('cam'), false);

  const standby = makeHub('backup').hub;
  let backupClosed = '';
  const b = standby.publish('cam', { protocol: 'rtmp', close: (r) => (backupClosed = r) })!;
  assert.equal(standby.kick('cam', 'ended by the channel owner'), true, 'a backup alone is kicked too');
  assert.equal(backupClosed, 'ended by the channel owner');
  assert.equal(b.kicked, true);
  assert.equal(standby.holds('cam'), false);
});

test('codecMismatch compares the kinds both sides announced', () => {
  const primary = { video: { codec: 'avc' }, audio: { codec: 'aac' } };
  assert.equal(codecMismatch({ video: { codec: 'avc', codecString: 'avc1', width: 1, height: 1 } }, primary), null, 'audio not announced yet');
  assert.equal(codecMismatch({ video: { codec: 'avc', codecString: '' }, audio: { codec: 'aac', codecString: '' } }, primary), null);
  assert.equal(codecMismatch({ video: { codec: 'hevc', codecString: '' } }, primary), 'the backup\'s video codec (hevc) differs from the primary\'s (avc)');
  assert.equal(codecMismatch({ audio: { codec: 'mp3', codecString: '' } }, primary), 'the backup\'s audio codec (mp3) differs from the primary\'s (aac)');
  assert.equal(codecMismatch({ video: { codec: 'hevc', codecString: '' } }, {}), null, 'the primary\'s codecs not known yet');
});

test('a pull of the channel may run beside a backup; the backup is promoted once the pull ended', () => {
  const { hub } = makeHub('backup');
  let role: StreamRole = 'backup';
  hub.setArbiter({ roleFor: () => role });
  hub.publish('cam', { protocol: 'rtmp', close: () => undefined });
  role = 'primary';
  const pull = hub.publish('cam', { protocol: 'relay', close: () => undefined })!;
  assert.ok(pull, 'the pull goes live beside the backup');
  assert.equal(hub.publish('cam', { protocol: 'relay', close: () => undefined }), null, 'one primary');
  assert.equal(hub.promote('cam'), false, 'not while the pull is live');
  pull.end('origin gone');
  assert.equal(hub.promote('cam'), true);
  assert.equal(hub.stats('cam')?.publisher.protocol, 'rtmp');
});
