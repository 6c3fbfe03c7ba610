import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrtReceiver, toRanges, ACK_INTERVAL_MS } from '../../../../src/media/srt/receiver.js';
import { PP_SOLO, seqAdd, type AckInfo, type SeqRange, type SrtDataPacket } from '../../../../src/formats/srt-packet.js';
import { parseStreamId } from '../../../../src/media/srt/streamid.js';

const ISN = 0x7fff_fff0; // close to the wrap, so every test crosses it

function setup(latencyMs = 120, bufferPackets = 1000) {
  let now = 1000;
  const delivered: { seq: number; at: number }[] = [];
  const gaps: number[] = [];
  const acks: { n: number; ack: AckInfo; at: number }[] = [];
  const naks: SeqRange[][] = [];
  const r = new SrtReceiver({
    initialSeq: ISN, latencyMs, bufferPackets, now: () => now,
    deliver: (p) => delivered.push({ seq: p.readUInt32BE(0), at: now }),
    gap: (n) => gaps.push(n),
    sendAck: (n, ack) => acks.push({ n, ack, at: now }),
    sendNak: (lost) => naks.push(lost),
  });
  /** packet i is sent at sender time i ms (timestamps in µs), carrying its sequence number. */
  const pkt = (i: number, retransmitted = false): SrtDataPacket => {
    const seq = seqAdd(ISN, i);
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(seq, 0);
    return { kind: 'data', seq, position: PP_SOLO, inOrder: false, encryption: 0, retransmitted, messageNumber: i + 1, timestamp: i * 1000, destinationSocketId: 1, payload };
  };
  const advance = (ms: number) => {
    for (let i = 0; i < ms; i++) {
      now++;
      r.tick();
    }
  };
  return { r, pkt, delivered, gaps, acks, naks, advance, at: () => now };
}

test('in-order packets are delivered at their timestamp + latency (TSBPD), across the sequence wrap', () => {
  const t = setup(100);
  const start = t.at();
  for (let i = 0; i < 30; i++) {
    t.r.onData(t.pkt(i));
    t.advance(1);
  }
  // The first went in at `start` with sender time 0: due at start + 100.
  assert.equal(t.delivered.length, 0);
  t.advance(100);
  assert.equal(t.delivered.length, 30);
  t.delivered.forEach((d, i) => {
    assert.equal(d.seq, seqAdd(ISN, i));
    assert.equal(d.at, start + i + 100);
  });
  assert.equal(t.r.stats.lost, 0);
  assert.deepEqual(t.gaps, []);
});

test('a gap is reported at once (NAK with the range), a retransmission fills it and delivery stays in order', () => {
  const t = setup(120);
  for (const i of [0, 1, 2, 6, 7]) {
    t.r.onData(t.pkt(i));
    t.advance(1);
  }
  assert.deepEqual(t.naks, [[{ first: seqAdd(ISN, 3), last: seqAdd(ISN, 5) }]]);
  assert.equal(t.r.stats.lost, 3);
  assert.equal(t.r.missing, 3);
  // ACK acknowledges up to the first missing packet.
  t.advance(ACK_INTERVAL_MS);
  assert.equal(t.acks.at(-1)!.ack.lastAckSeq, seqAdd(ISN, 3));
  for (const i of [4, 3, 5]) t.r.onData(t.pkt(i, true));
  assert.equal(t.r.stats.recovered, 3);
  assert.equal(t.r.stats.retransmitted, 3);
  t.advance(150);
  assert.deepEqual(t.delivered.map((d) => d.seq), [0, 1, 2, 3, 4, 5, 6, 7].map((i) => seqAdd(ISN, i)));
  assert.equal(t.r.stats.dropped, 0);
  assert.equal(t.acks.at(-1)!.ack.lastAckSeq, seqAdd(ISN, 8));
});

test('a packet still missing when a later one is due is given up (counted, gap signalled); NAKs repeat meanwhile', () => {
  const t = setup(120);
  t.r.onData(t.pkt(0));
  t.advance(ACK_INTERVAL_MS);
  t.advance(2);
  t.r.onAckAck(t.acks.at(-1)!.n); // RTT ~ a few ms: NAKs repeat every 20 ms
  t.r.onData(t.pkt(12));
  assert.equal(t.naks.length, 1);
  t.advance(60);
  assert.ok(t.naks.length >= 2, 'the loss is reported again while it is missing');
  assert.deepEqual(t.naks[1], [{ first: seqAdd(ISN, 1), last: seqAdd(ISN, 11) }]);
  t.advance(70);
  assert.deepEqual(t.delivered.map((d) => d.seq), [seqAdd(ISN, 0), seqAdd(ISN, 12)]);
  assert.deepEqual(t.gaps, [11]);
  assert.equal(t.r.stats.dropped, 11);
  assert.equal(t.r.missing, 0);
  // Too late now: a retransmission is a duplicate.
  t.r.onData(t.pkt(1, true));
  assert.equal(t.r.stats.duplicates, 1);
  assert.equal(t.delivered.length, 2);
});

test('a drop request from the sender gives the packets up at once', () => {
  const t = setup(120);
  t.r.onData(t.pkt(0));
  t.r.onData(t.pkt(3));
  t.r.onDropRequest(seqAdd(ISN, 1), seqAdd(ISN, 2));
  t.advance(125);
  assert.deepEqual(t.delivered.map((d) => d.seq), [seqAdd(ISN, 0), seqAdd(ISN, 3)]);
  assert.equal(t.r.stats.dropped, 2);
});

test('ACKACK gives the RTT (first sample, then smoothed 7/8)', () => {
  const t = setup();
  t.r.onData(t.pkt(0));
  t.advance(ACK_INTERVAL_MS);
  const first = t.acks.at(-1)!;
  assert.equal(first.ack.rttUs, 100_000, 'the initial 100 ms before any sample');
  t.advance(20 - (t.at() - first.at));
  t.r.onAckAck(first.n);
  assert.equal(t.r.rttMs, 20);
  t.r.onData(t.pkt(1));
  t.advance(ACK_INTERVAL_MS);
  const second = t.acks.at(-1)!;
  assert.notEqual(second.n, first.n);
  t.advance(36 - (t.at() - second.at));
  t.r.onAckAck(second.n);
  assert.equal(t.r.rttMs, (7 * 20 + 36) / 8);
  assert.ok(second.ack.availableBuffer! > 900);
  t.r.onAckAck(12345); // unknown: ignored
  assert.equal(t.r.rttMs, 22);
});

test('the buffer is bounded: a jump past it gives up the old window', () => {
  const t = setup(120, 100);
  t.r.onData(t.pkt(0));
  t.r.onData(t.pkt(500));
  assert.ok(t.r.stats.dropped >= 400, `dropped ${t.r.stats.dropped}`);
  assert.ok(t.r.missing < 100, `missing ${t.r.missing}`);
  t.r.onData(t.pkt(5_000_000));
  assert.ok(t.r.missing < 100);
  assert.ok(t.r.buffered <= 100);
});

test('toRanges sorts and merges sequence numbers across the wrap', () => {
  const max = 0x7fff_ffff;
  assert.deepEqual(toRanges([1, max, 0, 5, 3, 4]), [{ first: max, last: 1 }, { first: 3, last: 5 }]);
  assert.deepEqual(toRanges([]), []);
});

test('stream ids: publish:KEY, a bare key, the access-control syntax; playback modes', () => {
  assert.deepEqual(parseStreamId('publish:abc'), { ok: true, mode: 'publish', key: 'abc' });
  assert.deepEqual(parseStreamId('abc'), { ok: true, mode: 'publish', key: 'abc' });
  assert.deepEqual(parseStreamId('#!::r=abc,m=publish'), { ok: true, mode: 'publish', key: 'abc' });
  assert.deepEqual(parseStreamId('#!::m=publish,u=bob,r=abc'), { ok: true, mode: 'publish', key: 'abc' });
  assert.deepEqual(parseStreamId('#!::r=abc'), { ok: true, mode: 'request', key: 'abc' });
  assert.deepEqual(parseStreamId('read:abc'), { ok: true, mode: 'request', key: 'abc' });
  assert.deepEqual(parseStreamId(''), { ok: true, mode: 'publish', key: '' });
  assert.deepEqual(parseStreamId('#!::r=live/abc,m=publish'), { ok: true, mode: 'publish', key: 'abc' });
  assert.deepEqual(parseStreamId('publish:live/abc'), { ok: true, mode: 'publish', key: 'abc' });
  assert.deepEqual(parseStreamId('publish%3Aabc'), { ok: true, mode: 'publish', key: 'abc' });
  assert.deepEqual(parseStreamId('%23!%3A%3Ar%3Dabc%2Cm%3Dpublish'), { ok: true, mode: 'publish', key: 'abc' });
  assert.deepEqual(parseStreamId('publish:a%zz'), { ok: true, mode: 'publish', key: 'a%zz' });
  assert.equal(parseStreamId('#!::r=abc,m=bogus').ok, false);
  assert.equal(parseStreamId('#!::justtext').ok, false);
});
