import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AAC_HBR, AacDepacketizer, encodeAuHeaders, packetizeAac, parseAuHeaders, RtpAacError } from '../../../src/formats/rtp-aac.js';
import { encodeRtcpSenderReport, encodeRtpHeader, parseRtcpSenderReports, parseRtpPacket, RtpPacketError } from '../../../src/formats/rtp-packet.js';
import { at } from '../../../testkit/at.js';

/** Golden RFC 3640 AAC-hbr payloads: AU-headers-length (bits) | AU-size(13) AU-index(3) ... | AU data. */
const GOLDEN: { name: string; sizes: number[]; headers: string }[] = [
  // 16 bits of headers; 6 << 3 = 0x0030.
  { name: 'one AU of 6 bytes', sizes: [6], headers: '0010' + '0030' },
  // 48 bits; 6<<3, 300<<3 = 0x0960, 5<<3 = 0x0028.
  { name: 'three AUs of 6, 300 and 5 bytes', sizes: [6, 300, 5], headers: '0030' + '0030' + '0960' + '0028' },
  // The largest AU-size 13 bits hold: 8191 << 3 = 0xfff8.
  { name: 'one AU of 8191 bytes', sizes: [8191], headers: '0010' + 'fff8' },
];

for (const g of GOLDEN) {
  test(`AU-header section: ${g.name} (golden bytes both ways)`, () => {
    assert.equal(encodeAuHeaders(g.sizes).toString('hex'), g.headers);
    const parsed = parseAuHeaders(Buffer.concat([Buffer.from(g.headers, 'hex'), Buffer.alloc(g.sizes.reduce((a, b) => a + b, 0))]));
    assert.deepEqual(parsed.sizes, g.sizes);
    assert.equal(parsed.dataOffset, g.headers.length / 2);
  });
}

test('AU-header with a non-zero AU-index is read (size from the top 13 bits)', () => {
  // size 10, index 5: (10 << 3) | 5 = 0x0055.
  assert.deepEqual(parseAuHeaders(Buffer.from('00100055' + '00'.repeat(10), 'hex')).sizes, [10]);
});

test('packetize → depacketize: several frames in one payload come back with their timestamps', () => {
  const frames = [Buffer.alloc(6, 1), Buffer.alloc(300, 2), Buffer.alloc(5, 3)];
  const [payload, ...more] = packetizeAac(frames);
  assert.equal(more.length, 0);
  assert.equal(payload!.subarray(0, 8).toString('hex'), '0030003009600028');
  const d = new AacDepacketizer();
  const got = d.push(payload!, 1000, true)!;
  assert.equal(got.timestamp, 1000);
  assert.deepEqual(got.frames, frames);
});

test('a frame bigger than the MTU is fragmented (each fragment carries the whole AU-size) and reassembled', () => {
  const frame = Buffer.from(Array.from({ length: 3000 }, (_, i) => i & 0xff));
  const parts = packetizeAac([frame], 1200);
  assert.equal(parts.length, 3);
  for (const p of parts) assert.deepEqual(parseAuHeaders(p).sizes, [3000]);
  const d = new AacDepacketizer();
  assert.equal(d.push(at(parts, 0), 5, false), null);
  assert.equal(d.push(at(parts, 1), 5, false), null);
  assert.deepEqual(d.push(at(parts, 2), 5, true), { timestamp: 5, frames: [frame] });
  // A lost middle fragment: the AU is dropped, the next whole one passes.
  assert.equal(d.push(at(parts, 0), 6, false), null);
  assert.equal(d.push(at(parts, 2), 6, true), null);
  assert.equal(d.stats.dropped, 1);
  const small = packetizeAac([Buffer.alloc(4, 7)]);
  assert.deepEqual(d.push(at(small, 0), 7, true)!.frames, [Buffer.alloc(4, 7)]);
});

test('unreadable payloads are counted and dropped, never thrown', () => {
  const d = new AacDepacketizer();
  assert.equal(d.push(Buffer.alloc(1), 0, true), null);
  assert.equal(d.push(Buffer.from('ffff00', 'hex'), 0, true), null);
  assert.equal(d.stats.dropped, 2);
  assert.throws(() => parseAuHeaders(Buffer.from('0000', 'hex')), RtpAacError);
  assert.throws(() => encodeAuHeaders([8192]), RtpAacError);
  assert.throws(() => encodeAuHeaders([1], { ...AAC_HBR, sizeLength: 0 }), RtpAacError);
});

test('RTP header and RTCP sender report: golden bytes both ways', () => {
  const h = encodeRtpHeader({ marker: true, payloadType: 96, sequenceNumber: 0x1234, timestamp: 0xdeadbeef, ssrc: 0x01020304 });
  assert.equal(h.toString('hex'), '80e01234deadbeef01020304');
  const p = parseRtpPacket(Buffer.concat([h, Buffer.from([1, 2, 3])]));
  assert.deepEqual(p, { marker: true, payloadType: 96, sequenceNumber: 0x1234, timestamp: 0xdeadbeef, ssrc: 0x01020304, payload: Buffer.from([1, 2, 3]) });
  // Padding (2 bytes, count in the last byte) and one CSRC are skipped.
  const padded = Buffer.from('a1600001000000020000000300000009' + 'aabb' + '0002', 'hex');
  assert.deepEqual(parseRtpPacket(padded).payload, Buffer.from('aabb', 'hex'));
  assert.throws(() => parseRtpPacket(Buffer.alloc(8)), RtpPacketError);
  assert.throws(() => parseRtpPacket(Buffer.from('40e01234deadbeef01020304', 'hex')), RtpPacketError);
  // NTP 2026-01-01T00:00:00.5Z; 0.5 s is 0x80000000 in the fraction.
  const ntpMs = Date.UTC(2026, 0, 1) + 500;
  const sr = encodeRtcpSenderReport({ ssrc: 7, ntpMs, rtpTimestamp: 90000, packetCount: 3, octetCount: 300 });
  assert.equal(sr.toString('hex'), '80c80006' + '00000007' + (Math.floor(ntpMs / 1000) + 2_208_988_800).toString(16) + '80000000' + '00015f90' + '00000003' + '0000012c');
  assert.deepEqual(parseRtcpSenderReports(Buffer.concat([sr, Buffer.from('81c90001' + '00000007', 'hex')])), [{ ssrc: 7, ntpMs, rtpTimestamp: 90000, packetCount: 3, octetCount: 300 }]);
  assert.deepEqual(parseRtcpSenderReports(Buffer.from('80c8ffff', 'hex')), []);
});
