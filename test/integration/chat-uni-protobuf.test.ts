// Unidirectional protobuf (onair's extension): uni_websocket with the centrifuge-protobuf
// subprotocol and uni_http_stream with an application/octet-stream body, real clients.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startChat, api, waitFor, SECRET, type ChatServer } from '../../testkit/chat-server.js';
import { signConnectionToken } from '../../src/chat/index.js';
import { ProtoWriter, DelimitedSplitter } from '../../src/chat/protocol/protobuf-wire.js';
import { decodeProtoPush } from '../../src/chat/protocol/protobuf.js';

let s: ChatServer;
before(async () => {
  s = await startChat();
});
after(async () => {
  await s.close();
});

/** connectRequest is a protobuf ConnectRequest with a token (field 1). */
function connectRequest(token: string): Buffer {
  return Buffer.from(new ProtoWriter().tag(1, 2).bytes(Buffer.from(token)).finish());
}

type Push = Record<string, any>;

test('uni_websocket with centrifuge-protobuf: a ConnectRequest first, then one Push per binary message', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/connection/uni_websocket`, 'centrifuge-protobuf');
  const pushes: Push[] = [];
  const binary: boolean[] = [];
  ws.on('message', (d: Buffer, isBinary) => {
    binary.push(isBinary);
    pushes.push(decodeProtoPush(d));
  });
  await new Promise((r) => ws.once('open', r));
  assert.equal(ws.protocol, 'centrifuge-protobuf');
  ws.send(connectRequest(await signConnectionToken(SECRET, { sub: 'u1', channels: ['events:pb'] }, 3600)));
  await waitFor(() => pushes.some((p) => p.connect), 3000, 'connect push');
  assert.ok(pushes[0]?.connect.subs['events:pb'], 'server-side subscription in the connect push');
  await api(s, 'publish', { channel: 'events:pb', data: { text: '안녕' } });
  await waitFor(() => pushes.some((p) => p.pub), 3000, 'publication');
  assert.deepEqual(pushes.find((p) => p.pub), { channel: 'events:pb', pub: { data: { text: '안녕' }, offset: 1 } });
  assert.ok(binary.every((b) => b), 'every message binary');
  // A server disconnect is a disconnect push, then the close frame.
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  await api(s, 'disconnect', { user: 'u1' });
  assert.equal(await closed, 3503);
  assert.equal(pushes.at(-1)?.disconnect?.code, 3503);
});

test('uni_websocket with centrifuge-protobuf: a malformed ConnectRequest ends with 3501', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/connection/uni_websocket`, 'centrifuge-protobuf');
  const pushes: Push[] = [];
  ws.on('message', (d: Buffer) => pushes.push(decodeProtoPush(d)));
  await new Promise((r) => ws.once('open', r));
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  ws.send(Buffer.from([0x0a, 0x05, 0x74])); // token: length 5, one byte present
  assert.equal(await closed, 3501);
  assert.deepEqual(pushes, [{ disconnect: { code: 3501, reason: 'bad request' } }]);
});

test('uni_http_stream with application/octet-stream: length-delimited Pushes; a bad token ends with a disconnect push', async () => {
  const ctrl = new AbortController();
  const res = await fetch(`${s.httpUrl}/connection/uni_http_stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: connectRequest(await signConnectionToken(SECRET, { sub: 'u2', channels: ['events:pb2'] }, 3600)),
    signal: ctrl.signal,
  });
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  const splitter = new DelimitedSplitter(65536);
  const pushes: Push[] = [];
  const reader = res.body!.getReader();
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done || value === undefined) return;
      for (const m of splitter.push(value)) pushes.push(decodeProtoPush(m));
    }
  })();
  await waitFor(() => pushes.some((p) => p.connect), 3000, 'connect push');
  await api(s, 'publish', { channel: 'events:pb2', data: { n: 1 } });
  await api(s, 'publish', { channel: 'events:pb2', data: { n: 2 } });
  await waitFor(() => pushes.filter((p) => p.pub).length === 2, 3000, 'two publications');
  assert.deepEqual(
    pushes.filter((p) => p.pub).map((p) => p.pub),
    [
      { data: { n: 1 }, offset: 1 },
      { data: { n: 2 }, offset: 2 },
    ],
  );
  ctrl.abort();
  await pump;

  const bad = await fetch(`${s.httpUrl}/connection/uni_http_stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: connectRequest('nope'),
  });
  const body = Buffer.from(await bad.arrayBuffer());
  const msgs = new DelimitedSplitter(65536).push(body).map(decodeProtoPush);
  assert.deepEqual(msgs, [{ disconnect: { code: 3500, reason: 'invalid token' } }]);
  // A ConnectRequest over chat.maxFrameBytes is refused before any stream starts.
  const big = await fetch(`${s.httpUrl}/connection/uni_http_stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: connectRequest('x'.repeat(70 * 1024)),
  });
  assert.equal(big.status, 413);
  await big.arrayBuffer();
  await waitFor(() => s.chat.stats().clients === 0, 3000, 'streams closed');
});
