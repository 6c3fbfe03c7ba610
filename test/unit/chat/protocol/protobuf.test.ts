// Golden cases (hand-computed bytes) and a bounded fuzz of the Centrifugo protobuf codec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeProtoCommands, encodeProtoReplies, encodeProtoReply } from '../../../../src/chat/protocol/protobuf.js';
import { ProtoReader, ProtoWriter } from '../../../../src/chat/protocol/protobuf-wire.js';
import { CodecError, type Command } from '../../../../src/chat/protocol/codec.js';
import { SharedBatch } from '../../../../src/chat/transport/types.js';
import { seededRandom, randomBytes } from '../../../../testkit/prng.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** `{"a":1}` as UTF-8: 7b 22 61 22 3a 31 7d. */
const A1 = '7b2261223a317d';

/** Command frames as the SDK's protobuf build writes them (varint length, then the Command). */
const DECODE_CASES: { name: string; bytes: string; want: Command[] }[] = [
  // Command{id=1 (08 01), connect (field 4, 22) len 3 {token (0a) len 1 "t"}}
  { name: 'connect with token', bytes: '07 0801 2203 0a0174', want: [{ id: 1, method: 'connect', params: { token: 't' } }] },
  { name: 'pong (empty command)', bytes: '00', want: [{ id: 0, method: 'pong', params: {} }] },
  // publish (field 7, 3a) len 12 {channel "c" (0a 01 63), data (12) len 7 {"a":1}}
  { name: 'publish with JSON data', bytes: '10 0802 3a0c 0a0163 1207' + A1, want: [{ id: 2, method: 'publish', params: { channel: 'c', data: { a: 1 } } }] },
  // subscribe (field 5, 2a) len 8 {channel "c", recover (18) 1, offset (38) 300 = ac 02}
  {
    name: 'subscribe with a two-byte varint offset',
    bytes: '0c 0803 2a08 0a0163 1801 38ac02',
    want: [{ id: 3, method: 'subscribe', params: { channel: 'c', recover: true, offset: 300 } }],
  },
  // field 99 (varint key 98 06) is unknown: skipped, leaving a command with an id and no method.
  { name: 'unknown field → unknown method', bytes: '05 0805 980601', want: [{ id: 5, method: 'unknown', params: {} }] },
  // history (field 10, 52) {channel "c", limit (38) -1 as a ten-byte varint}
  {
    name: 'negative int32 (sign-extended to ten bytes)',
    bytes: '12 0806 520e 0a0163 38ffffffffffffffffff01',
    want: [{ id: 6, method: 'history', params: { channel: 'c', limit: -1 } }],
  },
  // two commands in one frame: ping (5a) and presence (42)
  {
    name: 'two commands in one frame',
    bytes: '04 0807 5a00  07 0808 4203 0a0163',
    want: [
      { id: 7, method: 'ping', params: {} },
      { id: 8, method: 'presence', params: { channel: 'c' } },
    ],
  },
  // subscribe with a tags filter (field 13, 6a) {key (12) "k", cmp (1a) "in", vals (2a) "a", vals (2a) "b"}: repeated strings
  {
    name: 'subscribe with a tags filter (repeated vals)',
    bytes: '16 0803 2a12 0a0163 6a0d 12016b 1a02696e 2a0161 2a0162',
    want: [{ id: 3, method: 'subscribe', params: { channel: 'c', tf: { key: 'k', cmp: 'in', vals: ['a', 'b'] } } }],
  },
  // connect subs map (field 3, 1a): entry {key (0a) "c", value (12) {recover 1}}
  {
    name: 'connect with a subs map entry',
    bytes: '0d 0809 2209 1a07 0a0163 12021801',
    want: [{ id: 9, method: 'connect', params: { subs: { c: { recover: true } } } }],
  },
];

for (const c of DECODE_CASES) {
  test(`decode: ${c.name}`, () => {
    assert.deepEqual(decodeProtoCommands(hex(c.bytes)), c.want);
  });
}

/** Replies in the JSON protocol and their protobuf Reply bytes (without the length prefix). */
const ENCODE_CASES: { name: string; json: string; bytes: string }[] = [
  { name: 'server ping (empty reply)', json: '{}', bytes: '' },
  // id (08 01), ping result (field 12, 62) empty: written although empty.
  { name: 'ping reply', json: '{"id":1,"ping":{}}', bytes: '0801 6200' },
  // error (12) len 7 {code (08) 109 = 6d, message (12) "x", temporary (18) 1}
  { name: 'error reply', json: '{"id":3,"error":{"code":109,"message":"x","temporary":true}}', bytes: '0803 1207 086d 120178 1801' },
  // push (22) len 17 {channel "c", pub (22) len 12 {data (22) len 7 {"a":1}, offset (30) 300}}
  { name: 'publication push', json: '{"push":{"channel":"c","pub":{"data":{"a":1},"offset":300}}}', bytes: '2211 120163 220c 2207' + A1 + '30ac02' },
  // presence (4a) len 13 {presence map (0a) len 11 {key "k", value (12) len 6 {user "u", client "k"}}}
  {
    name: 'presence map',
    json: '{"id":4,"presence":{"presence":{"k":{"user":"u","client":"k"}}}}',
    bytes: '0804 4a0d 0a0b 0a016b 1206 0a0175 12016b',
  },
  // A delta publication's data is the delta's raw bytes, not a JSON string: data (22) len 2 "ab", delta (40) 1.
  { name: 'delta publication push', json: '{"push":{"channel":"c","pub":{"data":"ab","delta":true}}}', bytes: '220b 120163 2206 22026162 4001' },
  // connect (2a) {client "c", version "1", ping (38) 25, pong (40) 1}
  { name: 'connect result', json: '{"id":1,"connect":{"client":"c","version":"1","ping":25,"pong":true}}', bytes: '0801 2a0a 0a0163 120131 3819 4001' },
];

for (const c of ENCODE_CASES) {
  test(`encode: ${c.name}`, () => {
    assert.equal(encodeProtoReply(c.json).toString('hex'), hex(c.bytes).toString('hex'));
  });
}

test('encodeProtoReplies prefixes each reply with its varint length', () => {
  const one = hex('0801 6200');
  assert.equal(encodeProtoReplies(['{"id":1,"ping":{}}', '{}']).toString('hex'), '04' + one.toString('hex') + '00');
});

test('a reply field the schema lacks is a programming error, not silently dropped', () => {
  assert.throws(() => encodeProtoReply('{"id":1,"frobnicate":{}}'), TypeError);
  assert.throws(() => encodeProtoReply('{"push":{"pub":{"data":1,"color":"red"}}}'), TypeError);
});

test('a shared batch is transcoded once per batch and its bytes reused', () => {
  const b = new SharedBatch(['{"channel":"c","pub":{"data":{"a":1},"offset":300}}']);
  const first = b.bytes('websocket_protobuf');
  assert.equal(b.bytes('websocket_protobuf'), first, 'cached buffer');
  // A binary WebSocket frame (FIN + opcode 2, 7-bit length) around one length-delimited Reply.
  const reply = encodeProtoReply('{"push":{"channel":"c","pub":{"data":{"a":1},"offset":300}}}');
  assert.equal(first.toString('hex'), '82' + (reply.length + 1).toString(16).padStart(2, '0') + reply.length.toString(16).padStart(2, '0') + reply.toString('hex'));
});

test('map keys named __proto__ stay own properties', () => {
  // connect subs map entry with key "__proto__" (9 bytes: 5f5f70726f746f5f5f)
  const cmds = decodeProtoCommands(hex('15 0801 2211 1a0f 0a095f5f70726f746f5f5f 12021801'));
  const params = cmds[0]?.params as { subs: Record<string, unknown> };
  assert.equal(Object.getPrototypeOf(params.subs), Object.prototype);
  assert.deepEqual(Object.keys(params.subs), ['__proto__']);
});

/** deepFilterFrame is a subscribe whose tags filter nests `depth` nodes, as hex. */
function deepFilterFrame(depth: number): string {
  let node: Buffer = Buffer.from('0a016b', 'hex'); // op "k" (its value does not matter here)
  for (let i = 0; i < depth; i++) node = Buffer.concat([new ProtoWriter().tag(6, 2).bytes(node).finish()]);
  const sub = Buffer.concat([new ProtoWriter().tag(13, 2).bytes(node).finish()]);
  const cmd = Buffer.concat([new ProtoWriter().tag(1, 0).varint(1).tag(5, 2).bytes(sub).finish()]);
  return Buffer.concat([new ProtoWriter().bytes(cmd).finish()]).toString('hex');
}

/** Bad inputs and the CodecError each must give. */
const BAD_CASES: { name: string; bytes: string }[] = [
  { name: 'empty frame', bytes: '' },
  { name: 'truncated length varint', bytes: '80' },
  { name: 'length past the end', bytes: 'e807 010203' },
  { name: 'oversized length (2^35)', bytes: '8080808080 01' },
  { name: 'varint longer than ten bytes', bytes: '0c 08ffffffffffffffffffff01' },
  { name: 'truncated field inside a command', bytes: '02 3a05' },
  { name: 'wrong wire type for a known field', bytes: '02 0a01' },
  { name: 'field number 0', bytes: '02 0001' },
  { name: 'group wire type in an unknown field', bytes: '02 a301' },
  { name: 'bytes field that is not JSON', bytes: '09 0802 3a05 1203 6e6f21' },
  { name: 'string that is not UTF-8', bytes: '07 0802 3a03 0a01ff' },
  { name: 'two methods in one command', bytes: '06 0801 5a00 4200' },
  { name: 'method without id', bytes: '02 5a00' },
  { name: 'offset past 2^53', bytes: '11 0803 2a0d 0a0163 38ffffffffffffffff7f' },
  // A tags filter nested past 32 levels (each level: nodes (32) len, …) is refused, not a stack overflow.
  { name: 'messages nested too deep', bytes: deepFilterFrame(40) },
];

for (const c of BAD_CASES) {
  test(`decode refuses: ${c.name}`, () => {
    assert.throws(() => decodeProtoCommands(hex(c.bytes)), CodecError);
  });
}

test('fuzz: random, truncated and mutated frames decode or throw CodecError, nothing else', () => {
  const seeds = DECODE_CASES.map((c) => hex(c.bytes));
  for (let seed = 1; seed <= 3; seed++) {
    const r = seededRandom(seed);
    for (let i = 0; i < 3000; i++) {
      let frame: Buffer;
      const base = seeds[i % seeds.length] ?? Buffer.alloc(0);
      switch (i % 3) {
        case 0:
          frame = randomBytes(r, Math.floor(r() * 40));
          break;
        case 1:
          frame = base.subarray(0, Math.floor(r() * base.length));
          break;
        default: {
          frame = Buffer.from(base);
          const flips = 1 + Math.floor(r() * 3);
          for (let k = 0; k < flips && frame.length > 0; k++) frame[Math.floor(r() * frame.length)] = Math.floor(r() * 256);
        }
      }
      try {
        decodeProtoCommands(frame);
      } catch (e) {
        if (!(e instanceof CodecError)) assert.fail(`seed ${seed} case ${i} (${frame.toString('hex')}) threw ${String(e)}`);
      }
    }
  }
});

test('wire: varints round-trip at their byte-length boundaries', () => {
  for (const v of [0, 1, 127, 128, 16383, 16384, 2 ** 31, 2 ** 32, 2 ** 53 - 1]) {
    const b = new ProtoWriter(1).varint(v).finish();
    const rd = new ProtoReader(b);
    assert.equal(rd.smallVarint(), v);
    assert.ok(rd.done);
  }
  assert.throws(() => new ProtoWriter().varint(-1), RangeError);
});
