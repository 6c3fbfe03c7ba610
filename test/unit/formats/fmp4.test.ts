import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  box, fullBox, ftyp, styp, mvhd, mdhd, hdlr, descriptor, esds, mvex, initSegment, mediaFragment, trun,
  SAMPLE_FLAGS_SYNC, SAMPLE_FLAGS_NON_SYNC, VIDEO_TIMESCALE, type Fmp4Track,
} from '../../../src/formats/fmp4.js';
import { parseBoxes, find, must, decodeFragments, findAll } from '../helpers/mp4-parse.js';
import { at } from '../../../testkit/at.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// avcC-shaped bytes (the writer copies them verbatim) and an AAC-LC 44.1 kHz stereo ASC.
const AVCC = hex('01640028ffe1001967640028acd940500' + '5bb016a02020280000003008000001e478c18cb01000568ebecb22c');
const ASC = hex('1210');

const golden: { name: string; value: () => Buffer; bytes: string }[] = [
  { name: 'empty box', value: () => box('free'), bytes: '00000008 66726565' },
  { name: 'box with payload', value: () => box('mdat', hex('0102')), bytes: '0000000a 6d646174 0102' },
  { name: 'fullBox version/flags', value: () => fullBox('mfhd', 0, 0, hex('00000007')), bytes: '00000010 6d666864 00000000 00000007' },
  { name: 'fullBox flags 24-bit', value: () => fullBox('tfhd', 0, 0x020000, hex('00000001')), bytes: '00000010 74666864 00020000 00000001' },
  { name: 'ftyp iso6', value: () => ftyp(), bytes: '00000018 66747970 69736f36 00000000 69736f36 6d703431' },
  { name: 'styp', value: () => styp(), bytes: '00000018 73747970 6d736468 00000000 6d736468 6d736978' },
  { name: 'mdhd 90k und', value: () => mdhd(90000), bytes: '00000020 6d646864 00000000 00000000 00000000 00015f90 00000000 55c40000' },
  {
    name: 'hdlr soun',
    value: () => hdlr('soun'),
    bytes: '0000002d 68646c72 00000000 00000000 736f756e 000000000000000000000000 536f756e6448616e646c657200',
  },
  { name: 'descriptor short', value: () => descriptor(5, hex('1210')), bytes: '05 02 1210' },
  { name: 'descriptor 200 bytes uses 2 size bytes', value: () => descriptor(5, Buffer.alloc(200)).subarray(0, 3), bytes: '05 8148' },
  {
    name: 'esds AAC-LC',
    value: () => esds(ASC),
    bytes:
      '00000027 65736473 00000000' + // size, 'esds', version/flags
      '03 19 0000 00' + // ES_Descriptor: ES_ID 0, flags 0
      '04 11 40 15 000000 00000000 00000000' + // DecoderConfigDescriptor
      '05 02 1210' + // DecoderSpecificInfo = ASC
      '06 01 02', // SLConfigDescriptor predefined 2
  },
  {
    name: 'mvex/trex one track',
    value: () => mvex([{ kind: 'audio', id: 2, codec: 'aac', timescale: 48000, config: ASC, channels: 2, sampleRate: 48000 }]),
    bytes: '00000028 6d766578 00000020 74726578 00000000 00000002 00000001 00000000 00000000 00000000',
  },
];

for (const g of golden) {
  test(`fmp4 golden: ${g.name}`, () => {
    assert.equal(g.value().toString('hex'), g.bytes.replace(/\s+/g, ''));
  });
}

test('fmp4: mvhd is 108 bytes with next_track_ID last', () => {
  const b = mvhd(3);
  assert.equal(b.length, 108);
  assert.equal(b.readUInt32BE(b.length - 4), 3);
  assert.equal(b.readUInt32BE(20), 1000); // timescale after version/flags, creation, modification
});

const video: Fmp4Track = { kind: 'video', id: 1, codec: 'avc', timescale: VIDEO_TIMESCALE, config: AVCC, width: 1280, height: 720 };
const audio: Fmp4Track = { kind: 'audio', id: 2, codec: 'aac', timescale: 44100, config: ASC, channels: 2, sampleRate: 44100 };

test('fmp4: init segment round trip (avc1 + mp4a)', () => {
  const init = initSegment([video, audio]);
  const boxes = parseBoxes(init);
  assert.deepEqual(boxes.map((b) => b.type), ['ftyp', 'moov']);
  const moov = must(boxes, 'moov');
  assert.deepEqual(moov.children.map((b) => b.type), ['mvhd', 'trak', 'trak', 'mvex']);
  const traks = moov.children.filter((b) => b.type === 'trak');
  // tkhd: track ids, width/height 16.16
  const tkhdV = must(at(traks, 0).children, 'tkhd');
  assert.equal(init.readUInt32BE(tkhdV.payload + 12), 1);
  assert.equal(init.readUInt32BE(tkhdV.end - 8), 1280 << 16);
  assert.equal(init.readUInt32BE(tkhdV.end - 4), 720 << 16);
  const tkhdA = must(at(traks, 1).children, 'tkhd');
  assert.equal(init.readUInt32BE(tkhdA.payload + 12), 2);
  // mdhd timescales
  assert.equal(init.readUInt32BE(must(at(traks, 0).children, 'mdia/mdhd').payload + 12), 90000);
  assert.equal(init.readUInt32BE(must(at(traks, 1).children, 'mdia/mdhd').payload + 12), 44100);
  // handlers
  assert.equal(init.toString('latin1', must(at(traks, 0).children, 'mdia/hdlr').payload + 8, must(at(traks, 0).children, 'mdia/hdlr').payload + 12), 'vide');
  assert.ok(find(at(traks, 0).children, 'mdia/minf/vmhd'));
  assert.ok(find(at(traks, 1).children, 'mdia/minf/smhd'));
  // sample entries carry the configs verbatim
  const avc1 = must(at(traks, 0).children, 'mdia/minf/stbl/stsd/avc1');
  assert.equal(init.readUInt16BE(avc1.payload + 24), 1280);
  assert.equal(init.readUInt16BE(avc1.payload + 26), 720);
  const avcC = must(avc1.children, 'avcC');
  assert.deepEqual(init.subarray(avcC.payload, avcC.end), AVCC);
  const mp4a = must(at(traks, 1).children, 'mdia/minf/stbl/stsd/mp4a');
  assert.equal(init.readUInt16BE(mp4a.payload + 16), 2); // channelcount
  assert.equal(init.readUInt32BE(mp4a.payload + 24) >>> 16, 44100);
  const esdsBox = must(mp4a.children, 'esds');
  assert.ok(init.subarray(esdsBox.payload, esdsBox.end).includes(Buffer.from([0x05, 0x02, 0x12, 0x10])));
  // empty sample tables and trex per track
  for (const t of ['stts', 'stsc', 'stsz', 'stco']) assert.ok(find(at(traks, 0).children, `mdia/minf/stbl/${t}`), t);
  assert.equal(findAll(boxes, 'trex').length, 2);
  assert.equal(init.readUInt32BE(must(boxes, 'moov/mvhd').end - 4), 3);
});

test('fmp4: hevc passes hvcC through in hvc1', () => {
  const hvcC = hex('01016000000090000000000000f000fcfdf8f800000f03');
  const init = initSegment([{ kind: 'video', id: 1, codec: 'hevc', timescale: VIDEO_TIMESCALE, config: hvcC, width: 640, height: 360 }]);
  const boxes = parseBoxes(init);
  const hvc1 = must(boxes, 'moov/trak/mdia/minf/stbl/stsd/hvc1');
  const c = must(hvc1.children, 'hvcC');
  assert.deepEqual(init.subarray(c.payload, c.end), hvcC);
  assert.equal(find(boxes, 'moov/trak/mdia/minf/stbl/stsd/avc1'), undefined);
});

test('fmp4: init without tracks throws', () => {
  assert.throws(() => initSegment([]));
});

test('fmp4: fragment round trip: flags, signed composition offsets, data offsets, 64-bit tfdt', () => {
  const v = [
    { duration: 3600, flags: SAMPLE_FLAGS_SYNC, compositionTimeOffset: 7200, data: Buffer.from('key-frame-data') },
    { duration: 3600, flags: SAMPLE_FLAGS_NON_SYNC, compositionTimeOffset: -3600, data: Buffer.from('b') },
    { duration: 3600, flags: SAMPLE_FLAGS_NON_SYNC, compositionTimeOffset: 0, data: Buffer.from('pframe') },
  ];
  const a = [
    { duration: 1024, flags: 0, compositionTimeOffset: 0, data: Buffer.from('aac1') },
    { duration: 1024, flags: 0, compositionTimeOffset: 0, data: Buffer.from('aac22') },
  ];
  const bigBase = 2 ** 33 + 12345; // beyond 32 bits: tfdt must be version 1
  const frag = mediaFragment(42, [
    { trackId: 1, baseMediaDecodeTime: bigBase, samples: v, video: true },
    { trackId: 2, baseMediaDecodeTime: 441000, samples: a, video: false },
  ]);
  const boxes = parseBoxes(frag);
  assert.deepEqual(boxes.map((b) => b.type), ['moof', 'mdat']);
  const [f] = decodeFragments(frag);
  assert.equal(f!.sequenceNumber, 42);
  assert.equal(f!.trafs.length, 2);
  const tv = f!.trafs[0]!;
  assert.equal(tv.trackId, 1);
  assert.equal(tv.tfhdFlags, 0x020000);
  assert.equal(tv.tfdtVersion, 1);
  assert.equal(tv.baseMediaDecodeTime, BigInt(bigBase));
  assert.equal(tv.trunVersion, 1);
  assert.deepEqual(tv.samples.map((s) => s.cto), [7200, -3600, 0]);
  assert.deepEqual(tv.samples.map((s) => s.flags), [SAMPLE_FLAGS_SYNC, SAMPLE_FLAGS_NON_SYNC, SAMPLE_FLAGS_NON_SYNC]);
  assert.deepEqual(tv.samples.map((s) => s.duration), [3600, 3600, 3600]);
  assert.deepEqual(f!.sampleData[0]!.map((d) => d.toString()), ['key-frame-data', 'b', 'pframe']);
  const ta = f!.trafs[1]!;
  assert.equal(ta.trunVersion, 0);
  assert.equal(ta.baseMediaDecodeTime, 441000n);
  assert.deepEqual(ta.samples.map((s) => [s.duration, s.size]), [[1024, 4], [1024, 5]]);
  assert.deepEqual(f!.sampleData[1]!.map((d) => d.toString()), ['aac1', 'aac22']);
  // mdat holds exactly the sample bytes
  assert.equal(at(boxes, 1).size, 8 + 14 + 1 + 6 + 4 + 5);
});

test('fmp4: empty runs are left out; all-empty throws', () => {
  const frag = mediaFragment(1, [
    { trackId: 1, baseMediaDecodeTime: 0, samples: [], video: true },
    { trackId: 2, baseMediaDecodeTime: 0, samples: [{ duration: 1024, flags: 0, compositionTimeOffset: 0, data: Buffer.from('x') }], video: false },
  ]);
  const [f] = decodeFragments(frag);
  assert.deepEqual(f!.trafs.map((t) => t.trackId), [2]);
  assert.throws(() => mediaFragment(1, [{ trackId: 1, baseMediaDecodeTime: 0, samples: [], video: true }]));
});

test('fmp4 golden: trun video sample layout', () => {
  const b = trun({ trackId: 1, baseMediaDecodeTime: 0, video: true, samples: [{ duration: 3000, flags: SAMPLE_FLAGS_SYNC, compositionTimeOffset: -1, data: Buffer.alloc(5) }] }, 100);
  assert.equal(b.toString('hex'), '000000247472756e' + '01000f01' + '00000001' + '00000064' + '00000bb8' + '00000005' + '02000000' + 'ffffffff');
});
