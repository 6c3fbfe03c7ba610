import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChunkParser, RtmpChunkError, encodeChunks, setChunkSizeMessage, userControlMessage, parseUserControl, windowAckSizeMessage,
  setPeerBandwidthMessage, abortMessage, RTMP_MSG_AUDIO, RTMP_MSG_VIDEO, RTMP_MSG_SET_CHUNK_SIZE, USER_CONTROL_PING_REQUEST,
  type RtmpMessage,
} from '../../../src/formats/rtmp-chunk.js';
import { serverHandshake, clientHello, clientFinish, HandshakeError } from '../../../src/media/rtmp/handshake.js';
import { at } from '../../../testkit/at.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function parse(buf: Buffer, step = buf.length, maxMessageSize = 1 << 20): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  const p = new ChunkParser({ maxMessageSize, onMessage: (m) => out.push(m) });
  for (let i = 0; i < buf.length; i += step) p.push(buf.subarray(i, i + step));
  return out;
}

test('control message golden bytes', () => {
  assert.deepEqual(setChunkSizeMessage(4096), h('02 000000 000004 01 00000000 00001000'));
  assert.deepEqual(windowAckSizeMessage(2500000), h('02 000000 000004 05 00000000 002625a0'));
  assert.deepEqual(setPeerBandwidthMessage(2500000, 2), h('02 000000 000005 06 00000000 002625a0 02'));
  assert.deepEqual(userControlMessage(0, 1), h('02 000000 000006 04 00000000 0000 00000001'));
  assert.deepEqual(abortMessage(4), h('02 000000 000004 02 00000000 00000004'));
  assert.deepEqual(parseUserControl(h('0006 12345678')), { event: USER_CONTROL_PING_REQUEST, value: 0x12345678 });
});

test('encodeChunks splits with fmt 3 continuations; parser reassembles at any split', () => {
  const payload = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
  const enc = encodeChunks(6, RTMP_MSG_VIDEO, 1, 1000, payload, 128);
  assert.deepEqual(enc.subarray(0, 12), h('06 0003e8 00012c 09 01000000'));
  assert.equal(enc[12 + 128], 0xc6); // fmt 3, csid 6
  assert.equal(enc[12 + 128 + 1 + 128], 0xc6);
  assert.equal(enc.length, 12 + 300 + 2);
  for (const step of [enc.length, 1, 7]) {
    const msgs = parse(Buffer.concat([setChunkSizeMessage(128), enc]), step);
    assert.equal(msgs.length, 2);
    assert.deepEqual(msgs[1], { csid: 6, type: RTMP_MSG_VIDEO, streamId: 1, timestamp: 1000, payload });
  }
  // two-byte and three-byte basic headers
  assert.deepEqual(encodeChunks(100, 8, 0, 0, h('aa'), 128).subarray(0, 2), h('00 24'));
  assert.deepEqual(encodeChunks(400, 8, 0, 0, h('aa'), 128).subarray(0, 3), h('01 50 01'));
  assert.equal(parse(encodeChunks(400, 8, 0, 7, h('aa'), 128))[0]!.csid, 400);
});

test('extended timestamps: fmt 0 and repeated on fmt 3 continuations', () => {
  const payload = Buffer.alloc(200, 1);
  const enc = encodeChunks(4, RTMP_MSG_AUDIO, 1, 0x01000000, payload, 128);
  assert.deepEqual(enc.subarray(0, 16), h('04 ffffff 0000c8 08 01000000 01000000'));
  assert.deepEqual(enc.subarray(16 + 128, 16 + 128 + 5), h('c4 01000000'));
  for (const step of [enc.length, 1, 3]) {
    const [m] = parse(enc, step);
    assert.equal(m!.timestamp, 0x01000000);
    assert.deepEqual(m!.payload, payload);
  }
  // a peer that omits the extended timestamp on continuations is still understood
  const omitted = Buffer.concat([enc.subarray(0, 16 + 128), h('c4'), enc.subarray(16 + 128 + 5)]);
  assert.deepEqual(parse(omitted)[0]!.payload, payload);
});

test('fmt 1/2/3 deltas (RTMP spec example 1: audio every 20 ms)', () => {
  // csid 3, stream 12345, type 8, 32-byte messages, first at 1000 then +20 each
  const body = Buffer.alloc(32, 7);
  const buf = Buffer.concat([
    h('03 0003e8 000020 08 39300000'), body,
    h('83 000014'), body, // fmt 2: delta 20
    h('c3'), body, // fmt 3: same delta
    h('c3'), body,
    h('43 000005 000002 09'), h('abcd'), // fmt 1: delta 5, new length/type, same stream
  ]);
  for (const step of [buf.length, 1]) {
    const msgs = parse(buf, step);
    assert.deepEqual(msgs.map((m) => m.timestamp), [1000, 1020, 1040, 1060, 1065]);
    assert.ok(msgs.every((m) => m.streamId === 12345));
    assert.equal(at(msgs, 4).type, 9);
  }
  // a fmt 3 right after fmt 0 uses the fmt 0 timestamp as its delta
  const b2 = Buffer.concat([h('03 000064 000001 08 00000000 aa'), h('c3 bb')]);
  assert.deepEqual(parse(b2).map((m) => m.timestamp), [100, 200]);
});

test('set chunk size and abort are applied by the parser', () => {
  const big = Buffer.alloc(5000, 9);
  const buf = Buffer.concat([setChunkSizeMessage(4096), encodeChunks(6, 9, 1, 0, big, 4096)]);
  const msgs = parse(buf, 1000);
  assert.equal(at(msgs, 0).type, RTMP_MSG_SET_CHUNK_SIZE);
  assert.deepEqual(at(msgs, 1).payload, big);
  // abort drops the partial message on csid 6; the next message on csid 6 starts clean
  const part = encodeChunks(6, 9, 1, 0, Buffer.alloc(300, 1), 128).subarray(0, 12 + 128);
  const next = encodeChunks(6, 9, 1, 40, h('0102'), 128);
  const msgs2 = parse(Buffer.concat([part, abortMessage(6), next]));
  assert.equal(msgs2.length, 2);
  assert.deepEqual(at(msgs2, 1).payload, h('0102'));
});

test('protocol violations throw RtmpChunkError and the parser stays failed', () => {
  const cases: Buffer[] = [
    h('c5 00'), // fmt 3 without a previous header
    h('85 000000'), // fmt 2 without a previous header
    h('02 000000 000004 01 00000000 00000000'), // chunk size 0
    h('02 000000 000004 01 00000000 7fffffff'), // chunk size beyond our limit
    h('04 000000 ffffff 08 00000000'), // message larger than the limit
    Buffer.concat([h('04 000000 000100 08 00000000'), Buffer.alloc(128), h('04 000000 000001 08 00000000')]), // new header mid-message
  ];
  for (const c of cases) {
    const p = new ChunkParser({ maxMessageSize: 1 << 20, onMessage: () => {} });
    assert.throws(() => p.push(c), RtmpChunkError, c.toString('hex'));
    assert.throws(() => p.push(h('00')), RtmpChunkError);
  }
  // too many chunk streams
  const p = new ChunkParser({ maxMessageSize: 1 << 20, onMessage: () => {} });
  const many = Buffer.concat(Array.from({ length: 70 }, (_, i) => ((e) => e.subarray(0, e.length - 72 - (10 + i < 64 ? 1 : 2)))(encodeChunks(10 + i, 8, 0, 0, Buffer.alloc(200), 128))));
  assert.throws(() => p.push(many), /too many chunk streams/);
});

test('handshake: digest handshake verifies both ways; simple handshake echoes C1', () => {
  const complex = clientHello(true);
  const s = serverHandshake(complex.c1);
  assert.equal(s.complex, true);
  assert.equal(s.response.length, 3073);
  assert.equal(clientFinish(complex.c1, s.response, true).length, 1536);
  const tampered = Buffer.from(s.response);
  tampered[3073 - 1]! ^= 1;
  assert.throws(() => clientFinish(complex.c1, tampered, true), HandshakeError);

  const simple = clientHello(false);
  const s2 = serverHandshake(simple.c1);
  assert.equal(s2.complex, false);
  assert.deepEqual(s2.response.subarray(1 + 1536), simple.c1);
  assert.deepEqual(s2.response.subarray(5, 9), h('00000000'));
  assert.deepEqual(clientFinish(simple.c1, s2.response, false), s2.response.subarray(1, 1537));
  // a C1 with a version but no valid digest falls back to simple
  const fake = Buffer.from(simple.c1);
  fake.writeUInt32BE(0x09007c02, 4);
  assert.equal(serverHandshake(fake).complex, false);
});

test('maxPendingBytes bounds the half-received messages of all chunk streams together', () => {
  const out: RtmpMessage[] = [];
  const p = new ChunkParser({ maxMessageSize: 64 * 1024, maxPendingBytes: 64 * 1024, onMessage: (m) => out.push(m) });
  // Three 30 KiB messages on three chunk streams, each sent only up to its first chunk: the third
  // would make 90 KiB pending, past the 64 KiB bound.
  const first = (csid: number) => encodeChunks(csid, RTMP_MSG_VIDEO, 1, 0, Buffer.alloc(30 * 1024, csid), 128).subarray(0, 12 + 128);
  p.push(first(4));
  p.push(first(5));
  assert.throws(() => p.push(first(6)), (e: unknown) => e instanceof RtmpChunkError && /limit 65536/.test(e.message));
});

test('maxPendingBytes: completed and aborted messages give their bytes back; setLimits widens the bound', () => {
  const out: RtmpMessage[] = [];
  const p = new ChunkParser({ maxMessageSize: 64 * 1024, maxPendingBytes: 40 * 1024, onMessage: (m) => out.push(m) });
  for (let i = 0; i < 10; i++) p.push(encodeChunks(6, RTMP_MSG_VIDEO, 1, i, Buffer.alloc(30 * 1024), 128));
  assert.equal(out.length, 10, 'whole messages one after the other never add up');
  const half = encodeChunks(4, RTMP_MSG_AUDIO, 1, 0, Buffer.alloc(30 * 1024), 128).subarray(0, 12 + 128);
  p.push(half);
  p.push(abortMessage(4));
  p.push(encodeChunks(6, RTMP_MSG_VIDEO, 1, 99, Buffer.alloc(30 * 1024), 128));
  assert.equal(out.length, 12, 'the aborted message no longer counts');
  assert.throws(() => new ChunkParser({ maxMessageSize: 64 * 1024, onMessage: () => {} }).push(encodeChunks(6, RTMP_MSG_VIDEO, 1, 0, Buffer.alloc(100 * 1024), 128)), RtmpChunkError);
  const q = new ChunkParser({ maxMessageSize: 64 * 1024, maxPendingBytes: 64 * 1024, onMessage: (m) => out.push(m) });
  q.setLimits({ maxMessageSize: 1 << 20 });
  q.push(encodeChunks(6, RTMP_MSG_VIDEO, 1, 0, Buffer.alloc(200 * 1024), 128));
  assert.equal(out.at(-1)!.payload.length, 200 * 1024);
});
