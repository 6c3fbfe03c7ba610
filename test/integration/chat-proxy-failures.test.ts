// Proxy failures: backend down, slow, HTTP 500, bad JSON, oversized answers and the in-flight
// bound all give clients error 100 while the node keeps serving everyone else; the
// unidirectional HTTP stream forwards headers too.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { WebSocket } from 'ws';
import { Centrifuge } from 'centrifuge';
import { startChat, waitFor, SECRET, type ChatServer } from '../../testkit/chat-server.js';
import { Backend, Raw, chatConfig, metricValue } from '../../testkit/chat-proxy-backend.js';
import { signConnectionToken } from '../../src/chat/index.js';

const INTERNAL = { code: 100, message: 'internal server error', temporary: true };
const backend = new Backend();
const servers: ChatServer[] = [];
const sockets: WebSocket[] = [];
const sdks: Centrifuge[] = [];

before(async () => {
  await backend.start();
});

after(async () => {
  for (const c of sdks) c.disconnect();
  for (const ws of sockets) ws.terminate();
  for (const s of servers) await s.close();
  await backend.close();
});

async function chatWith(overrides: Record<string, unknown>): Promise<ChatServer> {
  const chat = chatConfig({
    ...overrides,
    namespaces: { chat: { presence: true, historySize: 10, historyTtlSeconds: 60, allowPublishForClient: true } },
  });
  const s = await startChat({ chat });
  servers.push(s);
  return s;
}

/** rawConnect opens a WebSocket, sends a tokenless connect and returns its first reply. */
async function rawConnect(s: ChatServer, params: Record<string, unknown> = {}): Promise<{ reply: any; ws: WebSocket; ms: number }> {
  const ws = new WebSocket(s.wsUrl);
  sockets.push(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const start = performance.now();
  const reply = new Promise<any>((resolve) => ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString().split('\n')[0]!))));
  ws.send(JSON.stringify({ id: 1, connect: params }));
  return { reply: await reply, ws, ms: performance.now() - start };
}

/** tokenRoundTrip connects a token client, subscribes and receives its own publication. */
async function tokenRoundTrip(s: ChatServer, user: string): Promise<void> {
  const c = new Centrifuge(s.wsUrl, { websocket: WebSocket, getToken: async () => signConnectionToken(SECRET, { sub: user }, 600) });
  sdks.push(c);
  const connected = new Promise<void>((r) => c.once('connected', () => r()));
  c.connect();
  await connected;
  const sub = c.newSubscription('chat:alive');
  const got = new Promise<unknown>((r) => sub.once('publication', (ctx) => r(ctx.data)));
  sub.subscribe();
  await sub.ready(3000);
  await sub.publish({ ok: user });
  assert.deepEqual(await got, { ok: user });
  c.disconnect();
}

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

test('backend down: a tokenless connect gets error 100 (the SDK retries), token clients keep working', async () => {
  const port = await closedPort();
  const s = await chatWith({ 'proxy.connect.endpoint': `http://127.0.0.1:${port}/connect` });
  const { reply } = await rawConnect(s);
  assert.deepEqual(reply, { id: 1, error: INTERNAL });

  const sdk = new Centrifuge(s.wsUrl, { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 100 });
  sdks.push(sdk);
  const errors: { type: string; code: number }[] = [];
  sdk.on('error', (ctx) => errors.push({ type: ctx.type, code: ctx.error.code }));
  sdk.connect();
  await waitFor(() => errors.length >= 2, 5000, 'two connect errors (it retries)');
  assert.deepEqual(errors[0], { type: 'connect', code: 100 });
  assert.equal(sdk.state, 'connecting');
  sdk.disconnect();

  await tokenRoundTrip(s, 'ivy');
  assert.ok((await metricValue(s.registry, 'onair_chat_proxy_errors_total', { kind: 'connect', reason: 'unreachable' })) >= 3);
});

test('slow backend: error 100 after timeoutMs, while other clients are served meanwhile', async () => {
  backend.handlers.set('/slow', () => new Raw({ delayMs: 3000, json: { result: { user: 'late' } } }));
  const s = await chatWith({ 'proxy.connect.endpoint': backend.url('/slow'), 'proxy.connect.timeoutMs': 300 });
  const pending = rawConnect(s);
  // While the proxy call waits, a token client connects, subscribes and publishes.
  const t0 = performance.now();
  await tokenRoundTrip(s, 'jack');
  assert.ok(performance.now() - t0 < 2500, 'served during the slow call');
  const { reply, ms } = await pending;
  assert.deepEqual(reply, { id: 1, error: INTERNAL });
  assert.ok(ms >= 250 && ms < 2500, `timed out after ${ms.toFixed(0)} ms`);
  assert.ok((await metricValue(s.registry, 'onair_chat_proxy_errors_total', { kind: 'connect', reason: 'timeout' })) >= 1);
});

test('HTTP 500, invalid JSON, a bad shape and an oversized body are internal errors', async () => {
  backend.handlers.set('/500', () => new Raw({ status: 500, text: 'oops' }));
  backend.handlers.set('/badjson', () => new Raw({ text: '{"result":' }));
  backend.handlers.set('/badshape', () => ({ result: { user: 42 } }));
  backend.handlers.set('/huge', () => ({ result: { user: 'x', info: { pad: 'x'.repeat(4096) } } }));
  backend.handlers.set('/hugechunked', () => new Raw({ chunks: ['{"result":{"user":"x","info":"', 'y'.repeat(800), 'y'.repeat(800), '"}}'] }));
  const cases: [string, string][] = [
    ['/500', 'http_status'],
    ['/badjson', 'bad_response'],
    ['/badshape', 'bad_response'],
    ['/huge', 'too_large'],
    ['/hugechunked', 'too_large'],
  ];
  for (const [path, reason] of cases) {
    const s = await chatWith({ 'proxy.connect.endpoint': backend.url(path), 'proxy.maxResponseBytes': 1024 });
    const { reply, ws } = await rawConnect(s);
    assert.deepEqual(reply, { id: 1, error: INTERNAL }, path);
    assert.equal(await metricValue(s.registry, 'onair_chat_proxy_errors_total', { kind: 'connect', reason }), 1, path);
    ws.terminate();
  }
});

test('a kept-alive backend connection reset on reuse is retried once on a fresh one', async () => {
  // A raw HTTP/1.1 server: it answers the first request of a connection and resets the
  // connection when a second one arrives on it (as a backend closing an idle socket would).
  const body = JSON.stringify({ result: { user: 'nia' } });
  let requests = 0;
  const srv = createServer((sock) => {
    let served = 0;
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString();
      while (buf.includes('\r\n\r\n') && buf.endsWith('}')) {
        buf = '';
        requests++;
        if (served++ > 0) {
          sock.resetAndDestroy();
          return;
        }
        sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n${body}`);
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const s = await chatWith({ 'proxy.connect.endpoint': `http://127.0.0.1:${(srv.address() as { port: number }).port}/c` });
    const first = await rawConnect(s);
    assert.ok(first.reply.connect, JSON.stringify(first.reply));
    const second = await rawConnect(s);
    assert.ok(second.reply.connect, JSON.stringify(second.reply));
    assert.equal(requests, 3, 'first, the reset reuse, and the retry');
    assert.equal(await metricValue(s.registry, 'onair_chat_proxy_errors_total', { kind: 'connect', reason: 'unreachable' }), 0);
  } finally {
    srv.close();
  }
});

test('in-flight bound: calls over chat.proxy.maxInFlight fail at once; the ones in flight complete', async () => {
  backend.handlers.set('/held', () => new Raw({ delayMs: 800, json: { result: { user: 'held' } } }));
  const s = await chatWith({ 'proxy.connect.endpoint': backend.url('/held'), 'proxy.maxInFlight': 2 });
  const first = rawConnect(s);
  const second = rawConnect(s);
  await waitFor(() => backend.callsTo('/held').length === 2, 3000, 'two calls at the backend');
  const third = await rawConnect(s);
  assert.deepEqual(third.reply, { id: 1, error: INTERNAL });
  assert.ok(third.ms < 400, `refused at once (${third.ms.toFixed(0)} ms)`);
  for (const r of await Promise.all([first, second])) assert.equal(r.reply.connect?.client !== undefined, true, JSON.stringify(r.reply));
  assert.equal(backend.callsTo('/held').length, 2, 'the refused call never reached the backend');
  assert.equal(await metricValue(s.registry, 'onair_chat_proxy_errors_total', { kind: 'connect', reason: 'overloaded' }), 1);
});

test('a publish proxy failure is error 100 for that publish only; the connection stays', async () => {
  const port = await closedPort();
  const chat = chatConfig({
    'proxy.connect.endpoint': backend.url('/anon'),
    namespaces: { chat: { allowPublishForClient: true, proxyPublish: true, proxyPublishEndpoint: `http://127.0.0.1:${port}/publish` } },
  });
  const s2 = await startChat({ chat });
  servers.push(s2);
  backend.handlers.set('/anon', () => ({ result: { user: 'kim' } }));
  const { reply, ws } = await rawConnect(s2);
  assert.ok(reply.connect, JSON.stringify(reply));
  const next = (): Promise<any> => new Promise((resolve) => ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString().split('\n')[0]!))));
  let r = next();
  ws.send(JSON.stringify({ id: 2, publish: { channel: 'chat:x', data: { a: 1 } } }));
  assert.deepEqual(await r, { id: 2, error: INTERNAL });
  r = next();
  ws.send(JSON.stringify({ id: 3, rpc: { method: 'none' } }));
  assert.deepEqual(await r, { id: 3, error: { code: 108, message: 'not available' } }, 'no rpc proxy: not available, connection alive');
  assert.ok((await metricValue(s2.registry, 'onair_chat_proxy_errors_total', { kind: 'publish', reason: 'unreachable' })) >= 1);
});

test('uni_http_stream: the connect proxy gets the allow-listed headers; its disconnect ends the stream', async () => {
  backend.handlers.set('/uni', (body, headers) => {
    if (headers.cookie === 'sid=out') return { disconnect: { code: 4503, reason: 'go away' } };
    return { result: { user: String(headers.cookie).slice(4), data: { transport: body.transport } } };
  });
  const s = await chatWith({ 'proxy.connect.endpoint': backend.url('/uni'), 'proxy.httpHeaders': ['Cookie'] });
  const read = async (cookie: string): Promise<string> => {
    const res = await fetch(`${s.httpUrl}/connection/uni_http_stream`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{}' });
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    await reader.cancel();
    return Buffer.from(value!).toString();
  };
  const first = JSON.parse((await read('sid=lena')).split('\n')[0]!);
  assert.equal(first.connect.data.transport, 'uni_http_stream');
  assert.ok(first.connect.client);
  assert.equal(backend.callsTo('/uni').at(-1)!.headers.cookie, 'sid=lena');
  const out = JSON.parse((await read('sid=out')).split('\n')[0]!);
  assert.deepEqual(out, { disconnect: { code: 4503, reason: 'go away', reconnect: false } });
});

test('without a refresh endpoint a proxied expire_at is the client\'s TTL; stopping the chat closes the kept-alive backend connections', async () => {
  const b2 = new Backend();
  await b2.start();
  try {
    b2.handlers.set('/c', () => ({ result: { user: 'mia', expire_at: Math.floor(Date.now() / 1000) + 30 } }));
    const s = await chatWith({ 'proxy.connect.endpoint': b2.url('/c') });
    const { reply, ws } = await rawConnect(s);
    assert.equal(reply.connect.expires, true);
    assert.ok(reply.connect.ttl > 25 && reply.connect.ttl <= 30, JSON.stringify(reply));
    ws.terminate();
    assert.ok(b2.openConnections >= 1, 'the connection to the backend is kept alive');
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    await waitFor(() => b2.openConnections === 0, 3000, 'backend connections closed on stop');
  } finally {
    await b2.close();
  }
});
