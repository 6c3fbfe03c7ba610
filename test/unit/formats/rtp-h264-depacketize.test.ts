import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H264Depacketizer, H264_REORDER_WINDOW, seqDistance, type H264AccessUnit, type RtpVideoPacket } from '../../../src/formats/rtp-h264-depacketize.js';
import { packetizeH264 } from '../../../src/formats/rtp-h264.js';
import { at } from '../../../testkit/at.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const SPS = hex('67 42 c0 1f da 02 80 bf e5 84 00 00 03 00 04 00 00 03 00 f0 3c 60 c9 20');
const PPS = hex('68 ce 3c 80');
const IDR = hex('65 88 84 00 33 ff');
const P1 = hex('41 9a 02 0c');

function collector() {
  const units: H264AccessUnit[] = [];
  let keyRequests = 0;
  const d = new H264Depacketizer({ onAccessUnit: (au) => units.push(au), onKeyframeNeeded: () => { keyRequests++; } });
  return { d, units, keyRequests: () => keyRequests };
}

function pkt(seq: number, ts: number, payload: Buffer, marker = false): RtpVideoPacket {
  return { sequenceNumber: seq & 0xffff, timestamp: ts, marker, payload };
}

/** avcc builds an AVCC access unit from NAL units (what packetizeH264 takes). */
function avcc(nals: Buffer[]): Buffer {
  return Buffer.concat(nals.flatMap((n) => { const l = Buffer.alloc(4); l.writeUInt32BE(n.length); return [l, n]; }));
}

test('seqDistance wraps around 16 bits', () => {
  assert.equal(seqDistance(65535, 0), 1);
  assert.equal(seqDistance(0, 65535), -1);
  assert.equal(seqDistance(100, 164), 64);
  assert.equal(seqDistance(10, 10 + 0x7fff), 0x7fff);
});

test('single NAL packets and STAP-A: golden bytes in, NAL units out', () => {
  const { d, units } = collector();
  // STAP-A: [F|NRI|24] size(16) SPS size(16) PPS, then an IDR as a single NAL unit with the marker.
  const stap = hex(`78 0018 ${SPS.toString('hex')} 0004 ${PPS.toString('hex')}`);
  d.push(pkt(1000, 90_000, stap));
  d.push(pkt(1001, 90_000, IDR, true));
  d.push(pkt(1002, 93_000, P1, true));
  assert.equal(units.length, 2);
  assert.deepEqual(at(units, 0).nals.map((n) => n.toString('hex')), [SPS, PPS, IDR].map((n) => n.toString('hex')));
  assert.equal(at(units, 0).keyframe, true);
  assert.equal(at(units, 0).timestamp, 90_000);
  assert.deepEqual(at(units, 1).nals, [P1]);
  assert.equal(at(units, 1).keyframe, false);
  assert.equal(d.stats.lost, 0);
});

test('FU-A start/middle/end rebuild one NAL unit with the original header', () => {
  const { d, units } = collector();
  // IDR 0x65 (NRI 3, type 5) split: FU indicator 0x7c (NRI 3, type 28), FU headers 0x85 / 0x05 / 0x45.
  d.push(pkt(7, 1, hex('7c 85 aa bb')));
  d.push(pkt(8, 1, hex('7c 05 cc')));
  d.push(pkt(9, 1, hex('7c 45 dd ee'), true));
  assert.equal(units.length, 1);
  assert.equal(at(units, 0).nals[0]!.toString('hex'), '65aabbccddee');
  assert.equal(at(units, 0).keyframe, true);
});

test('a unit ends at a new timestamp when the marker bit is missing', () => {
  const { d, units } = collector();
  d.push(pkt(1, 10, IDR));
  d.push(pkt(2, 20, P1, true));
  assert.deepEqual(units.map((u) => u.timestamp), [10, 20]);
});

test('packets out of order within the window are put back in order', () => {
  const { d, units } = collector();
  const big = Buffer.concat([Buffer.from([0x65]), Buffer.alloc(3000, 7)]);
  const { payloads } = packetizeH264(avcc([SPS, PPS, big]), { mtu: 500 });
  assert.ok(payloads.length > 4);
  // The first packet received fixes where the stream starts; after it, the rest come reversed.
  const all = payloads.map((p, i) => ({ p, i }));
  const order = [at(all, 0), ...all.slice(1).reverse()];
  for (const { p, i } of order) d.push(pkt(60_000 + i, 5, p, i === payloads.length - 1));
  assert.equal(units.length, 1);
  assert.deepEqual(at(units, 0).nals.map((n) => n.toString('hex')), [SPS, PPS, big].map((n) => n.toString('hex')));
  assert.equal(d.stats.lost, 0);
});

test('sequence numbers wrap from 65535 to 0 without loss', () => {
  const { d, units } = collector();
  d.push(pkt(65534, 1, IDR, true));
  d.push(pkt(65535, 2, P1, true));
  d.push(pkt(0, 3, P1, true));
  d.push(pkt(1, 4, P1, true));
  assert.equal(units.length, 4);
  assert.equal(d.stats.lost, 0);
});

test('a lost FU-A middle drops the unit (never passes it damaged), asks for a keyframe, and waits for an IDR', () => {
  const { d, units, keyRequests } = collector();
  d.push(pkt(1, 1, IDR, true)); // a good keyframe first
  // Frame 2: P slice in three FU-A fragments; the middle one never arrives.
  d.push(pkt(2, 2, hex('5c 81 01 02')));
  // (seq 3 lost)
  d.push(pkt(4, 2, hex('5c 41 05 06'), true));
  // Frames 3 and 4: whole P frames, but they reference the lost one.
  d.push(pkt(5, 3, P1, true));
  d.push(pkt(6, 4, P1, true));
  // The window fills with later packets: the hole is given up.
  for (let i = 0; i < H264_REORDER_WINDOW; i++) d.push(pkt(7 + i, 5 + i, P1, true));
  assert.equal(units.length, 1, 'only the first keyframe; nothing after the hole until an IDR');
  assert.equal(d.stats.lost, 1);
  assert.equal(keyRequests(), 1);
  assert.equal(d.waitingForKeyframe, true);
  const next = 7 + H264_REORDER_WINDOW;
  d.push(pkt(next, 10_000, IDR, true));
  d.push(pkt(next + 1, 10_001, P1, true));
  assert.equal(units.length, 3);
  assert.equal(at(units, 1).keyframe, true);
  assert.equal(d.waitingForKeyframe, false);
});

test('a retransmission that fills the hole in time loses nothing', () => {
  const { d, units } = collector();
  d.push(pkt(1, 1, IDR, true));
  d.push(pkt(3, 3, P1, true));
  d.push(pkt(4, 4, P1, true));
  assert.equal(units.length, 1);
  d.push(pkt(2, 2, P1, true));
  assert.deepEqual(units.map((u) => u.timestamp), [1, 2, 3, 4]);
  assert.equal(d.stats.lost, 0);
});

test('duplicates and late packets are counted and ignored', () => {
  const { d, units } = collector();
  d.push(pkt(1, 1, IDR, true));
  d.push(pkt(2, 2, P1, true));
  d.push(pkt(2, 2, P1, true));
  d.push(pkt(1, 1, IDR, true));
  assert.equal(units.length, 2);
  assert.equal(d.stats.late, 2);
});

test('until the first IDR nothing is passed on, and a keyframe is asked for', () => {
  const { d, units, keyRequests } = collector();
  d.push(pkt(1, 1, P1, true));
  d.push(pkt(2, 2, P1, true));
  assert.equal(units.length, 0);
  assert.equal(keyRequests(), 1, 'one request per episode');
  d.requestAgain();
  d.push(pkt(3, 3, P1, true));
  assert.equal(keyRequests(), 2);
  d.push(pkt(4, 4, IDR, true));
  assert.equal(units.length, 1);
});

test('bad payloads (interleaved-mode types, truncated STAP-A, FU-A without start) drop the unit', () => {
  for (const bad of [hex('79 00 01'), hex('78 00 09 65'), hex('7c 05 01'), hex('7c'), Buffer.alloc(0)]) {
    const { d, units } = collector();
    d.push(pkt(1, 1, IDR, true));
    d.push(pkt(2, 2, bad, true));
    d.push(pkt(3, 3, P1, true));
    assert.equal(units.length, 1, `after ${bad.toString('hex')}`);
    assert.equal(d.waitingForKeyframe, true);
  }
});

test('a sender that restarts its sequence numbers is followed from its next keyframe', () => {
  const { d, units } = collector();
  d.push(pkt(100, 1, IDR, true));
  d.push(pkt(40_000, 2, P1, true)); // far from 101: a new numbering, its start unknown
  d.push(pkt(40_001, 3, P1, true));
  assert.equal(units.length, 1);
  d.push(pkt(40_002, 4, IDR, true));
  d.push(pkt(40_003, 5, P1, true));
  assert.deepEqual(units.map((u) => u.timestamp), [1, 4, 5]);
});

test('fuzz: random and mutated packets never throw and never yield empty units', () => {
  let seed = 12345;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const good = packetizeH264(avcc([SPS, PPS, Buffer.concat([Buffer.from([0x65]), Buffer.alloc(4000, 3)])]), { mtu: 300 }).payloads;
  for (let round = 0; round < 200; round++) {
    const { d, units } = collector();
    let seq = Math.floor(rnd() * 65536);
    for (let i = 0; i < 80; i++) {
      let payload: Buffer;
      const r = rnd();
      if (r < 0.3) payload = Buffer.from(Array.from({ length: Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)));
      else {
        payload = Buffer.from(at(good, Math.floor(rnd() * good.length)));
        if (r < 0.6 && payload.length > 0) payload[Math.floor(rnd() * payload.length)] = Math.floor(rnd() * 256);
      }
      const jump = rnd() < 0.1 ? Math.floor(rnd() * 70_000) - 5000 : rnd() < 0.2 ? -1 : 1;
      seq = (seq + jump + 65536 * 2) % 65536;
      d.push(pkt(seq, Math.floor(rnd() * 5) * 3000, payload, rnd() < 0.3));
    }
    d.flush();
    for (const u of units) {
      assert.ok(u.nals.length > 0);
      for (const n of u.nals) assert.ok(n.length > 0);
    }
  }
});

test('with arrival times, a hole is given up after maxWaitMs (not only when the window fills)', () => {
  const units: H264AccessUnit[] = [];
  const d = new H264Depacketizer({ onAccessUnit: (au) => units.push(au) }, H264_REORDER_WINDOW, 200);
  d.push(pkt(1, 1, IDR, true), 0);
  // seq 2 is missing; 3 and 4 wait for it.
  d.push(pkt(3, 3, P1, true), 10);
  d.push(pkt(4, 4, IDR, true), 100);
  assert.equal(units.length, 1);
  d.expire(150);
  assert.equal(units.length, 1, 'still within the wait');
  d.expire(211);
  assert.equal(d.stats.lost, 1);
  // Frame 3 follows the hole (dropped); frame 4 is an IDR whose start is certain? It came right after 3: passed on.
  assert.deepEqual(units.map((u) => u.timestamp), [1, 4]);
});
