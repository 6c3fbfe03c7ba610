import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clockSeiNal, findClockStamps, CLOCK_UUID } from '../../../bench/lib/sei-clock.js';

test('clock SEI: golden bytes and round trip', () => {
  const nal = clockSeiNal(1795733638882);
  assert.equal(nal.readUInt32BE(0), nal.length - 4);
  assert.deepEqual([...nal.subarray(4, 7)], [0x06, 0x05, 29]);
  assert.deepEqual(nal.subarray(7, 23), CLOCK_UUID);
  assert.equal(nal.toString('latin1', 23, 36), '1795733638882');
  assert.equal(nal[nal.length - 1], 0x80);
  // no start-code-like zero runs that would need emulation prevention
  assert.equal(nal.subarray(4).indexOf(Buffer.from([0, 0])), -1);
  const framed = Buffer.concat([Buffer.from([1, 2, 3]), nal, Buffer.from('x'), clockSeiNal(42)]);
  assert.deepEqual(findClockStamps(framed), [1795733638882, 42]);
  assert.deepEqual(findClockStamps(Buffer.concat([CLOCK_UUID, Buffer.from('12ab')])), []);
});
