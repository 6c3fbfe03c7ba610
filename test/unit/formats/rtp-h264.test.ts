import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  depacketizeH264, fuA, packetizeH264, rtpTimestamp90k, RtpError, splitAvcc, stapA, RTP_H264_DEFAULT_MTU,
} from '../../../src/formats/rtp-h264.js';
import { FlvParser, FLV_TAG_VIDEO } from '../../../src/formats/flv.js';
import { parseAvcDecoderConfig } from '../../../src/formats/avc.js';
import { seededRandom } from '../../../testkit/prng.js';
import { at } from '../../../testkit/at.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** avcc frames NAL units with 4-byte lengths, as FLV carries them. */
const avcc = (...nals: Buffer[]): Buffer => Buffer.concat(nals.flatMap((n) => { const l = Buffer.alloc(4); l.writeUInt32BE(n.length); return [l, n]; }));

const SPS = h('67 42 c0 1f da 02 80 bf e5 c0 44 00 00 03 00 04 00 00 03 00 f2 3c 60 ca 80');
const PPS = h('68 ce 3c 80');
const AUD = h('09 f0');
const SEI = h('06 05 02 aa bb 80');

const GOLDEN: { name: string; au: Buffer; opts?: Parameters<typeof packetizeH264>[1]; payloads: string[]; keyframe: boolean }[] = [
  {
    name: 'small non-IDR slice: one single NAL unit packet, the AUD dropped',
    au: avcc(AUD, h('41 9a 02 03')),
    payloads: ['419a0203'],
    keyframe: false,
  },
  {
    name: 'SEI + slice: two single NAL unit packets in order',
    au: avcc(SEI, h('41 9a 02 03')),
    payloads: ['060502aabb80', '419a0203'],
    keyframe: false,
  },
  {
    name: 'IDR without parameter sets: STAP-A(SPS, PPS) first; NRI of the STAP-A is the highest (3)',
    au: avcc(h('65 88 84 00')),
    opts: { sps: [SPS], pps: [PPS] },
    payloads: ['78' + '0019' + SPS.toString('hex') + '0004' + '68ce3c80', '65888400'],
    keyframe: true,
  },
  {
    name: 'IDR that carries SPS and PPS in band: nothing added',
    au: avcc(SPS, PPS, h('65 88 84 00')),
    opts: { sps: [SPS], pps: [PPS] },
    payloads: [SPS.toString('hex'), '68ce3c80', '65888400'],
    keyframe: true,
  },
  {
    name: 'IDR of 10 bytes at MTU 4: FU-A start/middle/end, indicator keeps F|NRI (0x60|28), header S/E + type 5',
    au: avcc(h('65 01 02 03 04 05 06 07 08 09')),
    opts: { mtu: 4 },
    payloads: ['7c850102', '7c050304', '7c050506', '7c050708', '7c4509'],
    keyframe: true,
  },
  {
    name: 'parameter sets too big to aggregate at this MTU go as single packets',
    au: avcc(h('65 aa')),
    opts: { mtu: 25, sps: [SPS], pps: [PPS] },
    payloads: [SPS.toString('hex'), '68ce3c80', '65aa'],
    keyframe: true,
  },
  {
    name: 'non-reference slice (NRI 0) fragmented: indicator 0x1c',
    au: avcc(h('01 11 22 33 44')),
    opts: { mtu: 4 },
    payloads: ['1c811122', '1c413344'],
    keyframe: false,
  },
];

for (const g of GOLDEN) {
  test(`packetizeH264 golden: ${g.name}`, () => {
    const r = packetizeH264(g.au, g.opts);
    assert.deepEqual(r.payloads.map((p) => p.toString('hex')), g.payloads);
    assert.equal(r.keyframe, g.keyframe);
  });
}

test('FU-A: exactly one S bit on the first and one E bit on the last fragment; fragments fill the MTU', () => {
  const nal = Buffer.concat([h('65'), Buffer.alloc(3000, 0xab)]);
  const frags = fuA(nal, RTP_H264_DEFAULT_MTU);
  assert.equal(frags.length, Math.ceil((nal.length - 1) / (RTP_H264_DEFAULT_MTU - 2)));
  frags.forEach((f, i) => {
    assert.ok(f.length <= RTP_H264_DEFAULT_MTU);
    assert.equal(at(f, 0) & 0x1f, 28);
    assert.equal(!!(at(f, 1) & 0x80), i === 0, `S bit of fragment ${i}`);
    assert.equal(!!(at(f, 1) & 0x40), i === frags.length - 1, `E bit of fragment ${i}`);
    assert.equal(at(f, 1) & 0x1f, 5);
    if (i < frags.length - 1) assert.equal(f.length, RTP_H264_DEFAULT_MTU);
  });
});

test('STAP-A golden bytes', () => {
  assert.equal(stapA([h('67 01'), h('68 02 03')]).toString('hex'), '78' + '0002' + '6701' + '0003' + '680203');
});

test('90 kHz timestamps from milliseconds, with a base and 32-bit wrap-around', () => {
  assert.equal(rtpTimestamp90k(0), 0);
  assert.equal(rtpTimestamp90k(33), 2970);
  assert.equal(rtpTimestamp90k(1000, 10), 90_010);
  assert.equal(rtpTimestamp90k(1, 0xffff_ffff - 10), 79); // wraps
  assert.equal(rtpTimestamp90k(47_721_859), (47_721_859 * 90) % 2 ** 32);
});

test('bad input is refused: empty AU, truncated length prefix, length past the end, zero length, AUD only', () => {
  assert.throws(() => packetizeH264(Buffer.alloc(0)), RtpError);
  assert.throws(() => packetizeH264(h('00 00 00')), /truncated NAL length prefix/);
  assert.throws(() => packetizeH264(h('00 00 00 09 41 9a')), /runs past/);
  assert.throws(() => packetizeH264(h('00 00 00 00')), /zero-length/);
  assert.throws(() => packetizeH264(avcc(AUD)), /no media NAL/);
  assert.throws(() => packetizeH264(avcc(h('41 00')), { mtu: 2 }), /MTU/);
  assert.throws(() => splitAvcc(h('01 41'), 5), /length size/);
});

test('depacketize round trip (property): random access units at random MTUs come back NAL for NAL', () => {
  const rnd = seededRandom(6184);
  const int = (n: number) => Math.floor(rnd() * n);
  for (let i = 0; i < 400; i++) {
    const nals: Buffer[] = [];
    const count = 1 + int(5);
    for (let j = 0; j < count; j++) {
      const type = [1, 5, 6, 1, 1][int(5)]!;
      const len = 1 + int(rnd() < 0.3 ? 6000 : 80);
      const nal = Buffer.alloc(len);
      for (let k = 1; k < len; k++) nal[k] = int(256);
      nal[0] = (int(4) << 5) | type;
      nals.push(nal);
    }
    const mtu = 3 + int(1400);
    const lengthSize = [1, 2, 4][int(3)]!;
    if (lengthSize < 4 && nals.some((n) => n.length >= 2 ** (8 * lengthSize))) continue;
    const au = Buffer.concat(nals.flatMap((n) => { const l = Buffer.alloc(lengthSize); l.writeUIntBE(n.length, 0, lengthSize); return [l, n]; }));
    const sps = [SPS];
    const pps = [PPS];
    const r = packetizeH264(au, { mtu, nalLengthSize: lengthSize, sps, pps });
    for (const p of r.payloads) assert.ok(p.length <= mtu, `payload ${p.length} > MTU ${mtu}`);
    const back = depacketizeH264(r.payloads);
    const expected = r.keyframe ? [SPS, PPS, ...nals] : nals;
    assert.deepEqual(back.map((b) => b.toString('hex')), expected.map((b) => b.toString('hex')), `case ${i}, mtu ${mtu}`);
  }
});

test('a real ffmpeg keyframe packetizes and depacketizes to its own NAL units, SPS/PPS first', () => {
  const tags: { data: Buffer; type: number }[] = [];
  new FlvParser({ onTag: (t) => tags.push({ data: Buffer.from(t.data), type: t.type }) }).push(readFileSync(new URL('../../fixtures/media/h264-high-426x240-mono48k.flv', import.meta.url)));
  const video = tags.filter((t) => t.type === FLV_TAG_VIDEO);
  const cfg = parseAvcDecoderConfig(at(video, 0).data.subarray(5));
  const key = at(video, 1).data.subarray(5);
  const r = packetizeH264(key, { sps: cfg.sps, pps: cfg.pps, nalLengthSize: cfg.nalLengthSize });
  assert.equal(r.keyframe, true);
  const back = depacketizeH264(r.payloads);
  assert.equal(at(back, 0)[0]! & 0x1f, 7);
  assert.equal(at(back, 1)[0]! & 0x1f, 8);
  const own = splitAvcc(key, cfg.nalLengthSize).filter((n) => (at(n, 0) & 0x1f) !== 9);
  assert.deepEqual(back.slice(2).map((b) => b.toString('hex')), own.map((b) => b.toString('hex')));
});
