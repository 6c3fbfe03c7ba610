/**
 * The FLV edge and the FLV output: FLV tags → frames (FlvFrameReader) → FLV tags (flvTagOf, and the
 * codec-field encoder encodeFrameTag) byte for byte, golden bytes per codec, and the memoised tag
 * shared by every viewer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FlvParser, FLV_TAG_AUDIO, FLV_TAG_SCRIPT, FLV_TAG_VIDEO, encodeFlvTag, type FlvTag } from '../../../../src/formats/flv.js';
import type { Amf0Object } from '../../../../src/formats/amf0.js';
import { FlvFrameReader, type FrameSink } from '../../../../src/media/flv/frame-reader.js';
import { encodeFrameTag, flvBodyOf, flvMetadataOf, flvTagOf, sequenceHeaderBodyOf } from '../../../../src/media/flv/frame-tags.js';
import { StreamHub } from '../../../../src/media/hub/hub.js';
import type { Batch } from '../../../../src/media/hub/batch.js';
import type { StartInfo, Viewer } from '../../../../src/media/hub/viewer.js';
import type { AudioTrackInfo, MediaFrame, VideoTrackInfo } from '../../../../src/media/hub/types.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { at } from '../../../../testkit/at.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function fixtureTags(name: string): FlvTag[] {
  const tags: FlvTag[] = [];
  new FlvParser({ onTag: (t) => tags.push(t) }).push(readFileSync(new URL(`../../../fixtures/media/${name}`, import.meta.url)));
  return tags;
}

type Emitted = { tag: FlvTag; out: { kind: 'frame'; frame: MediaFrame } | { kind: 'track'; track: VideoTrackInfo | AudioTrackInfo } | { kind: 'meta'; meta: Amf0Object } | null };

/** readAll runs every tag through one FlvFrameReader and pairs it with what came out. */
function readAll(tags: FlvTag[]): Emitted[] {
  let out: Emitted['out'] = null;
  const sink: FrameSink = {
    setTracks: (v, a) => (out = { kind: 'track', track: (v ?? a)! }),
    pushFrame: (frame) => (out = { kind: 'frame', frame }),
    setMetadata: (meta) => (out = { kind: 'meta', meta }),
    badInput: (m) => assert.fail(`bad input: ${m}`),
  };
  const r = new FlvFrameReader(sink);
  return tags.map((tag) => {
    out = null;
    r.tag(tag.type, tag.timestamp, tag.data);
    return { tag, out };
  });
}

for (const name of ['h264-aac-640x360.flv', 'h264-high-426x240-mono48k.flv']) {
  test(`round trip of an ffmpeg capture (${name}): FLV tags → frames → FLV tags, byte-identical`, () => {
    const all = readAll(fixtureTags(name));
    let frames = 0;
    let tracks = 0;
    for (const { tag, out } of all) {
      if (!out) continue;
      const wire = encodeFlvTag(tag.type, tag.timestamp, tag.data);
      if (out.kind === 'frame') {
        frames++;
        assert.deepEqual(flvTagOf(out.frame), wire, 'the lent tag');
        // The encoder from codec fields makes the same bytes (what SRT/RTSP/WHIP frames get).
        assert.deepEqual(encodeFrameTag(out.frame), wire, `codec-field encoding of a ${out.frame.codec} frame at ${tag.timestamp}`);
        assert.deepEqual(flvBodyOf(out.frame), tag.data);
      } else if (out.kind === 'track') {
        tracks++;
        assert.deepEqual(sequenceHeaderBodyOf(out.track), tag.data, 'the lent sequence header');
        // A copy of the track is not lent anything: its header is built from the config.
        assert.deepEqual(sequenceHeaderBodyOf({ ...out.track }), tag.data, `${out.track.codec} sequence header from the config`);
      } else assert.equal(tag.type, FLV_TAG_SCRIPT);
    }
    assert.ok(frames >= 5, `${frames} frames`);
    assert.equal(tracks, 2);
    // Every tag of the file but the trailing AVC end-of-sequence turned into something.
    assert.ok(all.filter((e) => !e.out).every((e) => e.tag.type === FLV_TAG_VIDEO && e.tag.data[1] === 2));
  });
}

const FRAME_GOLDEN: { name: string; frame: MediaFrame; bytes: string }[] = [
  {
    name: 'AVC inter frame, CTS 80 (legacy header)',
    frame: { kind: 'video', codec: 'avc', dts: 40, pts: 120, keyframe: false, data: h('00000002 419a') },
    bytes: '09 00000b 000028 00 000000  27 01 000050 00000002419a  00000016',
  },
  {
    name: 'HEVC keyframe, CTS 40 (Enhanced RTMP CodedFrames, hvc1)',
    frame: { kind: 'video', codec: 'hevc', dts: 1000, pts: 1040, keyframe: true, data: h('00000002 2601') },
    bytes: '09 00000e 0003e8 00 000000  91 68766331 000028 000000022601  00000019',
  },
  {
    name: 'AV1 inter frame (Enhanced RTMP CodedFrames, av01, no CTS)',
    frame: { kind: 'video', codec: 'av1', dts: 0x01000000, pts: 0x01000000, keyframe: false, data: h('12 00 32') },
    bytes: '09 000008 000000 01 000000  a1 61763031 120032  00000013',
  },
  {
    name: 'AAC raw frame',
    frame: { kind: 'audio', codec: 'aac', dts: 23, pts: 23, keyframe: true, data: h('21 10 04') },
    bytes: '08 000005 000017 00 000000  af01 211004  00000010',
  },
  {
    name: 'MP3 frame (44.1 kHz stereo flags)',
    frame: { kind: 'audio', codec: 'mp3', dts: 26, pts: 26, keyframe: true, data: h('fffb90') },
    bytes: '08 000004 00001a 00 000000  2f fffb90  0000000f',
  },
];

for (const g of FRAME_GOLDEN) {
  test(`encodeFrameTag golden: ${g.name}`, () => {
    assert.deepEqual(encodeFrameTag(g.frame), h(g.bytes));
    // and back through the FLV edge
    const got = readAll([{ type: g.frame.kind === 'video' ? FLV_TAG_VIDEO : FLV_TAG_AUDIO, timestamp: g.frame.dts, data: h(g.bytes).subarray(11, -4) }])[0]!.out;
    assert.ok(got?.kind === 'frame');
    assert.deepEqual({ ...got.frame, data: Buffer.from(got.frame.data) }, g.frame);
  });
}

test('sequence headers from track configs: HEVC and AV1 as Enhanced RTMP SequenceStart, none for MP3', () => {
  const hevc: VideoTrackInfo = { codec: 'hevc', config: h('01 02'), width: 0, height: 0, codecString: 'hvc1' };
  const av1: VideoTrackInfo = { codec: 'av1', config: h('81 00 0c'), width: 0, height: 0, codecString: 'av01' };
  const mp3: AudioTrackInfo = { codec: 'mp3', config: Buffer.alloc(0), sampleRate: 44100, channels: 2, codecString: 'mp4a.40.34' };
  assert.deepEqual(sequenceHeaderBodyOf(hevc), h('90 68766331 0102'));
  assert.deepEqual(sequenceHeaderBodyOf(av1), h('90 61763031 81000c'));
  assert.equal(sequenceHeaderBodyOf(mp3), null);
  assert.equal(sequenceHeaderBodyOf(hevc), sequenceHeaderBodyOf(hevc), 'built once');
});

test('flvMetadataOf names the codecs only where the metadata does not', () => {
  const video: VideoTrackInfo = { codec: 'hevc', config: Buffer.alloc(0), width: 0, height: 0, codecString: '' };
  const audio: AudioTrackInfo = { codec: 'aac', config: Buffer.alloc(0), sampleRate: 48000, channels: 2, codecString: '' };
  assert.deepEqual(flvMetadataOf({ width: 640 }, video, audio), { width: 640, videocodecid: 0x68766331, audiocodecid: 10 });
  const rtmp = { videocodecid: 7, audiocodecid: 10 };
  assert.equal(flvMetadataOf(rtmp, video, audio), rtmp, 'publisher metadata is kept as it is');
});

test('a lent tag follows the decode time the hub moved forward', () => {
  const { hub } = makeHub();
  const s = hub.publish('c', { protocol: 'rtmp', close: () => undefined })!;
  const frames: MediaFrame[] = [];
  hub.subscribe('c', { onFrame: (f) => frames.push(f) });
  const r = new FlvFrameReader(s);
  r.tag(FLV_TAG_AUDIO, 0, h('af00 1210')); // the AAC sequence header: frames before it are undecodable and dropped
  r.tag(FLV_TAG_AUDIO, 100, h('af01 0102'));
  r.tag(FLV_TAG_AUDIO, 99, h('af01 0304')); // steps back by 1 ms
  assert.deepEqual(frames.map((f) => f.dts), [100, 100]);
  assert.deepEqual(flvTagOf(at(frames, 1)), encodeFlvTag(FLV_TAG_AUDIO, 100, h('af01 0304')));
});

class RecordingViewer implements Viewer {
  readonly protocol = 'flv' as const;
  onClose?: () => void;
  batches: Batch[] = [];
  queuedBytes(): number {
    return 0;
  }
  start(_info: StartInfo): number {
    return 0;
  }
  write(batch: Batch): number {
    this.batches.push(batch);
    return batch.flvChunked().length;
  }
  end(): void {}
}

function makeHub() {
  const hub = new StreamHub({
    logger: silentLogger(), gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1 << 20, viewerQueueMaxBytes: 1 << 22, viewerStallMs: 60_000,
    flushIntervalMs: 0, rtmpChunkSize: 4096,
  });
  return { hub };
}

test('memoised: two viewers and a frame consumer get the very same FLV tag Buffer, encoded once', async () => {
  const { hub } = makeHub();
  const s = hub.publish('c', { protocol: 'srt', close: () => undefined })!;
  s.setTracks({ codec: 'avc', config: h('0164001fff'), width: 1280, height: 720, codecString: 'avc1.64001f' }, undefined);
  const seen: Buffer[] = [];
  // A consumer that wants FLV (like the ABR transcoder's stdin) asks before the viewers' flush.
  hub.subscribe('c', { onFrame: (f) => seen.push(flvTagOf(f)) });
  const a = new RecordingViewer();
  const b = new RecordingViewer();
  hub.addViewer('c', a);
  hub.addViewer('c', b);
  const frame: MediaFrame = { kind: 'video', codec: 'avc', dts: 0, pts: 0, keyframe: true, data: h('00000002 6588') };
  s.pushFrame(frame);
  await new Promise((r) => setImmediate(r));
  const ta = at(a.batches, 0).tags.find((t) => t.frame === frame)!;
  const tb = at(b.batches, 0).tags.find((t) => t.frame === frame)!;
  assert.equal(ta, tb, 'one OutTag');
  assert.equal(ta.flv, flvTagOf(frame), 'the viewers get the memoised tag');
  assert.equal(seen[0], flvTagOf(frame), 'the same Buffer object the consumer got');
  assert.equal(at(a.batches, 0).flvChunked(), at(b.batches, 0).flvChunked(), 'framed once per flush');
  assert.equal(at(a.batches, 0).rtmp(4096), at(b.batches, 0).rtmp(4096), 'RTMP chunks made once per flush');
  s.end('done');
});

test('a codec the hub does not model is reported as a dropped track once per kind (and each frame counted as bad input)', () => {
  const dropped: unknown[] = [];
  let bad = 0;
  const sink: FrameSink = {
    setTracks: () => assert.fail('no track'),
    pushFrame: () => assert.fail('no frame'),
    setMetadata: () => undefined,
    badInput: () => bad++,
    droppedTrack: (t) => dropped.push(t),
  };
  const r = new FlvFrameReader(sink);
  r.tag(FLV_TAG_AUDIO, 0, h('b6 0011')); // Speex (sound format 11)
  r.tag(FLV_TAG_AUDIO, 20, h('b6 0022'));
  r.tag(FLV_TAG_AUDIO, 40, h('3e 0011')); // PCM little-endian (3): the first unmodelled audio codec is the one reported
  r.tag(FLV_TAG_VIDEO, 0, h('14 00112233')); // VP6 (codec id 4), keyframe
  r.tag(FLV_TAG_VIDEO, 40, h('24 00112233'));
  assert.deepEqual(dropped, [
    { kind: 'audio', codec: 'speex', reason: 'unsupported_codec' },
    { kind: 'video', codec: 'vp6', reason: 'unsupported_codec' },
  ]);
  assert.equal(bad, 5);
});
