// encodeItems / writeAll: a connection's queued replies and shared batches become the bytes of
// one write, in queue order (golden bytes per transport kind).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedBatch, encodeItems, writeAll, type OutItem } from '../../../../src/chat/transport/types.js';
import { at } from '../../../../testkit/at.js';

const P1 = '{"channel":"c","pub":{"data":1}}';
const P2 = '{"channel":"c","pub":{"data":2}}';
const REPLY = '{"id":3,"presence_stats":{"num_clients":1,"num_users":1}}';

function bytesOf(kind: Parameters<typeof encodeItems>[0], items: OutItem[]): { bufs: Buffer[]; total: number } {
  const bufs: Buffer[] = [];
  const total = encodeItems(kind, items, items.length, bufs);
  return { bufs, total };
}

test('websocket: consecutive messages share one frame, a shared batch keeps its own cached frame', () => {
  const batch = new SharedBatch([P1, P2]);
  const { bufs, total } = bytesOf('websocket', [REPLY, '{"push":{"channel":"c","join":{}}}', batch, REPLY]);
  assert.equal(bufs.length, 3);
  assert.equal(at(bufs, 0)[0], 0x81);
  assert.equal(at(bufs, 0).subarray(2).toString(), REPLY + '\n{"push":{"channel":"c","join":{}}}');
  assert.equal(bufs[1], batch.bytes('websocket'), 'the batch frame is the shared Buffer itself, not a copy');
  assert.equal(bufs[1].subarray(2).toString(), '{"push":' + P1 + '}\n{"push":' + P2 + '}');
  assert.deepEqual([...bufs[2]!.subarray(0, 2)], [0x81, REPLY.length]);
  assert.equal(total, bufs.reduce((a, b) => a + b.length, 0));
});

test('only the first n items are written', () => {
  const batch = new SharedBatch([P1]);
  const bufs: Buffer[] = [];
  encodeItems('websocket', [batch, REPLY, REPLY], 1, bufs);
  assert.deepEqual(bufs, [batch.bytes('websocket')]);
});

test('uni transports: one message per push, in order, batches included', () => {
  const batch = new SharedBatch([P1, P2]);
  const sse = Buffer.concat(bytesOf('uni_sse', ['{}', batch]).bufs).toString();
  assert.equal(sse, 'data: {}\n\ndata: ' + P1 + '\n\ndata: ' + P2 + '\n\n');
  const stream = Buffer.concat(bytesOf('uni_http_stream', [batch, '{"channel":"c","leave":{}}']).bufs).toString();
  assert.equal(stream, P1 + '\n' + P2 + '\n{"channel":"c","leave":{}}\n');
  const uniWs = Buffer.concat(bytesOf('uni_websocket', ['{}', '{}', batch]).bufs);
  // Two 2-byte messages as two frames, then the batch's two frames.
  assert.deepEqual([...uniWs.subarray(0, 8)], [0x81, 2, 0x7b, 0x7d, 0x81, 2, 0x7b, 0x7d]);
  assert.equal(uniWs.length, 8 + 2 * (2 + P1.length));
});

test('writeAll: one buffer is one write; several are corked into one', () => {
  const calls: string[] = [];
  const w = { write: (b: Buffer) => calls.push('write:' + b.toString()), cork: () => calls.push('cork'), uncork: () => calls.push('uncork') };
  writeAll(w, [Buffer.from('a')]);
  assert.deepEqual(calls, ['write:a']);
  calls.length = 0;
  writeAll(w, [Buffer.from('a'), Buffer.from('b')]);
  assert.deepEqual(calls, ['cork', 'write:a', 'write:b', 'uncork']);
});

test('a run of shared batches is joined once and the same Buffer serves every connection holding that run', () => {
  const a = new SharedBatch([P1]);
  const b = new SharedBatch([P2]);
  const c = new SharedBatch([P1, P2]);
  const run = a.runBytes('websocket', [a, b, c], 3)!;
  assert.deepEqual(run, Buffer.concat([a.bytes('websocket'), b.bytes('websocket'), c.bytes('websocket')]));
  assert.equal(a.runBytes('websocket', [a, b, c], 3), run, 'the second connection gets the cached Buffer');
  // A different middle (a connection on two channels) or length is not served the cached run.
  const other = a.runBytes('websocket', [a, c, c], 3)!;
  assert.notEqual(other, run);
  assert.deepEqual(other, Buffer.concat([a.bytes('websocket'), c.bytes('websocket'), c.bytes('websocket')]));
  assert.deepEqual(a.runBytes('websocket', [a, b], 2), Buffer.concat([a.bytes('websocket'), b.bytes('websocket')]));
  // Per transport kind: SSE joins the batches' SSE events.
  assert.equal(a.runBytes('uni_sse', [a, b], 2)!.toString(), 'data: ' + P1 + '\n\ndata: ' + P2 + '\n\n');
  // A protocol message in the run: not a shared run; encodeItems keeps queue order.
  assert.equal(a.runBytes('websocket', [a, REPLY, b], 3), null);
  const mixed = bytesOf('websocket', [a, REPLY, b]);
  assert.equal(mixed.bufs.length, 3);
  const joined = bytesOf('websocket', [a, b, c]);
  assert.deepEqual(joined.bufs, [run]);
  assert.equal(joined.total, run.length);
});
