import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  FlvParser, FlvError, encodeFlvHeader, encodeFlvTag, parseVideoTagHeader, parseAudioTagHeader, flvTagBody,
  FLV_TAG_AUDIO, FLV_TAG_VIDEO, FLV_TAG_SCRIPT, VIDEO_CODEC_AVC, AVC_PACKET_SEQUENCE_HEADER, AUDIO_FORMAT_AAC,
  AAC_PACKET_SEQUENCE_HEADER, type FlvTag, avcVideoTagHead, exVideoTagHead, AVC_PACKET_NALU, EX_PACKET_CODED_FRAMES, EX_PACKET_CODED_FRAMES_X,
  EX_PACKET_SEQUENCE_START, FOURCC_AV1, FOURCC_HEVC, VIDEO_FRAME_INTER, VIDEO_FRAME_KEY, AAC_RAW_TAG_HEAD, AAC_SEQUENCE_TAG_HEAD, MP3_TAG_HEAD,
} from '../../../src/formats/flv.js';
import { decodeAmf0 } from '../../../src/formats/amf0.js';
import { describeAvcConfig } from '../../../src/formats/avc.js';
import { parseAudioSpecificConfig } from '../../../src/formats/aac.js';
import { at } from '../../../testkit/at.js';

const FIXTURE = new URL('../../fixtures/media/h264-aac-640x360.flv', import.meta.url);
const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function parseAll(buf: Buffer, step = buf.length): { tags: FlvTag[]; flags: { audio: boolean; video: boolean } | null } {
  const tags: FlvTag[] = [];
  let flags: { audio: boolean; video: boolean } | null = null;
  const p = new FlvParser({ onHeader: (f) => (flags = f), onTag: (t) => tags.push(t) });
  for (let i = 0; i < buf.length; i += step) p.push(buf.subarray(i, i + step));
  return { tags, flags };
}

test('FLV header and tag golden bytes', () => {
  assert.deepEqual(encodeFlvHeader(true, true), h('464c5601 05 00000009 00000000'));
  assert.deepEqual(encodeFlvHeader(false, true), h('464c5601 01 00000009 00000000'));
  // video tag, 3-byte body, timestamp 0x01020304 (extension byte carries the top 8 bits)
  assert.deepEqual(encodeFlvTag(FLV_TAG_VIDEO, 0x01020304, h('aabbcc')), h('09 000003 020304 01 000000 aabbcc 0000000e'));
});

test('parses an ffmpeg FLV capture the same whole and byte by byte, and re-encodes it exactly', () => {
  const file = readFileSync(FIXTURE);
  const whole = parseAll(file);
  const bytewise = parseAll(file, 1);
  assert.deepEqual(whole.flags, { audio: true, video: true });
  assert.equal(whole.tags.length, bytewise.tags.length);
  assert.ok(whole.tags.length > 40);
  for (let i = 0; i < whole.tags.length; i++) assert.deepEqual(whole.tags[i], bytewise.tags[i]);
  const rebuilt = Buffer.concat([encodeFlvHeader(true, true), ...whole.tags.map((t) => encodeFlvTag(t.type, t.timestamp, t.data))]);
  assert.deepEqual(rebuilt, file);
});

test('ffmpeg capture: onMetaData, AVC and AAC sequence headers describe the stream', () => {
  const { tags } = parseAll(readFileSync(FIXTURE));
  assert.equal(at(tags, 0).type, FLV_TAG_SCRIPT);
  const [name, meta] = decodeAmf0(at(tags, 0).data) as [string, Record<string, unknown>];
  assert.equal(name, 'onMetaData');
  assert.equal(meta.width, 640);
  assert.equal(meta.height, 360);
  assert.equal(meta.videocodecid, 7);
  assert.equal(meta.audiocodecid, 10);
  assert.match(String(meta.encoder), /^Lavf/);

  const vseq = tags.find((t) => t.type === FLV_TAG_VIDEO)!;
  const vh = parseVideoTagHeader(vseq.data);
  assert.equal(vh.kind, 'legacy');
  assert.equal(vh.frameType, 1);
  assert.ok(vh.kind === 'legacy' && vh.codecId === VIDEO_CODEC_AVC);
  assert.equal(vh.packetType, AVC_PACKET_SEQUENCE_HEADER);
  const avc = describeAvcConfig(vseq.data.subarray(vh.payloadOffset));
  assert.deepEqual({ w: avc.width, h: avc.height, codec: avc.codecString, nal: avc.nalLengthSize }, { w: 640, h: 360, codec: 'avc1.42c01e', nal: 4 });

  const aseq = tags.find((t) => t.type === FLV_TAG_AUDIO)!;
  const ah = parseAudioTagHeader(aseq.data);
  assert.equal(ah.soundFormat, AUDIO_FORMAT_AAC);
  assert.equal(ah.packetType, AAC_PACKET_SEQUENCE_HEADER);
  const asc = parseAudioSpecificConfig(aseq.data.subarray(ah.payloadOffset));
  assert.deepEqual([asc.codecString, asc.sampleRate, asc.channels], ['mp4a.40.2', 44100, 2]);

  const frames = tags.filter((t) => t.type === FLV_TAG_VIDEO).slice(1).map((t) => parseVideoTagHeader(t.data));
  assert.equal(at(frames, 0).frameType, 1, 'the first coded frame is a keyframe');
  assert.ok(frames.filter((f) => f.frameType === 2).length >= 20);
  // composition offsets are signed 24 bit
  assert.deepEqual(parseVideoTagHeader(h('27 01 ffffd8 00')), { kind: 'legacy', frameType: 2, codecId: 7, packetType: 1, cts: -40, payloadOffset: 5 });
});

test('Enhanced RTMP video headers carry FourCC, packet type and CTS', () => {
  // keyframe | isExHeader | CodedFrames, 'hvc1', cts 33
  const hv = parseVideoTagHeader(h('91 68766331 000021 00000001'));
  assert.deepEqual(hv, { kind: 'enhanced', frameType: 1, fourCC: 'hvc1', packetType: 1, cts: 33, payloadOffset: 8 });
  const seq = parseVideoTagHeader(h('90 61763031 81'));
  assert.deepEqual(seq, { kind: 'enhanced', frameType: 1, fourCC: 'av01', packetType: 0, cts: 0, payloadOffset: 5 });
  // CodedFramesX has no CTS
  assert.equal(parseVideoTagHeader(h('a3 68766331 00')).payloadOffset, 5);
  assert.throws(() => parseVideoTagHeader(h('91 6876')), FlvError);
});

test('FLV parser refuses garbage with FlvError and stays failed', () => {
  const p = new FlvParser({ onTag: () => {} });
  assert.throws(() => p.push(Buffer.from('GIF89a......')), FlvError);
  assert.throws(() => p.push(Buffer.from('x')), FlvError);
  const q = new FlvParser({ onTag: () => {} }, { maxTagSize: 100 });
  assert.throws(() => q.push(Buffer.concat([encodeFlvHeader(true, true), h('09 0000ff 000000 00 000000')])), /exceeds limit/);
  const tags: FlvTag[] = [];
  const r = new FlvParser({ onTag: (t) => tags.push(t) }, { expectHeader: false });
  r.push(encodeFlvTag(FLV_TAG_AUDIO, 5, h('af01')));
  assert.deepEqual(tags, [{ type: 8, timestamp: 5, data: h('af01') }]);
  assert.deepEqual(flvTagBody(encodeFlvTag(FLV_TAG_AUDIO, 5, h('af01'))), h('af01'));
});

const TAG_HEAD_GOLDEN: { name: string; value: Buffer; bytes: string; audio?: true }[] = [
  { name: 'AVC keyframe NALU, CTS 0', value: avcVideoTagHead(VIDEO_FRAME_KEY, AVC_PACKET_NALU, 0), bytes: '17 01 000000' },
  { name: 'AVC inter NALU, CTS -40 (signed 24 bits)', value: avcVideoTagHead(VIDEO_FRAME_INTER, AVC_PACKET_NALU, -40), bytes: '27 01 ffffd8' },
  { name: 'HEVC SequenceStart', value: exVideoTagHead(VIDEO_FRAME_KEY, EX_PACKET_SEQUENCE_START, FOURCC_HEVC), bytes: '90 68766331' },
  { name: 'HEVC CodedFrames, CTS 80', value: exVideoTagHead(VIDEO_FRAME_INTER, EX_PACKET_CODED_FRAMES, FOURCC_HEVC, 80), bytes: 'a1 68766331 000050' },
  { name: 'HEVC CodedFramesX (no CTS)', value: exVideoTagHead(VIDEO_FRAME_INTER, EX_PACKET_CODED_FRAMES_X, FOURCC_HEVC, 80), bytes: 'a3 68766331' },
  { name: 'AV1 CodedFrames (no CTS field for AV1)', value: exVideoTagHead(VIDEO_FRAME_KEY, EX_PACKET_CODED_FRAMES, FOURCC_AV1, 80), bytes: '91 61763031' },
  { name: 'AAC raw', value: AAC_RAW_TAG_HEAD, bytes: 'af 01', audio: true },
  { name: 'AAC sequence header', value: AAC_SEQUENCE_TAG_HEAD, bytes: 'af 00', audio: true },
  { name: 'MP3 44.1 kHz stereo', value: MP3_TAG_HEAD, bytes: '2f', audio: true },
];

for (const g of TAG_HEAD_GOLDEN) {
  test(`tag body head golden: ${g.name}`, () => {
    assert.deepEqual(g.value, h(g.bytes));
    // What we write, the header parser reads back (the payload starts right after the head).
    if (g.audio) assert.equal(parseAudioTagHeader(Buffer.concat([g.value, h('00')])).payloadOffset, g.value.length);
    else assert.equal(parseVideoTagHeader(Buffer.concat([g.value, h('00')])).payloadOffset, g.value.length);
  });
}
