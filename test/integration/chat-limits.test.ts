// Bad input and limits, with raw WebSocket clients speaking the JSON protocol.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startChat, api, waitFor, sleep, SECRET, type ChatServer } from '../../testkit/chat-server.js';
import { signConnectionToken } from '../../src/chat/index.js';

let s: ChatServer;

before(async () => {
  s = await startChat({
    chat: { maxChannelsPerConnection: 2, maxFrameBytes: 4096, pingSeconds: 1, writeQueueMaxBytes: 256 * 1024 },
    options: { expiredCloseDelayMs: 200 },
  });
});
after(async () => {
  await s.close();
});

interface Raw {
  ws: WebSocket;
  replies: any[];
  closed: Promise<{ code: number; reason: string }>;
  send(obj: unknown): void;
  next(pred: (r: any) => boolean, ms?: number): Promise<any>;
}

async function raw(opts: { pong?: boolean } = {}): Promise<Raw> {
  const ws = new WebSocket(s.wsUrl);
  const replies: any[] = [];
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  ws.on('message', (d) => {
    for (const line of d.toString().split('\n')) {
      if (line === '') continue;
      const v = JSON.parse(line);
      if (opts.pong !== false && Object.keys(v).length === 0) ws.send('{}');
      replies.push(v);
    }
  });
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  return {
    ws,
    replies,
    closed,
    send: (obj) => ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)),
    async next(pred, ms = 3000) {
      await waitFor(() => replies.some(pred), ms, 'reply');
      return replies.find(pred);
    },
  };
}

async function connected(opts: { pong?: boolean; user?: string; exp?: number } = {}): Promise<Raw> {
  const r = await raw(opts);
  const token = await signConnectionToken(SECRET, { sub: opts.user ?? 'u1', ...(opts.exp ? { exp: opts.exp } : {}) }, opts.exp ? undefined : 3600);
  r.send({ id: 1, connect: { token } });
  await r.next((x) => x.id === 1);
  return r;
}

test('malformed JSON closes with 3501 bad request', async () => {
  const r = await connected();
  r.send('{"id":2,"subscribe":');
  const c = await r.closed;
  assert.equal(c.code, 3501);
  assert.equal(c.reason, 'bad request');
});

test('an oversized frame closes with 3501 message too big', async () => {
  const r = await connected();
  r.send({ id: 2, publish: { channel: 'chat:x', data: 'x'.repeat(8000) } });
  const c = await r.closed;
  assert.equal(c.code, 3501);
  assert.equal(c.reason, 'message too big');
});

test('a command before connect closes with 3501', async () => {
  const r = await raw();
  r.send({ id: 1, subscribe: { channel: 'chat:x' } });
  assert.equal((await r.closed).code, 3501);
});

test('unknown method gets error 104, unknown namespace 102, several commands per frame get replies in one frame', async () => {
  const r = await connected();
  const frames: string[] = [];
  r.ws.on('message', (d) => frames.push(d.toString()));
  r.send('{"id":2,"frobnicate":{}}\n{"id":3,"subscribe":{"channel":"nope:x"}}\n{"id":4,"subscribe":{"channel":"chat:a"}}');
  const e2 = await r.next((x) => x.id === 2);
  assert.equal(e2.error.code, 104);
  const e3 = await r.next((x) => x.id === 3);
  assert.equal(e3.error.code, 102);
  const ok = await r.next((x) => x.id === 4);
  assert.ok(ok.subscribe);
  assert.ok(frames.some((f) => f.split('\n').length >= 2), 'replies batched into one frame');
  // Already subscribed → 105.
  r.send({ id: 5, subscribe: { channel: 'chat:a' } });
  assert.equal((await r.next((x) => x.id === 5)).error.code, 105);
  // Publishing to a server-only namespace → 103.
  r.send({ id: 6, publish: { channel: 'events:a', data: {} } });
  assert.equal((await r.next((x) => x.id === 6)).error.code, 103);
  // Presence off in captions → 108.
  r.send({ id: 7, presence: { channel: 'captions:a' } });
  assert.equal((await r.next((x) => x.id === 7)).error.code, 108);
  r.ws.close();
});

test('too many channels → error 106', async () => {
  const r = await connected();
  r.send('{"id":2,"subscribe":{"channel":"chat:c1"}}\n{"id":3,"subscribe":{"channel":"chat:c2"}}\n{"id":4,"subscribe":{"channel":"chat:c3"}}');
  const e = await r.next((x) => x.id === 4);
  assert.equal(e.error.code, 106);
  assert.ok((await r.next((x) => x.id === 3)).subscribe);
  r.ws.close();
});

test('expired token → error 109; bad signature → close 3500', async () => {
  const r = await raw();
  r.send({ id: 1, connect: { token: await signConnectionToken(SECRET, { sub: 'x', exp: Math.floor(Date.now() / 1000) - 5 }) } });
  const e = await r.next((x) => x.id === 1);
  assert.deepEqual(e.error, { code: 109, message: 'token expired' });
  r.ws.close();
  const r2 = await raw();
  r2.send({ id: 1, connect: { token: await signConnectionToken('another-secret-0123456789', { sub: 'x' }, 60) } });
  const c = await r2.closed;
  assert.equal(c.code, 3500);
});

test('a client that never pongs is closed with 3012', async () => {
  const r = await connected({ pong: false });
  const c = await r.closed;
  assert.equal(c.code, 3012);
  assert.ok(r.replies.some((x) => Object.keys(x).length === 0), 'got a ping');
});

test('a connection whose token expires without refresh is closed with 3005', async () => {
  const r = await connected({ exp: Math.floor(Date.now() / 1000) + 1 });
  const connect = r.replies.find((x) => x.id === 1).connect;
  assert.equal(connect.expires, true);
  assert.ok(connect.ttl <= 1);
  assert.equal(connect.ping, 1);
  assert.equal(connect.pong, true);
  const c = await r.closed;
  assert.equal(c.code, 3005);
});

test('refresh extends a connection', async () => {
  const r = await connected({ exp: Math.floor(Date.now() / 1000) + 1 });
  r.send({ id: 2, refresh: { token: await signConnectionToken(SECRET, { sub: 'u1' }, 60) } });
  const rep = await r.next((x) => x.id === 2);
  assert.equal(rep.refresh.expires, true);
  assert.ok(rep.refresh.ttl > 50);
  await sleep(2500);
  assert.equal(r.ws.readyState, WebSocket.OPEN);
  r.ws.close();
});

test('a slow client is disconnected with 3008 and others are unaffected', async () => {
  // Own server with the default ping interval: a paused client must not be dropped for a missing pong first.
  const main = s;
  s = await startChat({ chat: { writeQueueMaxBytes: 256 * 1024 } });
  try {
    await slowClientCase();
  } finally {
    await s.close();
    s = main;
  }
});

async function slowClientCase(): Promise<void> {
  const slow = await connected({ user: 'slow' });
  const fast = await connected({ user: 'fast' });
  slow.send({ id: 2, subscribe: { channel: 'chat:flood' } });
  fast.send({ id: 2, subscribe: { channel: 'chat:flood' } });
  await slow.next((x) => x.id === 2);
  await fast.next((x) => x.id === 2);
  // Stop reading on the slow client: its socket and the server's write queue fill up.
  (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  let fastGot = 0;
  fast.ws.on('message', (d) => {
    fastGot += d.toString().split('\n').filter((l) => l.includes('"pub"')).length;
  });
  const payload = 'y'.repeat(16 * 1024);
  let sent = 0;
  const statsBefore = s.chat.stats().clients;
  for (let i = 0; i < 1500 && s.chat.stats().clients === statsBefore; i++) {
    await api(s, 'publish', { channel: 'chat:flood', data: { i, payload } });
    sent++;
  }
  await waitFor(() => s.chat.stats().clients === statsBefore - 1, 5000, 'slow client dropped');
  const metrics = await s.registry.getSingleMetricAsString('onair_chat_disconnects_total');
  assert.match(metrics, /code="3008"\} 1/);
  await waitFor(() => fastGot === sent, 10000, 'fast client got everything');
  // The slow client reads its backlog and finds the close frame.
  (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  const c = await slow.closed;
  assert.equal(c.code, 3008);
  assert.equal(fast.ws.readyState, WebSocket.OPEN);
  fast.ws.close();
}
