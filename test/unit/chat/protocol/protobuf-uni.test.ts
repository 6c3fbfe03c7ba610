// Unidirectional protobuf: golden Push bytes, the framing of uni_websocket / uni_http_stream,
// the ConnectRequest they open with, and the length-delimited splitter fed any split of its input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeProtoConnectRequest, decodeProtoPush, encodeProtoPush, encodeProtoPushStream } from '../../../../src/chat/protocol/protobuf.js';
import { DelimitedSplitter } from '../../../../src/chat/protocol/protobuf-wire.js';
import { CodecError } from '../../../../src/chat/protocol/codec.js';
import { SharedBatch } from '../../../../src/chat/transport/types.js';
import { seededRandom, randomBytes, mutate } from '../../../../testkit/prng.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** `{"a":1}` as UTF-8. */
const A1 = '7b2261223a317d';

/** Unwrapped pushes (as uni JSON clients get them) and their protobuf Push bytes. */
const PUSH_CASES: { name: string; json: string; bytes: string }[] = [
  { name: 'ping (empty push)', json: '{}', bytes: '' },
  // channel (12) "c", pub (22) len 12 {data (22) len 7 {"a":1}, offset (30) 300 = ac 02}
  { name: 'publication', json: '{"channel":"c","pub":{"data":{"a":1},"offset":300}}', bytes: '120163 220c 2207' + A1 + '30ac02' },
  // connect (52) len 7 {client (0a) "c", ping (38) 25 (19), session? no} … client "c" = 0a0163, ping 3819, pong absent
  { name: 'connect push', json: '{"connect":{"client":"c","ping":25}}', bytes: '5205 0a0163 3819' },
  // disconnect (5a) len 9 {code (08) 3500 = ac 1b, reason (12) "bad", reconnect absent (false)}
  { name: 'disconnect push', json: '{"disconnect":{"code":3500,"reason":"bad","reconnect":false}}', bytes: '5a08 08ac1b 1203626164' },
  // join (2a) len 8 {info (0a) len 6 {user "u", client "k"}}
  { name: 'join push', json: '{"channel":"c","join":{"info":{"user":"u","client":"k"}}}', bytes: '120163 2a08 0a06 0a0175 12016b' },
];

for (const c of PUSH_CASES) {
  test(`uni push encode: ${c.name}`, () => {
    assert.equal(encodeProtoPush(c.json).toString('hex'), hex(c.bytes).toString('hex'));
  });
  test(`uni push decode: ${c.name}`, () => {
    assert.deepEqual(decodeProtoPush(hex(c.bytes)), JSON.parse(c.json.replace(',"reconnect":false', '')));
  });
}

test('uni_http_stream_protobuf: a batch is length-delimited Pushes; uni_websocket_protobuf: one binary message per Push', () => {
  const pushes = ['{"channel":"c","pub":{"data":{"a":1},"offset":300}}', '{}'];
  const pub = hex(PUSH_CASES[1]?.bytes ?? '');
  const b = new SharedBatch(pushes);
  assert.equal(b.bytes('uni_http_stream_protobuf').toString('hex'), pub.length.toString(16).padStart(2, '0') + pub.toString('hex') + '00');
  assert.equal(encodeProtoPushStream(pushes).toString('hex'), b.bytes('uni_http_stream_protobuf').toString('hex'));
  // WebSocket: FIN + binary (82), 7-bit length, the Push; then an empty binary message (82 00) for the ping.
  assert.equal(b.bytes('uni_websocket_protobuf').toString('hex'), '82' + pub.length.toString(16).padStart(2, '0') + pub.toString('hex') + '8200');
  assert.equal(b.bytes('uni_websocket_protobuf'), b.bytes('uni_websocket_protobuf'), 'encoded once per batch');
});

test('a delta publication on a uni protobuf stream carries the delta as raw bytes', () => {
  assert.equal(encodeProtoPush('{"channel":"c","pub":{"data":"ab","delta":true}}').toString('hex'), '120163 2206 22026162 4001'.replace(/\s/g, ''));
});

test('ConnectRequest: token, subs with recovery, a name', () => {
  // token (0a) "t", subs (1a) entry {key "c", value (12) {recover (18) 1, offset (38) 5}}, name (22) "n"
  const got = decodeProtoConnectRequest(hex('0a0174 1a09 0a0163 1204 1801 3805 22016e'));
  assert.deepEqual(got, { token: 't', subs: { c: { recover: true, offset: 5 } }, name: 'n' });
  assert.deepEqual(decodeProtoConnectRequest(new Uint8Array(0)), {});
});

const BAD_CONNECT: { name: string; bytes: string }[] = [
  { name: 'truncated varint', bytes: '0a' },
  { name: 'length past the end', bytes: '0a05 74' },
  { name: 'data that is not JSON', bytes: '1203 6e6f21' },
  { name: 'token that is not UTF-8', bytes: '0a01ff' },
  { name: 'varint longer than ten bytes', bytes: '28 ffffffffffffffffffff01' },
];
for (const c of BAD_CONNECT) {
  test(`ConnectRequest refuses: ${c.name}`, () => {
    assert.throws(() => decodeProtoConnectRequest(hex(c.bytes)), CodecError);
  });
}

/** A stream of three Pushes (one empty, one of 300 bytes: a two-byte length). */
function sampleStream(): { stream: Buffer; messages: Buffer[] } {
  const big = '{"channel":"c","pub":{"data":{"s":"' + 'x'.repeat(280) + '"}}}';
  const pushes = ['{"channel":"c","pub":{"data":{"a":1},"offset":300}}', '{}', big];
  return { stream: encodeProtoPushStream(pushes), messages: pushes.map(encodeProtoPush) };
}

test('DelimitedSplitter: whole, byte by byte and at random splits gives the same messages', () => {
  const { stream, messages } = sampleStream();
  const want = messages.map((m) => m.toString('hex'));
  const whole = new DelimitedSplitter(1024);
  assert.deepEqual(whole.push(stream).map((m) => m.toString('hex')), want);
  assert.equal(whole.buffered, 0);
  const bytewise = new DelimitedSplitter(1024);
  const got: string[] = [];
  for (const byte of stream) for (const m of bytewise.push(Buffer.from([byte]))) got.push(m.toString('hex'));
  assert.deepEqual(got, want);
  const r = seededRandom(7);
  for (let round = 0; round < 50; round++) {
    const sp = new DelimitedSplitter(1024);
    const out: string[] = [];
    let at = 0;
    while (at < stream.length) {
      const n = 1 + Math.floor(r() * 40);
      for (const m of sp.push(stream.subarray(at, at + n))) out.push(m.toString('hex'));
      at += n;
    }
    assert.deepEqual(out, want, `round ${round}`);
  }
});

test('DelimitedSplitter: a cut stream keeps its tail; an oversized length or an endless varint throws', () => {
  const { stream } = sampleStream();
  const sp = new DelimitedSplitter(1024);
  sp.push(stream.subarray(0, stream.length - 3));
  assert.ok(sp.buffered > 0, 'an incomplete message is held');
  assert.throws(() => new DelimitedSplitter(100).push(stream), CodecError, 'the 300-byte push is over 100');
  assert.throws(() => new DelimitedSplitter(1024).push(hex('ffffffffffffffffffff01')), CodecError);
});

test('fuzz: random and mutated uni streams split or throw CodecError; every message decodes or throws CodecError', () => {
  const { stream } = sampleStream();
  for (let seed = 1; seed <= 3; seed++) {
    const r = seededRandom(seed);
    for (let i = 0; i < 2000; i++) {
      const input = i % 2 === 0 ? randomBytes(r, Math.floor(r() * 60)) : mutate(r, stream);
      try {
        for (const m of new DelimitedSplitter(512).push(input)) decodeProtoPush(m);
        decodeProtoConnectRequest(input);
      } catch (e) {
        if (!(e instanceof CodecError)) assert.fail(`seed ${seed} case ${i} (${input.toString('hex')}) threw ${String(e)}`);
      }
    }
  }
});
