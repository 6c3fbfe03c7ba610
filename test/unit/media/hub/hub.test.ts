import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { StreamHub } from '../../../../src/media/hub/hub.js';
import { FlvFrameReader, metadataOf, type FrameSink } from '../../../../src/media/flv/frame-reader.js';
import { flvTagOf } from '../../../../src/media/flv/frame-tags.js';
import type { Batch } from '../../../../src/media/hub/batch.js';
import type { StartInfo, Viewer } from '../../../../src/media/hub/viewer.js';
import type { MediaFrame } from '../../../../src/media/hub/types.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { FlvParser, FLV_TAG_AUDIO, FLV_TAG_SCRIPT, FLV_TAG_VIDEO, type FlvTag } from '../../../../src/formats/flv.js';
import { encodeAmf0, type Amf0Object } from '../../../../src/formats/amf0.js';

function fixture(): FlvTag[] {
  const tags: FlvTag[] = [];
  new FlvParser({ onTag: (t) => tags.push(t) }).push(readFileSync(new URL('../../../fixtures/media/h264-aac-640x360.flv', import.meta.url)));
  return tags.filter((t) => t.type !== FLV_TAG_SCRIPT);
}

class FakeViewer implements Viewer {
  readonly protocol = 'flv' as const;
  onClose?: () => void;
  queued = 0;
  started: StartInfo | null = null;
  batches: Batch[] = [];
  ended: { reason: string; clean: boolean } | null = null;
  queuedBytes(): number {
    return this.queued;
  }
  start(info: StartInfo): number {
    this.started = info;
    return 1;
  }
  write(batch: Batch): number {
    this.batches.push(batch);
    return batch.flvChunked().length;
  }
  end(reason: string, clean: boolean): void {
    this.ended = { reason, clean };
  }
  tags() {
    return this.batches.flatMap((b) => b.tags);
  }
}

function makeHub(over: Partial<ConstructorParameters<typeof StreamHub>[0]> = {}) {
  const published: [string, unknown][] = [];
  const hub = new StreamHub({
    logger: silentLogger(), gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1000, viewerQueueMaxBytes: 5000, viewerStallMs: 60_000,
    flushIntervalMs: 0, rtmpChunkSize: 4096,
    events: { publish: async (ch, data) => (published.push([ch, data]), {}) },
    ...over,
  });
  return { hub, published };
}

const flushTurn = () => new Promise((r) => setImmediate(r));

/** flv gives a stream's FLV edge (what an RTMP publish feeds), one per stream. */
const readers = new WeakMap<FrameSink, FlvFrameReader>();
function flv(s: FrameSink): FlvFrameReader {
  let r = readers.get(s);
  if (!r) readers.set(s, (r = new FlvFrameReader(s)));
  return r;
}

test('late joiners get codec headers and the GOP from its keyframe; every viewer gets the same Buffers', async () => {
  const { hub, published } = makeHub();
  const tags = fixture();
  const s = hub.publish('c', { protocol: 'rtmp', close: () => {} })!;
  assert.equal(hub.publish('c', { protocol: 'rtmp', close: () => {} }), null, 'one publisher per channel');
  flv(s).metadata({ width: 640, height: 360 });
  for (const t of tags.slice(0, 10)) flv(s).tag(t.type, t.timestamp, t.data);
  assert.equal(s.video?.width, 640);
  assert.equal(s.audio?.codecString, 'mp4a.40.2');
  const a = new FakeViewer();
  const b = new FakeViewer();
  hub.addViewer('c', a);
  hub.addViewer('c', b);
  assert.equal(a.started!.headers.length, 3); // metadata, video and audio headers
  assert.ok(a.started!.gop[0]!.keyframe);
  assert.ok(a.started!.gop.length >= 5);
  for (const t of tags.slice(10, 30)) flv(s).tag(t.type, t.timestamp, t.data);
  await flushTurn();
  assert.equal(a.batches.length, 1);
  assert.equal(a.batches[0], b.batches[0], 'the same batch object');
  assert.equal(a.batches[0]!.flvChunked(), b.batches[0]!.flvChunked(), 'framed once, same Buffer');
  assert.equal(a.tags().length, 20);
  assert.equal(hub.stats('c')!.viewers.flv, 2);
  const ended = new Promise((r) => hub.once('streamEnd', (...args) => r(args)));
  s.end('publisher left');
  assert.deepEqual(await ended, ['c', 'publisher left']);
  assert.deepEqual(a.ended, { reason: 'publisher left', clean: true });
  assert.equal(hub.isLive('c'), false);
  assert.deepEqual(published.map(([ch, d]) => [ch, (d as { type: string }).type]), [['events:c', 'live'], ['events:c', 'offline']]);
});

test('a backed-up viewer skips to the next keyframe (with headers), and is dropped past the limit', async () => {
  const { hub } = makeHub();
  const tags = fixture();
  const s = hub.publish('c', { protocol: 'rtmp', close: () => {} })!;
  for (const t of tags.slice(0, 5)) flv(s).tag(t.type, t.timestamp, t.data);
  const slow = new FakeViewer();
  const fine = new FakeViewer();
  hub.addViewer('c', slow);
  hub.addViewer('c', fine);
  slow.queued = 2000; // over the skip threshold
  for (const t of tags.slice(5, 20)) flv(s).tag(t.type, t.timestamp, t.data);
  await flushTurn();
  assert.equal(slow.batches.length, 0);
  assert.equal(fine.tags().length, 15);
  assert.ok(hub.counters.dropped.slow_viewer! > 0);
  // drained: it resumes at the next keyframe, not mid-GOP
  slow.queued = 0;
  for (const t of tags.slice(20, 40)) flv(s).tag(t.type, t.timestamp, t.data);
  await flushTurn();
  assert.equal(slow.batches.length, 0, 'no keyframe yet, still waiting');
  // next GOP: replay the fixture shifted in time (it starts with its keyframe)
  for (const t of tags.slice(2, 10)) flv(s).tag(t.type, t.timestamp + 2000, t.data);
  await flushTurn();
  const got = slow.tags();
  assert.ok(got.length > 0);
  assert.ok(got.find((t) => !t.header)!.keyframe, 'resumes on a keyframe');
  slow.queued = 10_000; // over the maximum
  for (const t of tags.slice(10, 12)) flv(s).tag(t.type, t.timestamp + 2000, t.data);
  await flushTurn();
  assert.deepEqual(slow.ended, { reason: 'slow viewer', clean: false });
  assert.equal(hub.stats('c')!.viewers.flv, 1);
  assert.equal(fine.ended, null);
});

test('GOP cache is bounded; subscribers wait for the stream and get tracks, the GOP and the end', async () => {
  const { hub } = makeHub({ gopCacheMaxFrames: 5 });
  const frames: MediaFrame[] = [];
  let tracks = 0;
  let endReason = '';
  hub.subscribe('later', { onTracks: () => tracks++, onFrame: (f) => frames.push(f), onEnd: (r) => (endReason = r) });
  const tags = fixture();
  const s = hub.publish('later', { protocol: 'relay', close: () => {} })!;
  for (const t of tags.slice(0, 20)) flv(s).tag(t.type, t.timestamp, t.data);
  assert.equal(tracks, 2);
  assert.equal(frames.length, 18); // 20 tags minus the two codec headers
  const firstVideo = frames.find((f) => f.kind === 'video')!;
  assert.ok(firstVideo.keyframe);
  assert.equal(flvTagOf(firstVideo).readUIntBE(1, 3) + 15, flvTagOf(firstVideo).length);
  const v = new FakeViewer();
  hub.addViewer('later', v);
  assert.equal(v.started!.gop.length, 0, 'GOP longer than the bound is not cached');
  s.end('done');
  assert.equal(endReason, 'done');
});

test('Enhanced RTMP HEVC passes through: FourCC sequence start describes the track, frames keep their bytes', () => {
  const { hub } = makeHub();
  const hvcc = readFileSync(new URL('../../../fixtures/media/hevc-640x360.hvcC', import.meta.url));
  const s = hub.publish('hevc', { protocol: 'rtmp', close: () => {} })!;
  // keyframe | isExHeader | SequenceStart, 'hvc1', hvcC
  flv(s).tag(9, 0, Buffer.concat([Buffer.from([0x90]), Buffer.from('hvc1'), hvcc]));
  assert.equal(s.video?.codec, 'hevc');
  assert.equal(s.video?.codecString, 'hvc1.1.6.L63.90');
  assert.equal(s.video?.width, 640);
  const frames: MediaFrame[] = [];
  hub.subscribe('hevc', { onFrame: (f) => frames.push(f) });
  // keyframe | isExHeader | CodedFrames, 'hvc1', cts 40, one NAL unit
  const body = Buffer.concat([Buffer.from([0x91]), Buffer.from('hvc1'), Buffer.from([0, 0, 40]), Buffer.from([0, 0, 0, 2, 0x26, 0x01])]);
  flv(s).tag(9, 1000, body);
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.keyframe, true);
  assert.equal(frames[0]!.pts, 1040);
  assert.deepEqual(frames[0]!.data, Buffer.from([0, 0, 0, 2, 0x26, 0x01]));
  assert.equal(frames[0]!.codec, 'hevc');
  assert.deepEqual(flvTagOf(frames[0]!).subarray(11, -4), body, 'FLV tag carries the enhanced body unchanged');
  s.end('done');
});

test('FLV sources: script data becomes metadata (with or without @setDataFrame), A/V becomes tracks and frames, junk is counted', () => {
  const got: string[] = [];
  const sink: FrameSink = {
    setTracks: (v, a, dts) => got.push(`tracks ${v?.codec ?? '-'} ${a?.codec ?? '-'} ${dts}`),
    pushFrame: (f) => got.push(`frame ${f.codec} ${f.dts} ${f.data.length}`),
    setMetadata: (m: Amf0Object) => got.push(`meta ${m.width}`),
    badInput: () => got.push('bad'),
  };
  const r = new FlvFrameReader(sink);
  r.tag(FLV_TAG_SCRIPT, 0, encodeAmf0('@setDataFrame', 'onMetaData', { width: 640 }));
  r.tag(FLV_TAG_SCRIPT, 0, encodeAmf0('onMetaData', { width: 320 }));
  r.tag(FLV_TAG_SCRIPT, 0, encodeAmf0('onCuePoint', { name: 'x' }));
  r.tag(FLV_TAG_SCRIPT, 0, Buffer.from([0x02, 0x00, 0xff])); // truncated AMF0 string
  r.tag(FLV_TAG_AUDIO, 5, Buffer.from('af001210', 'hex')); // AAC sequence header: 44.1 kHz stereo
  r.tag(FLV_TAG_VIDEO, 40, Buffer.from('270100000000000001aa', 'hex')); // AVC inter frame, one 1-byte NAL unit
  r.tag(FLV_TAG_AUDIO, 41, Buffer.from('af01abcd', 'hex'));
  r.tag(FLV_TAG_VIDEO, 42, Buffer.alloc(5)); // legacy codec id 0: not a codec we carry
  r.tag(FLV_TAG_AUDIO, 43, Buffer.alloc(3)); // sound format 0 (PCM)
  r.tag(FLV_TAG_VIDEO, 44, Buffer.from('17', 'hex')); // AVC header cut short
  r.tag(99, 45, Buffer.alloc(1));
  assert.deepEqual(got, ['meta 640', 'meta 320', 'tracks - aac 5', 'frame avc 40 5', 'frame aac 41 2', 'bad', 'bad', 'bad']);
  assert.equal(metadataOf(['onMetaData', [1, 2]]), null, 'an array is not metadata');
  assert.equal(metadataOf(['onMetaData', new Date(0)]), null, 'a date is not metadata');
});
