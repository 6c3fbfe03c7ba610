import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeSrtPacket, decodeHsReq, decodeStreamId, decodeLossList, encodeAck, encodeControl, encodeDataPacket, encodeHandshake, encodeHsReq, encodeNak,
  encodePeerIp, encodeStreamId, rejectionReason, seqAdd, seqDiff, SrtPacketError, CTRL_ACKACK, CTRL_KEEPALIVE, CTRL_SHUTDOWN, HS_TYPE_CONCLUSION,
  HS_TYPE_INDUCTION, PP_SOLO, SRT_CMD_HSREQ, SRT_CMD_SID, SRT_OPT_TSBPDRCV, SRT_OPT_TSBPDSND, SRT_REJ_BASE, REJX_FORBIDDEN, type Handshake, type SrtPacket,
} from '../../../src/formats/srt-packet.js';
import { seededRandom } from '../../../testkit/prng.js';
import { at } from '../../../testkit/at.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Real captures: ffmpeg 6 / libsrt 1.5.1 calling `srt://127.0.0.1:P?streamid=publish:abc&latency=120000`. */
const FFMPEG_INDUCTION = h(`
  80000000 00000000 000003b4 00000000
  00000004 00000002 30a6ddc8 000005dc 00002000 00000001 008d91a7 00000000 0100007f 00000000 00000000 00000000`);
const FFMPEG_CONCLUSION = h(`
  80000000 00000000 00003258 00000000
  00000005 00000005 30a6ddc8 000005dc 00002000 ffffffff 008d91a7 1234abcd 0100007f 00000000 00000000 00000000
  0001 0003 00010501 000000bf 0078 0078
  0005 0003 6c627570 3a687369 00636261`);

const CASES: { name: string; bytes: Buffer; value: SrtPacket }[] = [
  {
    name: 'ffmpeg induction',
    bytes: FFMPEG_INDUCTION,
    value: {
      kind: 'handshake', timestamp: 0x3b4, destinationSocketId: 0,
      handshake: { version: 4, encryption: 0, extensionField: 2, initialSeq: 0x30a6ddc8, mtu: 1500, flowWindow: 8192, type: HS_TYPE_INDUCTION, socketId: 0x008d91a7, synCookie: 0, peerIp: h('0100007f' + '00'.repeat(12)), extensions: [] },
    },
  },
  {
    name: 'ffmpeg conclusion (HSREQ latency 120/120, SID publish:abc)',
    bytes: FFMPEG_CONCLUSION,
    value: {
      kind: 'handshake', timestamp: 0x3258, destinationSocketId: 0,
      handshake: {
        version: 5, encryption: 0, extensionField: 5, initialSeq: 0x30a6ddc8, mtu: 1500, flowWindow: 8192, type: HS_TYPE_CONCLUSION, socketId: 0x008d91a7, synCookie: 0x1234abcd,
        peerIp: h('0100007f' + '00'.repeat(12)),
        extensions: [{ type: SRT_CMD_HSREQ, data: h('00010501 000000bf 0078 0078') }, { type: SRT_CMD_SID, data: h('6c627570 3a687369 00636261') }],
      },
    },
  },
  {
    name: 'data packet, solo, retransmitted',
    bytes: h('00000064 e4000007 000f4240 11223344 47 00 11'),
    value: { kind: 'data', seq: 100, position: PP_SOLO, inOrder: true, encryption: 0, retransmitted: true, messageNumber: 7, timestamp: 1_000_000, destinationSocketId: 0x11223344, payload: h('470011') },
  },
  {
    name: 'full ACK',
    bytes: h('80020000 00000003 00000064 00000009  0000000a 00002710 00001388 00001f40 000001f4 000003e8 000f4240'),
    value: { kind: 'ack', timestamp: 100, destinationSocketId: 9, ackNumber: 3, ack: { lastAckSeq: 10, rttUs: 10_000, rttVarUs: 5000, availableBuffer: 8000, packetsPerSecond: 500, linkCapacity: 1000, bytesPerSecond: 1_000_000 } },
  },
  {
    name: 'NAK with a single loss and a range',
    bytes: h('80030000 00000000 00000001 00000002  00000005 8000000a 0000000c'),
    value: { kind: 'nak', timestamp: 1, destinationSocketId: 2, lost: [{ first: 5, last: 5 }, { first: 10, last: 12 }] },
  },
  { name: 'ACKACK', bytes: h('80060000 00000003 00000001 00000002'), value: { kind: 'ackack', timestamp: 1, destinationSocketId: 2, ackNumber: 3 } },
  { name: 'keepalive', bytes: h('80010000 00000000 00000001 00000002 00000000'), value: { kind: 'keepalive', timestamp: 1, destinationSocketId: 2 } },
  { name: 'shutdown', bytes: h('80050000 00000000 00000001 00000002 00000000'), value: { kind: 'shutdown', timestamp: 1, destinationSocketId: 2 } },
  { name: 'drop request', bytes: h('80070000 0000002a 00000001 00000002 00000010 00000014'), value: { kind: 'dropreq', timestamp: 1, destinationSocketId: 2, messageNumber: 42, first: 16, last: 20 } },
];

test('golden table: decode', () => {
  for (const c of CASES) assert.deepEqual(decodeSrtPacket(c.bytes), c.value, c.name);
});

test('golden table: encode gives the same bytes', () => {
  for (const c of CASES) {
    const v = c.value;
    let out: Buffer;
    switch (v.kind) {
      case 'handshake': out = encodeHandshake(v.handshake, v.timestamp, v.destinationSocketId); break;
      case 'data': out = encodeDataPacket(v); break;
      case 'ack': out = encodeAck(v.ackNumber, v.ack, v.timestamp, v.destinationSocketId); break;
      case 'nak': out = encodeNak(v.lost, v.timestamp, v.destinationSocketId); break;
      case 'ackack': out = encodeControl(CTRL_ACKACK, v.ackNumber, v.timestamp, v.destinationSocketId); break;
      case 'keepalive': out = encodeControl(CTRL_KEEPALIVE, 0, v.timestamp, v.destinationSocketId, Buffer.alloc(4)); break;
      case 'shutdown': out = encodeControl(CTRL_SHUTDOWN, 0, v.timestamp, v.destinationSocketId, Buffer.alloc(4)); break;
      case 'dropreq': out = encodeControl(7, v.messageNumber, v.timestamp, v.destinationSocketId, h('00000010 00000014')); break;
      default: throw new Error('no encoder');
    }
    assert.deepEqual(out, c.bytes, c.name);
  }
});

test('HSREQ, stream id (words byte-swapped as libsrt sends them), peer IP', () => {
  const hs = (decodeSrtPacket(FFMPEG_CONCLUSION) as { handshake: Handshake }).handshake;
  const req = decodeHsReq(at(hs.extensions, 0).data);
  assert.deepEqual(req, { srtVersion: 0x010501, flags: 0xbf, receiverDelayMs: 120, senderDelayMs: 120 });
  assert.ok(req.flags & SRT_OPT_TSBPDSND && req.flags & SRT_OPT_TSBPDRCV);
  assert.deepEqual(encodeHsReq(req), at(hs.extensions, 0).data);
  assert.equal(decodeStreamId(at(hs.extensions, 1).data), 'publish:abc');
  assert.deepEqual(encodeStreamId('publish:abc'), at(hs.extensions, 1).data);
  for (const id of ['', 'a', 'abcd', '#!::r=live/key,m=publish', 'ключ']) assert.equal(decodeStreamId(encodeStreamId(id)), id);
  assert.throws(() => encodeStreamId('x'.repeat(513)), SrtPacketError);
  assert.deepEqual(encodePeerIp('127.0.0.1'), hs.peerIp);
  assert.deepEqual(encodePeerIp('::ffff:10.0.0.1').subarray(0, 4), h('0100000a'));
  assert.equal(encodePeerIp('::1')[12], 1);
});

test('rejection reasons ride in the handshake type as 1000 + reason', () => {
  assert.equal(rejectionReason(SRT_REJ_BASE + REJX_FORBIDDEN), 1403);
  assert.equal(rejectionReason(SRT_REJ_BASE + 11), 11);
  assert.equal(rejectionReason(HS_TYPE_CONCLUSION), null);
  assert.equal(rejectionReason(HS_TYPE_INDUCTION), null);
});

test('sequence arithmetic wraps at 2^31', () => {
  const max = 0x7fff_ffff;
  assert.equal(seqAdd(max, 1), 0);
  assert.equal(seqAdd(0, -1), max);
  assert.equal(seqDiff(0, max), 1);
  assert.equal(seqDiff(max, 0), -1);
  assert.equal(seqDiff(5, 3), 2);
  assert.equal(seqDiff(3, 5), -2);
  assert.deepEqual(decodeLossList(encodeNak([{ first: max, last: 2 }], 0, 0).subarray(16)), [{ first: max, last: 2 }]);
});

test('malformed packets throw SrtPacketError', () => {
  assert.throws(() => decodeSrtPacket(Buffer.alloc(15)), SrtPacketError);
  assert.throws(() => decodeSrtPacket(FFMPEG_CONCLUSION.subarray(0, 40)), SrtPacketError);
  // an extension whose length runs past the packet
  const bad = Buffer.from(FFMPEG_CONCLUSION);
  bad.writeUInt16BE(200, 64 + 2);
  assert.throws(() => decodeSrtPacket(bad), SrtPacketError);
  assert.throws(() => decodeSrtPacket(h('80030000 00000000 00000001 00000002 80000005')), SrtPacketError);
});

test('fuzz: random and mutated datagrams decode or throw SrtPacketError, nothing else', () => {
  const rand = seededRandom(0x5a7);
  const seeds = CASES.map((c) => c.bytes);
  for (let i = 0; i < 20_000; i++) {
    let buf: Buffer;
    if (i % 3 === 0) {
      buf = Buffer.alloc(Math.floor(rand() * 120));
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rand() * 256);
      if (buf.length > 0 && rand() < 0.5) buf[0]! |= 0x80;
    } else {
      buf = Buffer.from(at(seeds, i % seeds.length));
      const flips = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < flips && buf.length; k++) buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
      if (rand() < 0.3) buf = buf.subarray(0, Math.floor(rand() * buf.length));
    }
    try {
      const p = decodeSrtPacket(buf);
      if (p.kind === 'handshake') for (const e of p.handshake.extensions) if (e.type === SRT_CMD_HSREQ && e.data.length >= 12) decodeHsReq(e.data); else if (e.type === SRT_CMD_SID) decodeStreamId(e.data);
    } catch (err) {
      assert.ok(err instanceof SrtPacketError, `seed case ${i}: ${(err as Error).message}`);
    }
  }
});
