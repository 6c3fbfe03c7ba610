/**
 * Bounded, seeded fuzzing of the byte-level parsers: random input and mutations of real
 * ffmpeg captures. Each parser may only throw its own typed error, and must finish.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ChunkParser, RtmpChunkError, RTMP_MSG_COMMAND_AMF0, RTMP_MSG_DATA_AMF0, type RtmpMessage } from '../../../src/formats/rtmp-chunk.js';
import { decodeAmf0, encodeAmf0, Amf0Error, ecmaArray } from '../../../src/formats/amf0.js';
import { FlvParser, FlvError, parseVideoTagHeader, parseAudioTagHeader } from '../../../src/formats/flv.js';
import { parseSps, parseAvcDecoderConfig, AvcError } from '../../../src/formats/avc.js';
import { parseAudioSpecificConfig, AacError } from '../../../src/formats/aac.js';
import { parseHevcDecoderConfig, parseHevcSpsSize, HevcError } from '../../../src/formats/hevc.js';
import { mutate as mutateBytes, randomBytes, seededRandom as prng } from '../../../testkit/prng.js';
import { at } from '../../../testkit/at.js';

const fixture = (n: string) => readFileSync(new URL(`../../fixtures/media/${n}`, import.meta.url));
const RTMP_CAPTURE = fixture('ffmpeg-publish.rtmp');
const FLV_CAPTURE = fixture('h264-aac-640x360.flv');


/** Byte values worth writing into RTMP/FLV/AMF0 (markers, chunk types, tag types). */
const SPECIALS = [0x00, 0xff, 0x7f, 0x80, 0x03, 0x09];
const mutate = (rnd: () => number, src: Buffer) => mutateBytes(rnd, src, SPECIALS);

function feedChunks(rnd: () => number, input: Buffer): { messages: RtmpMessage[]; error: unknown } {
  const messages: RtmpMessage[] = [];
  const p = new ChunkParser({ maxMessageSize: 1 << 20, onMessage: (m) => messages.push(m) });
  try {
    let o = 0;
    while (o < input.length) {
      const n = 1 + ((rnd() * 700) | 0);
      p.push(input.subarray(o, o + n));
      o += n;
    }
  } catch (err) {
    return { messages, error: err };
  }
  return { messages, error: null };
}

test('the real ffmpeg capture parses into connect ... publish, metadata and media', () => {
  const { messages, error } = feedChunks(prng(1), RTMP_CAPTURE);
  assert.equal(error, null);
  const commands = messages.filter((m) => m.type === RTMP_MSG_COMMAND_AMF0).map((m) => decodeAmf0(m.payload)[0]);
  assert.deepEqual(commands.slice(0, 5), ['connect', 'releaseStream', 'FCPublish', 'createStream', 'publish']);
  const data = messages.find((m) => m.type === RTMP_MSG_DATA_AMF0)!;
  assert.deepEqual(decodeAmf0(data.payload).slice(0, 2), ['@setDataFrame', 'onMetaData']);
  assert.ok(messages.filter((m) => m.type === 9).length >= 8);
  assert.ok(messages.filter((m) => m.type === 8).length >= 8);
});

test('fuzz: chunk parser and AMF0 on mutated captures and random bytes throw only typed errors', () => {
  const rnd = prng(0xc0ffee);
  let typedErrors = 0;
  const started = Date.now();
  for (let i = 0; i < 1500; i++) {
    const input = i % 5 === 4 ? randomBytes(rnd, (rnd() * 4096) | 0) : mutate(rnd, RTMP_CAPTURE);
    const { messages, error } = feedChunks(rnd, input);
    if (error) {
      assert.ok(error instanceof RtmpChunkError, `iteration ${i}: ${String(error)}`);
      typedErrors++;
    }
    for (const m of messages) {
      if (m.type !== RTMP_MSG_COMMAND_AMF0 && m.type !== RTMP_MSG_DATA_AMF0) continue;
      try {
        decodeAmf0(m.payload);
      } catch (err) {
        assert.ok(err instanceof Amf0Error, `iteration ${i}: ${String(err)}`);
      }
    }
  }
  assert.ok(typedErrors > 100, `mutations were caught (${typedErrors})`);
  assert.ok(Date.now() - started < 60_000);
});

test('fuzz: AMF0 decoder on mutated commands', () => {
  const rnd = prng(42);
  const seeds = [
    encodeAmf0('connect', 1, { app: 'live', tcUrl: 'rtmp://x/live', fpad: false, capabilities: 15, list: [1, 'a', null], when: new Date(0) }),
    encodeAmf0('onMetaData', ecmaArray({ width: 640, height: 360, encoder: 'Lavf', stereo: true })),
    encodeAmf0('x'.repeat(70000)),
  ];
  for (let i = 0; i < 5000; i++) {
    const input = mutate(rnd, at(seeds, i % seeds.length));
    try {
      decodeAmf0(input);
    } catch (err) {
      assert.ok(err instanceof Amf0Error, `iteration ${i}: ${String(err)} on ${input.subarray(0, 40).toString('hex')}`);
    }
  }
});

test('fuzz: FLV parser, tag headers, avcC/SPS, ASC and hvcC throw only their typed errors', () => {
  const rnd = prng(7);
  const typed = [FlvError, AvcError, AacError, HevcError];
  const check = (fn: () => unknown, i: number) => {
    try {
      fn();
    } catch (err) {
      assert.ok(typed.some((T) => err instanceof T), `iteration ${i}: ${String(err)}`);
    }
  };
  const hvcc = fixture('hevc-640x360.hvcC');
  for (let i = 0; i < 400; i++) {
    const input = mutate(rnd, FLV_CAPTURE);
    check(() => {
      const p = new FlvParser({
        onTag: (t) => {
          if (t.type === 9) {
            const h = parseVideoTagHeader(t.data);
            if (h.packetType === 0) check(() => parseSps(parseAvcDecoderConfig(t.data.subarray(h.payloadOffset)).sps[0] ?? Buffer.from([0x67])), i);
          } else if (t.type === 8) {
            const h = parseAudioTagHeader(t.data);
            if (h.packetType === 0) check(() => parseAudioSpecificConfig(t.data.subarray(h.payloadOffset)), i);
          }
        },
      });
      for (let o = 0; o < input.length; o += 4096) p.push(input.subarray(o, o + 4096));
    }, i);
  }
  for (let i = 0; i < 2000; i++) {
    check(() => parseSps(Buffer.concat([Buffer.from([0x67]), randomBytes(rnd, (rnd() * 40) | 0)])), i);
    check(() => parseAudioSpecificConfig(randomBytes(rnd, (rnd() * 6) | 0)), i);
    check(() => {
      const c = parseHevcDecoderConfig(mutate(rnd, hvcc));
      for (const a of c.arrays) if (a.type === 33 && a.nalus[0]) parseHevcSpsSize(a.nalus[0]);
    }, i);
  }
});
