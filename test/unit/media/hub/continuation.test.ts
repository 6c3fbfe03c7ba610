// Failover inside one node's hub: the players of an edge stream (pulled from the old primary)
// continue on the local stream that replaces it — the promoted backup, or a publisher that
// reconnected here — on the same connections, with timestamps that keep going forward, the new
// codec headers before the new frames, and the pull ended without ending them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setImmediate as tick } from 'node:timers/promises';
import { StreamHub, EDGE_REPLACED_REASON, type StreamRole } from '../../../../src/media/hub/hub.js';
import { FlvFrameReader } from '../../../../src/media/flv/frame-reader.js';
import type { Batch, OutTag } from '../../../../src/media/hub/batch.js';
import type { StartInfo, Viewer } from '../../../../src/media/hub/viewer.js';
import type { MediaFrame, StreamSubscriber } from '../../../../src/media/hub/types.js';
import { continuationOffset, CONTINUATION_STEP_MS } from '../../../../src/media/hub/continuation.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { FlvParser, FLV_TAG_AUDIO, FLV_TAG_SCRIPT, FLV_TAG_VIDEO, type FlvTag } from '../../../../src/formats/flv.js';

function fixture(): FlvTag[] {
  const tags: FlvTag[] = [];
  new FlvParser({ onTag: (t) => tags.push(t) }).push(readFileSync(new URL('../../../fixtures/media/h264-aac-640x360.flv', import.meta.url)));
  return tags.filter((t) => t.type !== FLV_TAG_SCRIPT);
}

function makeHub() {
  let role: StreamRole = 'primary';
  const hub = new StreamHub({
    logger: silentLogger(), gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1 << 30, viewerQueueMaxBytes: 1 << 30, viewerStallMs: 60_000,
    flushIntervalMs: 0, rtmpChunkSize: 4096,
  });
  hub.setArbiter({ roleFor: () => role });
  return { hub, setRole: (r: StreamRole) => (role = r) };
}

/** TagViewer keeps every tag it was sent, in order, and how it was started and ended. */
class TagViewer implements Viewer {
  onClose?: () => void;
  readonly protocol = 'flv' as const;
  starts = 0;
  ended: string | null = null;
  tags: { type: number; dts: number; header: boolean; keyframe: boolean }[] = [];
  queuedBytes = () => 0;
  private keep(ts: OutTag[]): void {
    for (const t of ts) this.tags.push({ type: t.type, dts: t.dts, header: t.header, keyframe: t.keyframe });
  }
  start(info: StartInfo): number {
    this.starts++;
    this.keep([...info.headers, ...info.gop]);
    return 1;
  }
  write(b: Batch): number {
    this.keep(b.tags);
    return 1;
  }
  end(reason: string): void {
    this.ended = reason;
  }
  /** mediaDts lists the decode times of the audio and video frames received, per kind. */
  mediaDts(type: number): number[] {
    return this.tags.filter((t) => t.type === type && !t.header).map((t) => t.dts);
  }
}

class Frames implements StreamSubscriber {
  frames: MediaFrame[] = [];
  tracks = 0;
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

function feed(reader: FlvFrameReader, tags: FlvTag[], shift: number): void {
  for (const t of tags) reader.tag(t.type, t.timestamp + shift, t.data);
}

const nonDecreasing = (xs: number[]) => xs.every((x, i) => i === 0 || x >= (xs[i - 1] ?? x));

test('continuationOffset puts the new source right after the last frame played, whatever its clock', () => {
  assert.equal(continuationOffset({ video: -1, audio: -1 }, 5000), 0, 'nothing played: own times');
  assert.equal(continuationOffset({ video: 9000, audio: 9010 }, 100), 9010 + CONTINUATION_STEP_MS - 100);
  assert.equal(continuationOffset({ video: 200, audio: 190 }, 50_000), 200 + CONTINUATION_STEP_MS - 50_000, 'a source ahead is moved back');
});

test('promotion: the edge stream\'s viewers and players continue on the promoted backup, timestamps going on', async () => {
  const { hub, setRole } = makeHub();
  const tags = fixture();
  const closed: string[] = [];
  const edge = hub.publish('cam', { protocol: 'edge', close: (r) => closed.push(r) })!;
  const viewer = new TagViewer();
  assert.ok(hub.addViewer('cam', viewer));
  const player = new Frames();
  const unsubscribe = hub.subscribe('cam', player, { playback: true });
  // The old primary's stream as pulled: far along its own clock.
  feed(new FlvFrameReader(edge), tags.slice(0, 60), 50_000);
  await tick();
  const before = viewer.tags.length;
  const playedUpTo = Math.max(...viewer.mediaDts(FLV_TAG_VIDEO), ...viewer.mediaDts(FLV_TAG_AUDIO));
  assert.ok(playedUpTo >= 50_000);

  // The backup, on its own clock from 0, then promoted.
  setRole('backup');
  const backup = hub.publish('cam', { protocol: 'rtmp', close: () => undefined })!;
  const reader = new FlvFrameReader(backup);
  feed(reader, tags.slice(0, 60), 0);
  assert.equal(hub.promote('cam'), true);
  assert.equal(hub.streams.get('cam'), backup);
  assert.equal(hub.edges.has('cam'), false, 'the pull ended');
  assert.deepEqual(closed, [EDGE_REPLACED_REASON], 'the pull was told why');
  assert.equal(viewer.ended, null, 'the viewer was not ended');
  assert.equal(viewer.starts, 1, 'no second stream header: the same connection goes on');
  assert.equal(player.ended, null);
  assert.equal(backup.subscribers.has(player), true);

  feed(reader, tags.slice(60, 120), 0);
  await tick();
  const after = viewer.tags.slice(before);
  // Codec headers first, then media from a keyframe, all after what was played.
  const firstMedia = after.findIndex((t) => !t.header);
  assert.ok(firstMedia > 0, 'codec headers come before the new frames');
  assert.ok(after.slice(0, firstMedia).every((t) => t.header && t.type !== FLV_TAG_SCRIPT));
  const firstVideo = after.find((t) => !t.header && t.type === FLV_TAG_VIDEO);
  assert.equal(firstVideo?.keyframe, true, 'the new video starts at a keyframe');
  for (const t of after) assert.ok(t.dts > playedUpTo, `tag at ${t.dts} is not after ${playedUpTo}`);
  assert.ok(nonDecreasing(viewer.mediaDts(FLV_TAG_VIDEO)) && nonDecreasing(viewer.mediaDts(FLV_TAG_AUDIO)), 'per kind, timestamps never go back');
  // The playback subscriber gets the promoted stream's frames on the same timeline.
  const moved = player.frames.filter((f) => f.dts > playedUpTo);
  assert.ok(moved.length > 0);
  assert.ok(player.tracks >= 2, 'the new tracks were announced');
  // Its unsubscribe still detaches it from where it is now.
  unsubscribe();
  assert.equal(backup.subscribers.has(player), false);
  assert.equal(hub.viewerCount.flv, 1);
  backup.end('done');
  assert.equal(viewer.ended, 'done');
  assert.equal(hub.viewerCount.flv, 0);
});

test('a publisher that reconnects to this node takes over the players of its channel\'s pull', async () => {
  const { hub } = makeHub();
  const tags = fixture();
  const edge = hub.publish('cam', { protocol: 'edge', close: () => undefined })!;
  const viewer = new TagViewer();
  hub.addViewer('cam', viewer);
  feed(new FlvFrameReader(edge), tags.slice(0, 40), 7000);
  await tick();
  const playedUpTo = Math.max(...viewer.mediaDts(FLV_TAG_VIDEO), ...viewer.mediaDts(FLV_TAG_AUDIO));
  const before = viewer.tags.length;
  // The origin died; the broadcaster's encoder reconnects here and starts its clock again at 0.
  const local = hub.publish('cam', { protocol: 'rtmp', close: () => undefined });
  assert.ok(local);
  assert.equal(local.from, 'local');
  assert.equal(hub.edges.has('cam'), false);
  assert.equal(viewer.ended, null);
  feed(new FlvFrameReader(local), tags.slice(0, 40), 0);
  await tick();
  const after = viewer.tags.slice(before);
  assert.ok(after.length > 0);
  assert.ok(after[0]?.header, 'the new codec headers come first');
  for (const t of after) assert.ok(t.dts > playedUpTo, `tag at ${t.dts} is not after ${playedUpTo}`);
  assert.ok(nonDecreasing(viewer.mediaDts(FLV_TAG_VIDEO)) && nonDecreasing(viewer.mediaDts(FLV_TAG_AUDIO)));
  assert.equal(viewer.starts, 1);
  // A pull of the channel is refused now that it is published here.
  assert.equal(hub.publish('cam', { protocol: 'edge', close: () => undefined }), null);
});

test('without an edge stream a promotion keeps the backup\'s own times', () => {
  const { hub, setRole } = makeHub();
  setRole('backup');
  const b = hub.publish('cam', { protocol: 'rtmp', close: () => undefined })!;
  const out = new Frames();
  feed(new FlvFrameReader(b), fixture().slice(0, 30), 0);
  hub.subscribe('cam', out);
  assert.equal(hub.promote('cam'), true);
  assert.ok(out.frames.length > 0);
  assert.ok(out.frames.every((f) => f.dts < 5000), 'not shifted');
});
