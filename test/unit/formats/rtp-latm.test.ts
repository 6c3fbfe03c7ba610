/**
 * MP4A-LATM (RFC 6416, cpresent=0): StreamMuxConfig golden cases (GStreamer's rtpmp4apay
 * captures and hand-built layouts), AudioMuxElement splitting, fragment reassembly from a real
 * capture, loss, and seeded fuzzing (the config reader only throws LatmError, the depacketizer never throws).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatmDepacketizer, LatmError, parseStreamMuxConfig, splitAudioMuxElements } from '../../../src/formats/rtp-latm.js';
import { parseAudioSpecificConfig } from '../../../src/formats/aac.js';
import { mutate, randomBytes, seededRandom } from '../../../testkit/prng.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** StreamMuxConfig golden table: `config=` bytes and what they say. */
const CONFIGS: { name: string; bytes: string; subFrames: number; asc: string; rate: number; channels: number }[] = [
  { name: 'GStreamer rtpmp4apay after voaacenc, 44.1 kHz stereo (cut after the ASC)', bytes: '40002420', subFrames: 1, asc: '1210', rate: 44100, channels: 2 },
  { name: 'GStreamer rtpmp4apay after avenc_aac, 48 kHz mono, with the SBR sync extension', bytes: '40002310adca00', subFrames: 1, asc: '118856e500', rate: 48000, channels: 1 },
  { name: 'audioMuxVersion 1: taraBufferFullness and ascLen as LatmValues', bytes: '8ff80001012101fe00', subFrames: 1, asc: '1210', rate: 44100, channels: 2 },
  { name: 'two subframes per element, full trailer', bytes: '410024203fc0', subFrames: 2, asc: '1210', rate: 44100, channels: 2 },
];

test('parseStreamMuxConfig: golden cases', () => {
  for (const c of CONFIGS) {
    const cfg = parseStreamMuxConfig(hex(c.bytes));
    assert.equal(cfg.subFrames, c.subFrames, c.name);
    assert.equal(cfg.audioSpecificConfig.toString('hex'), c.asc, c.name);
    const asc = parseAudioSpecificConfig(cfg.audioSpecificConfig);
    assert.equal(asc.sampleRate, c.rate, c.name);
    assert.equal(asc.channels, c.channels, c.name);
  }
});

test('parseStreamMuxConfig: layouts onair does not read are refused, naming what', () => {
  const refused: [string, RegExp][] = [
    ['40102420', /2 programs/],
    ['400024204000', /frameLengthType 1/],
    ['40008410', /object type 8 is not AAC/],
    ['40002400', /channel configuration 0/],
    ['', /truncated/],
    ['4000', /truncated/],
    ['c0', /audioMuxVersionA 1/],
  ];
  for (const [bytes, message] of refused) assert.throws(() => parseStreamMuxConfig(hex(bytes)), (e: unknown) => e instanceof LatmError && message.test(e.message), bytes);
});

// Real payloads from `audiotestsrc ! voaacenc ! rtpmp4apay` (one element per packet) ...
const WHOLE = hex('5c21200520a41bd1' + '80'.padEnd(168, '0') + '38');
// ... and `avenc_aac ! rtpmp4apay mtu=200` (one 299-byte frame in two packets, same timestamp, marker on the last).
const FRAG_1 = hex(`ff2c01649cd8b6a13b6c8fd65beb2df2dc7bf4f29bee647fe5ff66b996ccb27ffbfffecdd149152bffcbffed800068ee7596f9b67076478ada62edee2ef21a509d9f68dd198aa31f54e1df75dfae6a9c36d3a44292563476868989961d6b9730aef759f4450c7a2b2d0bc2139f38d08485111d127b7c8936949d4cc92e0383e3559765780690bb1954a4915e6924c2e8d017634b91c01bcbdcf33a356551df6dc012f7f7537c9aab128ceeb258fc5b552132b5f13e1594f3cfb65a44`);
const FRAG_2 = hex('16199f2ac2cb55c4edb6fb8ac892252ca4bdb398ee3739a6da7502de9cdec411efc3037cc3e34e3556f45e3c61dacdeb433c0d88914dd95544efb5cedaf20f1f254e7f195bab44f99d53e4b77aed4b829b852eaed931293b066d956846b65f3d9c2792ece9a64c3baf4cf655eda9f075e0');

test('splitAudioMuxElements: length escapes, several elements and subframes, overruns refused', () => {
  const one = parseStreamMuxConfig(hex('40002420'));
  const two = parseStreamMuxConfig(hex('410024203fc0'));
  assert.deepEqual(splitAudioMuxElements(WHOLE, one).map((f) => f.length), [92]);
  const big = Buffer.alloc(300, 7);
  assert.deepEqual(splitAudioMuxElements(Buffer.concat([hex('ff2d'), big]), one), [big]);
  // Two elements back to back in one packet; two subframes in one element; a zero-length frame is kept for the hub to count.
  assert.deepEqual(splitAudioMuxElements(hex('02aabb 01cc'), one).map((f) => f.toString('hex')), ['aabb', 'cc']);
  assert.deepEqual(splitAudioMuxElements(hex('01aa 02bbcc'), two).map((f) => f.toString('hex')), ['aa', 'bbcc']);
  assert.deepEqual(splitAudioMuxElements(hex('00'), one).map((f) => f.length), [0]);
  assert.throws(() => splitAudioMuxElements(hex('05aabb'), one), LatmError);
  assert.throws(() => splitAudioMuxElements(hex('ffff'), one), LatmError);
  assert.throws(() => splitAudioMuxElements(hex('01aa'), two), LatmError, 'the second subframe is missing');
});

test('LatmDepacketizer: whole packets, a fragmented element reassembled, a lost fragment dropped', () => {
  const cfg48 = parseStreamMuxConfig(hex('40002310adca00'));
  const d = new LatmDepacketizer(cfg48);
  assert.equal(d.push(FRAG_1, 1000, false), null);
  const got = d.push(FRAG_2, 1000, true);
  assert.equal(got?.timestamp, 1000);
  assert.equal(got.frames.length, 1);
  assert.equal(got.frames[0]?.length, 299);
  assert.deepEqual(got.frames[0], Buffer.concat([FRAG_1, FRAG_2]).subarray(2));
  // The last fragment lost: the next element (new timestamp) starts clean, the broken one is counted.
  assert.equal(d.push(FRAG_1, 2024, false), null);
  const next = d.push(WHOLE, 3048, true);
  assert.deepEqual(next?.frames.map((f) => f.length), [92]);
  // The first fragment lost: the tail alone does not parse and is dropped.
  assert.equal(d.push(FRAG_2, 4072, true), null);
  assert.deepEqual(d.stats, { packets: 5, frames: 2, dropped: 2 });

  const plain = new LatmDepacketizer(parseStreamMuxConfig(hex('40002420')));
  assert.deepEqual(plain.push(WHOLE, 5, true)?.frames[0], WHOLE.subarray(1));
});

test('LATM fuzz: mutated configs throw only LatmError; mutated and random payloads never throw', () => {
  const rnd = seededRandom(20);
  for (let r = 0; r < 2000; r++) {
    const base = hex(CONFIGS[r % CONFIGS.length]?.bytes ?? '40002420');
    try {
      parseStreamMuxConfig(mutate(rnd, base));
    } catch (err) {
      assert.ok(err instanceof LatmError, String(err));
    }
  }
  const d = new LatmDepacketizer(parseStreamMuxConfig(hex('40002420')));
  const two = new LatmDepacketizer(parseStreamMuxConfig(hex('410024203fc0')));
  for (let r = 0; r < 2000; r++) {
    const payload = r % 2 === 0 ? mutate(rnd, r % 4 === 0 ? WHOLE : FRAG_1) : randomBytes(rnd, (rnd() * 400) | 0);
    const ts = (rnd() * 4) | 0;
    const marker = rnd() < 0.7;
    for (const out of [d.push(payload, ts, marker), two.push(payload, ts, marker)]) {
      for (const f of out?.frames ?? []) assert.ok(f.length <= payload.length + 64 * 1024);
    }
  }
  assert.equal(d.stats.packets, 2000);
});
