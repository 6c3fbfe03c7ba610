/**
 * Bounded, seeded fuzzing of the RTSP message parser, the SDP reader and the RFC 3640
 * depacketizer: random splits and mutations of real input. The parser may only throw
 * RtspParseError; the depacketizer never throws; both finish.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtspParseError, RtspParser } from '../../../src/formats/rtsp-message.js';
import { aacParams, h264Params, parseSdp, SdpRtspError } from '../../../src/formats/sdp-rtsp.js';
import { AacDepacketizer, packetizeAac } from '../../../src/formats/rtp-aac.js';
import { mutate as mutateBytes, seededRandom as prng } from '../../../testkit/prng.js';
import { FFMPEG_ANNOUNCE } from '../helpers/rtsp-captures.js';
import { at } from '../../../testkit/at.js';

/** Byte values worth writing into RTSP: '$' (interleaved), CR, LF, ':'. */
const SPECIALS = [0x00, 0xff, 0x24, 0x0d, 0x0a, 0x3a];
const mutate = (rnd: () => number, src: Buffer) => mutateBytes(rnd, src, SPECIALS);

const ROUNDS = 1500;
const SEED_STREAM = Buffer.concat([
  Buffer.from('OPTIONS rtsp://127.0.0.1:8554/live/KEY RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: Lavf59.27.100\r\n\r\n', 'latin1'),
  Buffer.from(FFMPEG_ANNOUNCE, 'latin1'),
  Buffer.from('SETUP rtsp://127.0.0.1:8554/live/KEY/streamid=0 RTSP/1.0\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record\r\nCSeq: 3\r\n\r\n', 'latin1'),
  Buffer.from('24000010', 'hex'), Buffer.from('80e000010000000a12345678deadbeef', 'hex'),
  Buffer.from('24010008', 'hex'), Buffer.from('80c8000100000001', 'hex'),
]);

test('RTSP parser: random splits of the seed parse identically; mutations only throw RtspParseError', () => {
  const rnd = prng(11);
  const whole: string[] = [];
  new RtspParser({ onMessage: (m) => whole.push(JSON.stringify(m)) }).push(SEED_STREAM);
  assert.equal(whole.length, 5);
  for (let r = 0; r < ROUNDS; r++) {
    const input = r % 3 === 0 ? SEED_STREAM : mutate(rnd, SEED_STREAM);
    const got: string[] = [];
    const p = new RtspParser({ onMessage: (m) => got.push(JSON.stringify(m)), maxHeaderBytes: 4096, maxBodyBytes: 4096 });
    try {
      for (let at = 0; at < input.length;) {
        const n = 1 + ((rnd() * 120) | 0);
        p.push(input.subarray(at, at + n));
        at += n;
      }
    } catch (err) {
      assert.ok(err instanceof RtspParseError, `round ${r}: ${(err as Error).stack}`);
      continue;
    }
    if (input === SEED_STREAM) assert.deepEqual(got, whole);
  }
});

test('SDP reader: mutations of the captured ANNOUNCE body only throw SdpRtspError', () => {
  const rnd = prng(12);
  const body = Buffer.from(FFMPEG_ANNOUNCE.slice(FFMPEG_ANNOUNCE.indexOf('\r\n\r\n') + 4), 'latin1');
  for (let r = 0; r < ROUNDS; r++) {
    try {
      const sdp = parseSdp(mutate(rnd, body).toString('latin1'));
      for (const m of sdp.media) {
        for (const f of m.fmtp.values()) {
          h264Params(f);
          try {
            aacParams(f);
          } catch (err) {
            assert.ok(err instanceof SdpRtspError);
          }
        }
      }
    } catch (err) {
      assert.ok(err instanceof SdpRtspError, `round ${r}: ${(err as Error).stack}`);
    }
  }
});

test('AAC depacketizer: mutated payloads never throw and never yield more bytes than they hold', () => {
  const rnd = prng(13);
  const seeds = [
    ...packetizeAac([Buffer.alloc(6, 1), Buffer.alloc(300, 2), Buffer.alloc(5, 3)]),
    ...packetizeAac([Buffer.alloc(2500, 4)], 1000),
    ...packetizeAac([Buffer.alloc(200, 5)]),
  ];
  const d = new AacDepacketizer();
  for (let r = 0; r < ROUNDS * 2; r++) {
    const seed = at(seeds, (rnd() * seeds.length) | 0);
    const payload = r % 4 === 0 ? seed : mutate(rnd, seed);
    const got = d.push(payload, (rnd() * 4) | 0, rnd() < 0.5);
    if (got) {
      const n = got.frames.reduce((s, f) => s + f.length, 0);
      assert.ok(n <= 64 * 1024, `round ${r}: ${n} bytes`);
    }
  }
  assert.ok(d.stats.frames > 0 && d.stats.dropped > 0, JSON.stringify(d.stats));
});
