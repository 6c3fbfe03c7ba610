import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OggOpusWriter, oggCrc32, oggPage, opusHead, opusTags, OGG_FLAG_BOS } from '../../../src/formats/ogg-write.js';
import { OggOpusParser } from '../../../src/formats/rtp-opus.js';

test('oggCrc32: CRC-32 poly 0x04c11db7, init 0, no reflection, no final xor', () => {
  // CRC-32/CKSUM's check value is 0x765e7680 with a final xor of all ones.
  assert.equal(oggCrc32(Buffer.from('123456789')), (0x765e7680 ^ 0xffffffff) >>> 0);
  assert.equal(oggCrc32(Buffer.alloc(0)), 0);
});

test('oggPage: golden bytes of a one-packet page', () => {
  const page = oggPage({ headerType: OGG_FLAG_BOS, granule: 960n, serial: 0x01020304, sequence: 5, packets: [Buffer.from([0xaa, 0xbb, 0xcc])] });
  const expectHead = Buffer.from('4f67675300' + '02' + 'c003000000000000' + '04030201' + '05000000', 'hex');
  assert.deepEqual(page.subarray(0, 22), expectHead);
  assert.equal(page[26], 1, 'one lacing value');
  assert.equal(page[27], 3);
  assert.deepEqual(page.subarray(28), Buffer.from([0xaa, 0xbb, 0xcc]));
  // The CRC is over the page with its own field zeroed.
  const zeroed = Buffer.from(page);
  zeroed.writeUInt32LE(0, 22);
  assert.equal(page.readUInt32LE(22), oggCrc32(zeroed));
});

test('lacing: a 255-byte packet needs a terminating 0, 600 bytes are 255 255 90', () => {
  const a = oggPage({ headerType: 0, granule: 0n, serial: 1, sequence: 0, packets: [Buffer.alloc(255)] });
  assert.deepEqual([...a.subarray(26, 29)], [2, 255, 0]);
  const b = oggPage({ headerType: 0, granule: 0n, serial: 1, sequence: 0, packets: [Buffer.alloc(600)] });
  assert.deepEqual([...b.subarray(26, 30)], [3, 255, 255, 90]);
  assert.throws(() => oggPage({ headerType: 0, granule: 0n, serial: 1, sequence: 0, packets: [Buffer.alloc(255 * 255)] }), /do not fit/);
});

test('OpusHead and OpusTags golden bytes', () => {
  assert.equal(opusHead(2, 312).toString('hex'), Buffer.from('OpusHead').toString('hex') + '01' + '02' + '3801' + '80bb0000' + '0000' + '00');
  assert.equal(opusTags('ab').toString('hex'), Buffer.from('OpusTags').toString('hex') + '02000000' + '6162' + '00000000');
  assert.throws(() => opusHead(3, 0));
});

test('OggOpusWriter output reads back through our Ogg/Opus parser (headers, packets, sequence)', () => {
  const w = new OggOpusWriter(77, 2, 0);
  const packets = [Buffer.from([0xfc, 1, 2]), Buffer.from([0xfc, 3]), Buffer.from([0xfc, 4, 5, 6])];
  const bytes = Buffer.concat([...w.headers(), ...packets.map((p, i) => w.packet(p, (i + 1) * 960))]);
  const got: Buffer[] = [];
  let preSkip = -1;
  const parser = new OggOpusParser({ onHead: (h) => { preSkip = h.preSkip; }, onPacket: (p) => got.push(Buffer.from(p)) });
  // Split anywhere: the parser is a push parser.
  for (let i = 0; i < bytes.length; i += 7) parser.push(bytes.subarray(i, i + 7));
  assert.equal(preSkip, 0);
  assert.deepEqual(got, packets);
  // Page sequence numbers count up from 0 across headers and packets.
  const seqs: number[] = [];
  for (let at = bytes.indexOf('OggS'); at >= 0; at = bytes.indexOf('OggS', at + 1)) seqs.push(bytes.readUInt32LE(at + 18));
  assert.deepEqual(seqs, [0, 1, 2, 3, 4]);
});
