import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeAmf0, decodeAmf0, decodeAmf0One, ecmaArray, isEcmaArray, Amf0Error, Amf0Xml, Amf0TypedObject, type Amf0Value,
} from '../../../src/formats/amf0.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Golden table: value ↔ bytes; drives encode, decode and the fuzz seeds. */
export const AMF0_GOLDEN: { name: string; value: Amf0Value; bytes: Buffer }[] = [
  { name: 'number 1', value: 1, bytes: h('00 3ff0000000000000') },
  { name: 'number -0.5', value: -0.5, bytes: h('00 bfe0000000000000') },
  { name: 'boolean true', value: true, bytes: h('01 01') },
  { name: 'boolean false', value: false, bytes: h('01 00') },
  { name: 'string', value: 'connect', bytes: h('02 0007 636f6e6e656374') },
  { name: 'utf8 string', value: 'é', bytes: h('02 0002 c3a9') },
  { name: 'null', value: null, bytes: h('05') },
  { name: 'undefined', value: undefined, bytes: h('06') },
  { name: 'object', value: { app: 'live', n: 2 }, bytes: h('03 0003 617070 02 0004 6c697665 0001 6e 00 4000000000000000 000009') },
  { name: 'empty object', value: {}, bytes: h('03 000009') },
  { name: 'ecma array', value: ecmaArray({ width: 640 }), bytes: h('08 00000001 0005 7769647468 00 4084000000000000 000009') },
  { name: 'strict array', value: [1, 'a'], bytes: h('0a 00000002 00 3ff0000000000000 02 0001 61') },
  { name: 'date', value: new Date(1000), bytes: h('0b 408f400000000000 0000') },
  { name: 'xml', value: new Amf0Xml('<a/>'), bytes: h('0f 00000004 3c612f3e') },
  { name: 'typed object', value: new Amf0TypedObject('T', { x: null }), bytes: h('10 0001 54 0001 78 05 000009') },
  { name: 'nested', value: { o: { a: [true] } }, bytes: h('03 0001 6f 03 0001 61 0a 00000001 01 01 000009 000009') },
];

test('AMF0 golden table encodes to the exact bytes', () => {
  for (const c of AMF0_GOLDEN) assert.deepEqual(encodeAmf0(c.value), c.bytes, c.name);
});

test('AMF0 golden table decodes to the values', () => {
  for (const c of AMF0_GOLDEN) {
    const [v] = decodeAmf0(c.bytes);
    assert.deepEqual(v, c.value, c.name);
  }
  assert.ok(isEcmaArray(decodeAmf0(AMF0_GOLDEN.find((c) => c.name === 'ecma array')!.bytes)[0]));
  assert.ok(!isEcmaArray(decodeAmf0(AMF0_GOLDEN.find((c) => c.name === 'object')!.bytes)[0]));
});

test('long strings switch to type 0x0C and round-trip', () => {
  const s = 'x'.repeat(70000);
  const b = encodeAmf0(s);
  assert.equal(b[0], 0x0c);
  assert.equal(b.readUInt32BE(1), 70000);
  assert.equal(decodeAmf0(b)[0], s);
  assert.equal(encodeAmf0('x'.repeat(65535))[0], 0x02);
});

test('a command is a sequence of values', () => {
  const b = encodeAmf0('connect', 1, { app: 'live', tcUrl: 'rtmp://h/live' });
  const vals = decodeAmf0(b);
  assert.deepEqual(vals, ['connect', 1, { app: 'live', tcUrl: 'rtmp://h/live' }]);
  const one = decodeAmf0One(b, 0);
  assert.equal(one.value, 'connect');
  assert.equal(one.end, 10);
});

test('references resolve to earlier objects', () => {
  // strict array of [obj, ref 1] where ref index 1 is the object (index 0 is the array itself)
  const b = h('0a 00000002 03 0001 61 00 3ff0000000000000 000009 07 0001');
  const [arr] = decodeAmf0(b) as [Amf0Value[]];
  assert.deepEqual(arr[0], { a: 1 });
  assert.equal(arr[1], arr[0]);
  assert.throws(() => decodeAmf0(h('07 0005')), Amf0Error);
});

test('ECMA arrays without end marker at end of input are accepted', () => {
  const [v] = decodeAmf0(h('08 00000001 0001 61 01 01'));
  assert.deepEqual(v, { a: true });
});

test('__proto__ keys stay own properties', () => {
  const [v] = decodeAmf0(h('03 0009 5f5f70726f746f5f5f 03 0001 78 01 01 000009 000009')) as [Record<string, unknown>];
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.deepEqual(Object.keys(v), ['__proto__']);
  assert.equal((v as { x?: unknown }).x, undefined);
});

test('malformed input throws Amf0Error only', () => {
  const bad = [
    h('00 3ff0'), // truncated number
    h('02 0010 61'), // string longer than input
    h('0c ffffffff'), // long string longer than input
    h('0a ffffffff 05'), // strict array count lies
    h('03 0001 61'), // object without value
    h('09'), // stray object end
    h('11 00'), // AMF3 switch
    h('0d').subarray(0, 0),
    h('04'),
    h('ff'),
    h('03 0000 05'), // empty key not followed by end
  ];
  for (const b of bad) {
    if (b.length === 0) continue;
    assert.throws(() => decodeAmf0(b), Amf0Error, b.toString('hex'));
  }
  // deep nesting must not exhaust the stack
  const nest = Buffer.concat(Array.from({ length: 100 }, () => h('0a 00000001')));
  assert.throws(() => decodeAmf0(Buffer.concat([nest, h('05')])), /nesting too deep/);
});
