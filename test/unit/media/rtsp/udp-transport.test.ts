/**
 * The pieces of RTSP over UDP that need no client: the jitter buffer (order, loss, duplicates,
 * late packets, wrap-around, a restarted sender), receiver-report counts and bytes, and the port
 * pool (even/odd pairs, a taken pair skipped, released pairs closed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { RtpReorderBuffer } from '../../../../src/media/rtsp/reorder.js';
import { parsePortRange, UdpPortPool } from '../../../../src/media/rtsp/udp-ports.js';
import { encodeRtcpReceiverReport, type RtpPacket } from '../../../../src/formats/rtp-packet.js';

const pkt = (seq: number): RtpPacket => ({ version: 2, padding: false, extension: false, marker: false, payloadType: 96, sequenceNumber: seq & 0xffff, timestamp: seq * 3000, ssrc: 0x1234, payload: Buffer.from([seq & 0xff]) }) as RtpPacket;
const seqs = (ps: RtpPacket[]) => ps.map((p) => p.sequenceNumber);

test('RtpReorderBuffer: in order passes at once; a swap is put back; duplicates and late packets dropped', () => {
  const b = new RtpReorderBuffer({ maxHeld: 8, maxWaitMs: 100 });
  assert.deepEqual(seqs(b.push(pkt(10), 0)), [10]);
  assert.deepEqual(seqs(b.push(pkt(12), 1)), []);
  assert.deepEqual(seqs(b.push(pkt(12), 1)), [], 'duplicate while held');
  assert.deepEqual(seqs(b.push(pkt(11), 2)), [11, 12]);
  assert.deepEqual(seqs(b.push(pkt(11), 3)), [], 'late: already passed on');
  assert.deepEqual(b.stats, { received: 3, reordered: 1, duplicates: 1, late: 1, lost: 0 });
});

test('RtpReorderBuffer: a gap is given up after maxWaitMs or when maxHeld packets wait; the loss is counted and reported', () => {
  const b = new RtpReorderBuffer({ maxHeld: 3, maxWaitMs: 100 });
  b.push(pkt(1), 0);
  assert.deepEqual(seqs(b.push(pkt(3), 10)), []);
  assert.deepEqual(seqs(b.expire(50)), [], 'not yet');
  assert.deepEqual(seqs(b.expire(111)), [3], '2 given up');
  for (const s of [6, 7, 8]) assert.deepEqual(seqs(b.push(pkt(s), 120)), []);
  assert.deepEqual(seqs(b.push(pkt(9), 121)), [6, 7, 8, 9], 'held bound reached: 4 and 5 given up');
  assert.equal(b.stats.lost, 3);
  const r = b.report();
  assert.equal(r.highestSeq, 9);
  assert.equal(r.cumulativeLost, 3);
  assert.equal(r.fractionLost, 3 / 9);
  assert.deepEqual(b.report(), { highestSeq: 9, cumulativeLost: 3, fractionLost: 0 }, 'nothing new since the last report');
});

test('RtpReorderBuffer: sequence wrap-around keeps order and counts cycles; a far jump restarts', () => {
  const b = new RtpReorderBuffer({ maxHeld: 8, maxWaitMs: 100 });
  b.push(pkt(65534), 0);
  assert.deepEqual(seqs(b.push(pkt(0), 1)), []);
  assert.deepEqual(seqs(b.push(pkt(65535), 2)), [65535, 0]);
  assert.deepEqual(seqs(b.push(pkt(1), 3)), [1]);
  assert.equal(b.report().highestSeq, 65536 + 1);
  assert.deepEqual(seqs(b.push(pkt(30000), 4)), [30000], 'a restarted sender');
  assert.deepEqual(seqs(b.push(pkt(30001), 5)), [30001]);
});

test('encodeRtcpReceiverReport: header, one report block, loss fields', () => {
  const rr = encodeRtcpReceiverReport(0xaabbccdd, [{ ssrc: 0x11223344, fractionLost: 0.25, cumulativeLost: 3, highestSeq: 65537, jitter: 0, lastSr: 0x12345678, delaySinceLastSr: 65536 }]);
  assert.equal(rr.toString('hex'), '81c90007' + 'aabbccdd' + '11223344' + '40' + '000003' + '00010001' + '00000000' + '12345678' + '00010000');
  assert.throws(() => encodeRtcpReceiverReport(1, new Array(32).fill({ ssrc: 1, fractionLost: 0, cumulativeLost: 0, highestSeq: 0, jitter: 0, lastSr: 0, delaySinceLastSr: 0 })));
});

test('UdpPortPool: even RTP port + odd RTCP port, a taken pair skipped, release closes and frees', async () => {
  assert.deepEqual(parsePortRange('20001-20010'), { first: 20002, last: 20008 });
  assert.throws(() => parsePortRange('20001-20002'), /no even\/odd port pair/);
  // Find a free 4-port stretch, then hold its first pair from outside.
  const blocker = dgram.createSocket('udp4');
  await new Promise<void>((r) => blocker.bind(0, '127.0.0.1', r));
  const base = blocker.address().port & ~1;
  blocker.close();
  const held = dgram.createSocket('udp4');
  await new Promise<void>((r) => held.bind(base, '127.0.0.1', r));
  const pool = new UdpPortPool(`${base}-${base + 3}`, '127.0.0.1');
  try {
    const a = await pool.allocate();
    assert.ok(a, 'the second pair');
    assert.equal(a.port, base + 2);
    assert.equal(a.rtcp.address().port, base + 3);
    assert.equal(await pool.allocate(), null, 'the only other pair is taken by someone else');
    pool.release(a);
    assert.equal(pool.inUse.size, 0);
    const again = await pool.allocate();
    assert.equal(again?.port, base + 2, 'rebindable once released');
    if (again) pool.release(again);
  } finally {
    held.close();
  }
});
