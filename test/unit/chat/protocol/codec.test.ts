// Golden cases and a bounded fuzz of the Centrifugo JSON codec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeCommands,
  decodeCommand,
  encodePublication,
  encodePush,
  encodeReply,
  encodeErrorReply,
  wrapPush,
  wsFrame,
  parseSubscribe,
  parseHistory,
  CodecError,
  type Command,
} from '../../../../src/chat/protocol/codec.js';
import { ChatError } from '../../../../src/chat/protocol/codes.js';
import { SharedBatch } from '../../../../src/chat/transport/types.js';
import { isRecovered } from '../../../../src/chat/client.js';
import { seededRandom as rng } from '../../../../testkit/prng.js';
import { at } from '../../../../testkit/at.js';

/** Frames as the centrifuge SDK sends them, and what they decode to. */
const DECODE_CASES: { name: string; frame: string; want: Command[] }[] = [
  { name: 'connect with token', frame: '{"connect":{"token":"t","name":"js"},"id":1}', want: [{ id: 1, method: 'connect', params: { token: 't', name: 'js' } }] },
  {
    name: 'batched connect + subscribe',
    frame: '{"connect":{},"id":1}\n{"subscribe":{"channel":"chat:demo","flag":1},"id":2}',
    want: [
      { id: 1, method: 'connect', params: {} },
      { id: 2, method: 'subscribe', params: { channel: 'chat:demo', flag: 1 } },
    ],
  },
  { name: 'pong (empty command)', frame: '{}', want: [{ id: 0, method: 'pong', params: {} }] },
  { name: 'send has no id', frame: '{"send":{"data":{"a":1}}}', want: [{ id: 0, method: 'send', params: { data: { a: 1 } } }] },
  { name: 'unknown method with id', frame: '{"id":7,"frobnicate":{}}', want: [{ id: 7, method: 'unknown', params: {} }] },
  { name: 'blank lines skipped', frame: '\n{"id":3,"ping":{}}\n\n', want: [{ id: 3, method: 'ping', params: {} }] },
  { name: 'null method fields ignored', frame: '{"id":4,"publish":null,"history":{"channel":"c"}}', want: [{ id: 4, method: 'history', params: { channel: 'c' } }] },
];

const BAD_FRAMES = ['', '\n', '{', '[]', '1', '"x"', 'null', '{"id":-1,"ping":{}}', '{"id":1.5,"ping":{}}', '{"id":"1","ping":{}}', '{"id":1,"ping":[]}', '{"id":1,"ping":{},"rpc":{}}', '{"subscribe":{"channel":"x"}}'];

test('decode golden frames', () => {
  for (const c of DECODE_CASES) assert.deepEqual(decodeCommands(c.frame), c.want, c.name);
});

test('bad frames throw CodecError', () => {
  for (const f of BAD_FRAMES) assert.throws(() => decodeCommands(f), CodecError, JSON.stringify(f));
});

test('encode golden replies and pushes', () => {
  assert.equal(encodeReply(1, 'connect', '{"client":"c"}'), '{"id":1,"connect":{"client":"c"}}');
  assert.equal(encodeErrorReply(2, { code: 109, message: 'token expired' }), '{"id":2,"error":{"code":109,"message":"token expired"}}');
  assert.equal(encodeErrorReply(3, { code: 100, message: 'internal server error', temporary: true }), '{"id":3,"error":{"code":100,"message":"internal server error","temporary":true}}');
  const pub = encodePublication({ data: '{"text":"hi"}', info: { user: 'u', client: 'c', connInfo: '{"name":"U"}' }, offset: 5, tags: { a: 'b' } });
  assert.equal(pub, '{"data":{"text":"hi"},"info":{"user":"u","client":"c","conn_info":{"name":"U"}},"offset":5,"tags":{"a":"b"}}');
  const push = encodePush('chat:demo', 'pub', '{"data":1}');
  assert.equal(push, '{"channel":"chat:demo","pub":{"data":1}}');
  assert.equal(wrapPush(push), '{"push":{"channel":"chat:demo","pub":{"data":1}}}');
  assert.equal(encodePush('', 'disconnect', '{"code":3001}'), '{"disconnect":{"code":3001}}');
  // Round trip through JSON.parse as the SDK does.
  assert.deepEqual(JSON.parse(wrapPush(push)), { push: { channel: 'chat:demo', pub: { data: 1 } } });
});

test('wsFrame lengths: 7-bit, 16-bit and 64-bit forms', () => {
  assert.deepEqual([...wsFrame(Buffer.from('hi'))], [0x81, 2, 0x68, 0x69]);
  const f126 = wsFrame(Buffer.alloc(126, 0x61));
  assert.deepEqual([...f126.subarray(0, 4)], [0x81, 126, 0, 126]);
  assert.equal(f126.length, 130);
  const big = wsFrame(Buffer.alloc(70000, 0x61));
  assert.deepEqual([...big.subarray(0, 10)], [0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
  assert.equal(big.length, 70010);
});

test('SharedBatch encodes once per transport kind', () => {
  const b = new SharedBatch(['{"channel":"c","pub":{"data":1}}', '{"channel":"c","pub":{"data":2}}']);
  const ws = b.bytes('websocket');
  assert.equal(b.bytes('websocket'), ws, 'cached: same Buffer');
  assert.equal(ws.subarray(2).toString(), '{"push":{"channel":"c","pub":{"data":1}}}\n{"push":{"channel":"c","pub":{"data":2}}}');
  assert.equal(b.bytes('uni_sse').toString(), 'data: {"channel":"c","pub":{"data":1}}\n\ndata: {"channel":"c","pub":{"data":2}}\n\n');
  assert.equal(b.bytes('uni_http_stream').toString(), '{"channel":"c","pub":{"data":1}}\n{"channel":"c","pub":{"data":2}}\n');
  const uni = b.bytes('uni_websocket');
  assert.equal(uni[0], 0x81);
  assert.equal(uni.length, 2 * (2 + 32));
});

test('typed parsing rejects bad fields with 107', () => {
  assert.deepEqual(parseSubscribe({ channel: 'chat:a', recover: true, offset: 5, epoch: 'e', recoverable: true, join_leave: true, flag: 3, delta: 'fossil' }), {
    channel: 'chat:a', token: '', recover: true, epoch: 'e', offset: 5, data: undefined, positioned: false, recoverable: true, joinLeave: true, flag: 3, delta: 'fossil', tf: null,
  });
  for (const p of [{}, { channel: 1 }, { channel: 'a', offset: -1 }, { channel: 'a', recover: 'yes' }, { channel: 'a', delta: 1 }]) {
    assert.throws(() => parseSubscribe(p), (e: unknown) => e instanceof ChatError && e.code === 107);
  }
  assert.deepEqual(parseHistory({ channel: 'c', limit: 5, since: { offset: 2, epoch: 'x' }, reverse: true }), { channel: 'c', limit: 5, since: { offset: 2, epoch: 'x' }, reverse: true });
  assert.throws(() => parseHistory({ channel: 'c', since: 5 }), ChatError);
});

test('recovery rule matches Centrifugo', () => {
  const p = (o: number) => ({ data: '1', offset: o });
  assert.equal(isRecovered([p(4), p(5)], { offset: 5, epoch: 'e' }, 3, 'e'), true);
  assert.equal(isRecovered([p(4), p(5)], { offset: 5, epoch: 'e' }, 3, ''), true);
  assert.equal(isRecovered([p(5)], { offset: 5, epoch: 'e' }, 3, 'e'), false, 'offset 4 lost');
  assert.equal(isRecovered([p(4)], { offset: 5, epoch: 'e' }, 3, 'e'), false, 'limited');
  assert.equal(isRecovered([], { offset: 3, epoch: 'e' }, 3, 'e'), true, 'nothing missed');
  assert.equal(isRecovered([], { offset: 3, epoch: 'f' }, 3, 'e'), false, 'epoch changed');
  assert.equal(isRecovered([], { offset: 4, epoch: 'e' }, 3, 'e'), false, 'history gone');
});


const ALPHABET = '{}[]":,\n 0123456789-.eE+truefalsnl\\uidconectsubrpchanl\u00e9\ud83d\ude00';

test('fuzz: random and mutated frames either decode or throw CodecError, never anything else', () => {
  const seeds = DECODE_CASES.map((c) => c.frame).concat(['{"id":2,"publish":{"channel":"chat:a","data":{"t":[1,2,{"x":null}]}}}']);
  const r = rng(0x5eed);
  const ITER = 20000;
  let decoded = 0;
  for (let i = 0; i < ITER; i++) {
    let frame: string;
    if (i % 2 === 0) {
      const len = Math.floor(r() * 64);
      frame = '';
      for (let j = 0; j < len; j++) frame += ALPHABET[Math.floor(r() * ALPHABET.length)];
    } else {
      const chars = [...seeds[Math.floor(r() * seeds.length)]!];
      const edits = 1 + Math.floor(r() * 4);
      for (let e = 0; e < edits; e++) {
        const pos = Math.floor(r() * (chars.length + 1));
        const op = r();
        if (op < 0.33) chars.splice(pos, 1);
        else if (op < 0.66) chars.splice(pos, 0, at(ALPHABET, Math.floor(r() * ALPHABET.length)));
        else chars[pos] = at(ALPHABET, Math.floor(r() * ALPHABET.length));
      }
      frame = chars.join('');
    }
    try {
      const cmds = decodeCommands(frame);
      decoded++;
      for (const c of cmds) {
        assert.ok(Number.isInteger(c.id) && c.id >= 0);
        assert.equal(typeof c.params, 'object');
      }
    } catch (e) {
      if (!(e instanceof CodecError)) throw new Error(`frame ${JSON.stringify(frame)} threw ${String(e)}`);
    }
  }
  assert.ok(decoded > 100, `some mutated frames stay valid (${decoded})`);
});

test('decodeCommand rejects oversized batches', () => {
  const frame = Array.from({ length: 1100 }, (_, i) => `{"id":${i + 1},"ping":{}}`).join('\n');
  assert.throws(() => decodeCommands(frame), CodecError);
  assert.equal(decodeCommand('{"id":1,"ping":{}}').method, 'ping');
});
