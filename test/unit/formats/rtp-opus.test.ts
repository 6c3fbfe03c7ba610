import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { OggOpusParser, opusPacketSamples } from '../../../src/formats/rtp-opus.js';
import { RtpError } from '../../../src/formats/rtp-h264.js';

/** page builds one Ogg page (CRC left zero: the parser does not check it, ffmpeg's pipe is reliable). */
function page(flags: number, granule: bigint, seq: number, lacing: number[], body: Buffer): Buffer {
  const head = Buffer.alloc(27);
  head.write('OggS', 0, 'latin1');
  head[5] = flags;
  head.writeBigInt64LE(granule, 6);
  head.writeUInt32LE(0x1234, 14);
  head.writeUInt32LE(seq, 18);
  head[26] = lacing.length;
  return Buffer.concat([head, Buffer.from(lacing), body]);
}

const OPUS_HEAD = Buffer.concat([Buffer.from('OpusHead', 'latin1'), Buffer.from([1, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0])]);
const OPUS_TAGS = Buffer.concat([Buffer.from('OpusTags', 'latin1'), Buffer.alloc(8)]);

test('opusPacketSamples golden: TOC configurations and frame-count codes (RFC 6716 3.1)', () => {
  const cases: [number[], number][] = [
    [[0xfc], 960], // config 31 (CELT 20 ms), code 0
    [[0xf8], 960], // config 31, code 0
    [[0xf9], 1920], // config 31, code 1: two frames
    [[0xe0], 120], // config 28 (CELT 2.5 ms)
    [[0x08], 960], // config 1 (SILK NB 20 ms)
    [[0x18], 2880], // config 3 (SILK NB 60 ms)
    [[0x60], 480], // config 12 (hybrid SWB 10 ms)
    [[0xfb, 0x03], 2880], // config 31, code 3, three frames
  ];
  for (const [bytes, samples] of cases) assert.equal(opusPacketSamples(Buffer.from(bytes)), samples, Buffer.from(bytes).toString('hex'));
  assert.throws(() => opusPacketSamples(Buffer.alloc(0)), RtpError);
  assert.throws(() => opusPacketSamples(Buffer.from([0xfb])), /frame count/);
  assert.throws(() => opusPacketSamples(Buffer.from([0xfb, 0x00])), /zero frames/);
});

test('OggOpusParser: head, tags skipped, packets (one spanning two pages), any split of the input', () => {
  const big = Buffer.alloc(300, 0xf8); // 300 bytes: lacing 255 + 45, split across pages below
  const stream = Buffer.concat([
    page(0x02, 0n, 0, [OPUS_HEAD.length], OPUS_HEAD),
    page(0x00, 0n, 1, [OPUS_TAGS.length], OPUS_TAGS),
    page(0x00, 960n, 2, [3, 255], Buffer.concat([Buffer.from([0xfc, 1, 2]), big.subarray(0, 255)])),
    page(0x01, 1920n, 3, [45, 2], Buffer.concat([big.subarray(255), Buffer.from([0xfc, 9])])),
  ]);
  const expect = ['fc0102', big.toString('hex'), 'fc09'];
  for (const step of [stream.length, 1, 7, 64]) {
    const got: string[] = [];
    let head: { channels: number; preSkip: number } | undefined;
    const p = new OggOpusParser({ onHead: (h) => { head = h; }, onPacket: (x) => got.push(x.toString('hex')) });
    for (let i = 0; i < stream.length; i += step) p.push(stream.subarray(i, i + step));
    assert.deepEqual(got, expect, `step ${step}`);
    assert.deepEqual(head, { channels: 2, preSkip: 312 });
  }
});

test('OggOpusParser refuses a stream that is not Ogg/Opus', () => {
  assert.throws(() => new OggOpusParser({ onPacket: () => undefined }).push(Buffer.alloc(40, 0x41)), /capture pattern/);
  const notOpus = page(0x02, 0n, 0, [19], Buffer.alloc(19, 0x41));
  assert.throws(() => new OggOpusParser({ onPacket: () => undefined }).push(notOpus), /OpusHead/);
});

test('OggOpusParser reads real ffmpeg Ogg/Opus: 1 s of 48 kHz audio is 50 packets of 20 ms', { skip: spawnSync('ffmpeg', ['-version']).status !== 0 }, () => {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=1',
    '-c:a', 'libopus', '-b:a', '64k', '-frame_duration', '20', '-page_duration', '20000', '-f', 'ogg', 'pipe:1'], { maxBuffer: 4 << 20 });
  assert.equal(r.status, 0, String(r.stderr));
  let samples = 0;
  let packets = 0;
  const p = new OggOpusParser({ onPacket: (x) => { packets++; samples += opusPacketSamples(x); } });
  p.push(r.stdout);
  // libopus adds its pre-skip (312 samples) as one more packet at the end.
  assert.ok(packets === 50 || packets === 51, `packets ${packets}`);
  assert.equal(samples, packets * 960);
});
