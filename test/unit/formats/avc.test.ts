import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FlvParser, FLV_TAG_VIDEO, FLV_TAG_AUDIO, type FlvTag } from '../../../src/formats/flv.js';
import {
  describeAvcConfig, parseAvcDecoderConfig, parseSps, encodeAvcDecoderConfig, removeEmulationPrevention, avcCodecString,
  splitLengthPrefixed, joinLengthPrefixed, AvcError,
} from '../../../src/formats/avc.js';
import { parseAudioSpecificConfig, encodeAudioSpecificConfig, adtsHeader, AacError } from '../../../src/formats/aac.js';
import { describeHevcConfig, encodeHevcDecoderConfig, parseHevcDecoderConfig, parseHevcSps, HevcError } from '../../../src/formats/hevc.js';
import { at } from '../../../testkit/at.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function tagsOf(name: string): FlvTag[] {
  const tags: FlvTag[] = [];
  new FlvParser({ onTag: (t) => tags.push(t) }).push(readFileSync(new URL(`../../fixtures/media/${name}`, import.meta.url)));
  return tags;
}

test('avcC and SPS from ffmpeg High profile with cropping (426x240)', () => {
  const tags = tagsOf('h264-high-426x240-mono48k.flv');
  const avcc = tags.find((t) => t.type === FLV_TAG_VIDEO)!.data.subarray(5);
  const cfg = parseAvcDecoderConfig(avcc);
  assert.equal(cfg.sps.length, 1);
  assert.equal(cfg.pps.length, 1);
  const sps = parseSps(at(cfg.sps, 0));
  assert.equal(sps.profileIdc, 100);
  assert.equal(sps.levelIdc, 21);
  assert.equal(sps.width, 426); // 27 macroblocks = 432, cropped by 3 chroma units of 2
  assert.equal(sps.height, 240);
  assert.equal(describeAvcConfig(avcc).codecString, 'avc1.640015');
  // re-encoding the record from its parameter sets gives the same leading bytes
  assert.deepEqual(encodeAvcDecoderConfig(at(cfg.sps, 0), cfg.pps).subarray(0, 8 + at(cfg.sps, 0).length), avcc.subarray(0, 8 + at(cfg.sps, 0).length));
  const key = tags.filter((t) => t.type === FLV_TAG_VIDEO)[1]!;
  const nals = splitLengthPrefixed(key.data.subarray(5));
  assert.ok(nals.some((n) => (at(n, 0) & 0x1f) === 5), 'keyframe holds an IDR slice');
});

test('SPS golden: 1280x720 baseline (hand-built) and emulation prevention', () => {
  // x264 High profile 720p SPS (frame cropping of 0, 80x45 macroblocks)
  const x264_720p = h('6764001facd9405005bb011000000300100000030320f183196');
  const s = parseSps(Buffer.from(x264_720p.subarray(0, 25)));
  assert.equal(s.width, 1280);
  assert.equal(s.height, 720);
  assert.equal(avcCodecString(s.profileIdc, s.constraintFlags, s.levelIdc), 'avc1.64001f');
  assert.deepEqual(removeEmulationPrevention(h('00 00 03 01 00 00 03 00 03')), h('00 00 01 00 00 00 03'));
  assert.throws(() => parseSps(h('68 42 00 1f')), AvcError);
  assert.throws(() => parseSps(h('67 64 00 1f ff')), AvcError);
  assert.throws(() => parseAvcDecoderConfig(h('01 64 00 1f ff e1 00 40 67')), AvcError);
});

test('AudioSpecificConfig golden table', () => {
  const cases = [
    { bytes: h('1210'), codec: 'mp4a.40.2', rate: 44100, ch: 2 },
    { bytes: h('1188'), codec: 'mp4a.40.2', rate: 48000, ch: 1 },
    { bytes: h('2b1188'), codec: 'mp4a.40.5', rate: 24000, ch: 2 }, // HE-AAC, explicit SBR to 48 kHz
    { bytes: h('0a10'), codec: 'mp4a.40.1', rate: 44100, ch: 2 },
  ];
  for (const c of cases) {
    const asc = parseAudioSpecificConfig(c.bytes);
    assert.equal(asc.codecString, c.codec);
    assert.equal(asc.sampleRate, c.rate);
    assert.equal(asc.channels, c.ch);
  }
  assert.equal(parseAudioSpecificConfig(h('2b1188')).extensionSampleRate, 48000);
  assert.equal(parseAudioSpecificConfig(h('2b1188')).objectType, 2);
  // explicit frequency (index 15): LC, 24-bit rate 0x001f40 = 8000, stereo
  const explicit = parseAudioSpecificConfig(h('17800fa010'));
  assert.equal(explicit.sampleRate, 8000);
  assert.equal(explicit.channels, 2);
  assert.deepEqual(encodeAudioSpecificConfig(2, 44100, 2), h('1210'));
  assert.deepEqual(encodeAudioSpecificConfig(2, 48000, 1), h('1188'));
  assert.throws(() => parseAudioSpecificConfig(h('12')), AacError);
  assert.throws(() => parseAudioSpecificConfig(h('16 90')), AacError); // index 13 reserved
  // ffmpeg capture: mono 48 kHz
  const a = tagsOf('h264-high-426x240-mono48k.flv').find((t) => t.type === FLV_TAG_AUDIO)!;
  const asc = parseAudioSpecificConfig(a.data.subarray(2));
  assert.deepEqual([asc.codecString, asc.sampleRate, asc.channels], ['mp4a.40.2', 48000, 1]);
  // ADTS: LC, 44.1k, stereo, 100-byte frame → length 107
  assert.deepEqual(adtsHeader(parseAudioSpecificConfig(h('1210')), 100), h('fff1 5080 0d7f fc'));
});

test('hvcC from an x265 capture describes the track', () => {
  const hvcc = readFileSync(new URL('../../fixtures/media/hevc-640x360.hvcC', import.meta.url));
  const d = describeHevcConfig(hvcc);
  assert.equal(d.width, 640);
  assert.equal(d.height, 360);
  assert.equal(d.profile, 1);
  assert.equal(d.codecString, 'hvc1.1.6.L63.90');
  assert.throws(() => describeHevcConfig(hvcc.subarray(0, 30)), HevcError);
});

test('hvcC built from in-band VPS/SPS/PPS: the header of the x265 capture to the byte, its three arrays, the same description', () => {
  const x265 = readFileSync(new URL('../../fixtures/media/hevc-640x360.hvcC', import.meta.url));
  const nal = (type: number) => parseHevcDecoderConfig(x265).arrays.find((a) => a.type === type)!.nalus[0]!;
  const [vps, sps, pps] = [nal(32), nal(33), nal(34)];
  const built = encodeHevcDecoderConfig(vps, sps, pps);
  // Bytes 0..21 (version, profile/tier/level, chroma, bit depths, layers, length size) as x265
  // wrote them; byte 22 counts 3 arrays where x265 also carries an SEI array.
  assert.equal(built.subarray(0, 22).toString('hex'), x265.subarray(0, 22).toString('hex'));
  assert.equal(built[22], 3);
  const parsed = parseHevcDecoderConfig(built);
  assert.deepEqual(parsed.arrays.map((a) => [a.type, a.nalus]), [[32, [vps]], [33, [sps]], [34, [pps]]]);
  assert.equal(parsed.nalLengthSize, 4);
  const d = describeHevcConfig(built);
  assert.deepEqual([d.width, d.height, d.codecString], [640, 360, 'hvc1.1.6.L63.90']);
  const f = parseHevcSps(sps);
  assert.deepEqual([f.chromaFormatIdc, f.bitDepthLumaMinus8, f.bitDepthChromaMinus8, f.maxSubLayersMinus1], [1, 0, 0, 0]);
  assert.throws(() => encodeHevcDecoderConfig(vps, sps.subarray(0, 8), pps), HevcError);
});

test('joinLengthPrefixed: golden AVCC bytes, and the inverse of splitLengthPrefixed', () => {
  const nals = [Buffer.from([0x65, 0x88, 0x80]), Buffer.from([0x06, 0x05])];
  assert.deepEqual(joinLengthPrefixed(nals), Buffer.from([0, 0, 0, 3, 0x65, 0x88, 0x80, 0, 0, 0, 2, 0x06, 0x05]));
  assert.deepEqual(joinLengthPrefixed(nals, 2), Buffer.from([0, 3, 0x65, 0x88, 0x80, 0, 2, 0x06, 0x05]));
  assert.deepEqual(splitLengthPrefixed(joinLengthPrefixed(nals)), nals);
  assert.equal(joinLengthPrefixed([]).length, 0);
});
