// Golden cases (hand-computed) and a seeded round-trip fuzz of the Fossil delta codec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyFossilDelta, fossilChecksum, fossilDelta, FossilError } from '../../../../src/chat/protocol/fossil.js';
import { seededRandom } from '../../../../testkit/prng.js';

const b = (s: string): Buffer => Buffer.from(s);

test('checksum: big-endian words summed, the tail left-aligned', () => {
  // "abcd" = 0x61626364; "e" adds 0x65 << 24.
  assert.equal(fossilChecksum(b('abcd')), 0x61626364);
  assert.equal(fossilChecksum(b('abcde')), (0x61626364 + 0x65000000) >>> 0);
  assert.equal(fossilChecksum(b('')), 0);
});

test('golden: a short source gives one insert', () => {
  // size 3 → "3\n", insert "3:abc", checksum of "abc" = 0x61626300 = 1633837824 → base 64.
  const sum = fossilChecksum(b('abc'));
  const digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~';
  let enc = '';
  for (let x = sum; x > 0; x = Math.floor(x / 64)) enc = digits[x % 64] + enc;
  assert.equal(fossilDelta(b('xy'), b('abc')).toString(), `3\n3:abc${enc};`);
});

test('golden: an appended suffix is one copy and one insert', () => {
  const src = b('0123456789abcdefghijklmnopqrstuv'); // 32 bytes
  const tgt = b('0123456789abcdefghijklmnopqrstuvXYZ'); // 35 bytes
  const d = fossilDelta(src, tgt).toString();
  // 35 = "Z"; copy 32 ("W") from 0; insert 3 "XYZ".
  assert.match(d, /^Z\nW@0,3:XYZ[0-9A-Za-z_~]+;$/);
  assert.deepEqual(applyFossilDelta(src, b(d)), tgt);
});

test('copies start and end on UTF-8 character boundaries, so a delta of UTF-8 is UTF-8', () => {
  const src = b('{"title":"한국어 채팅방 공지사항입니다","n":1,"pad":"' + 'ㄱ'.repeat(40) + '"}');
  const tgt = b('{"title":"한국어 채팅방 공지가 바뀌었습니다","n":2,"pad":"' + 'ㄱ'.repeat(39) + 'ㄴ"}');
  const d = fossilDelta(src, tgt);
  assert.ok(d.length < tgt.length / 2, `delta ${d.length} bytes for ${tgt.length}`);
  const text = new TextDecoder('utf-8', { fatal: true }).decode(d);
  assert.deepEqual(applyFossilDelta(src, b(text)), tgt);
});

test('fuzz: random edits of random states round-trip; a 10 % edit of 1 KiB costs well under half', () => {
  const r = seededRandom(21);
  const alphabet = 'abcdefghij가나다라{}":,0123456789';
  const randomText = (n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)] ?? 'a';
    return s;
  };
  for (let i = 0; i < 300; i++) {
    const src = randomText(Math.floor(r() * 600));
    const chars = [...src];
    const edits = Math.floor(r() * 5);
    for (let k = 0; k < edits; k++) {
      const at = Math.floor(r() * (chars.length + 1));
      chars.splice(at, Math.floor(r() * 20), ...randomText(Math.floor(r() * 20)));
    }
    const tgt = b(chars.join(''));
    const d = fossilDelta(b(src), tgt);
    new TextDecoder('utf-8', { fatal: true }).decode(d);
    assert.deepEqual(applyFossilDelta(b(src), d), tgt, `case ${i}`);
  }
  // The bench's shape: 1 KiB of state, a tenth of it rewritten in place.
  const state = randomText(1024);
  const next = state.slice(0, 500) + randomText(100) + state.slice(600);
  const d = fossilDelta(b(state), b(next));
  assert.ok(d.length < b(next).length / 2, `delta ${d.length} bytes for ${b(next).length}`);
});

test('bad deltas throw FossilError, never anything else', () => {
  const src = b('0123456789abcdefghijklmnopqrstuv');
  const good = fossilDelta(src, b('0123456789abcdefghijklmnopqrstuvXYZ'));
  for (const bad of ['', '3', '3\n', '3\n9@0,', '3\n3:ab', '3\n3@99,', '3\n3:abcZ;', '3\n3?', '~~~~~~~~~\n', '~~~~~~~~\n']) {
    assert.throws(() => applyFossilDelta(src, b(bad)), FossilError, JSON.stringify(bad));
  }
  const r = seededRandom(7);
  for (let i = 0; i < 2000; i++) {
    const d = Buffer.from(good);
    d[Math.floor(r() * d.length)] = Math.floor(r() * 256);
    const cut = d.subarray(0, Math.floor(r() * (d.length + 1)));
    try {
      applyFossilDelta(src, cut);
    } catch (e) {
      if (!(e instanceof FossilError)) assert.fail(`case ${i}: ${String(e)}`);
    }
  }
});
