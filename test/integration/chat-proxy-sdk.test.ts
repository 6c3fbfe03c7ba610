// Proxies with the official `centrifuge` SDK (v5) over `ws`: a real HTTP backend on port 0
// answers connect, refresh, subscribe, publish, sub_refresh and rpc calls.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { Centrifuge, type Subscription } from 'centrifuge';
import { startChat, waitFor, sleep, SECRET, type ChatServer } from '../../testkit/chat-server.js';
import { Backend, chatConfig, metricValue } from '../../testkit/chat-proxy-backend.js';
import { signConnectionToken } from '../../src/chat/index.js';

let s: ChatServer;
const backend = new Backend();
const clients: Centrifuge[] = [];

/** A namespace every proxy is on for; `chat` (the default namespace) has none. */
const PX = { presence: true, joinLeave: true, historySize: 10, historyTtlSeconds: 60, allowPublishForClient: true, proxySubscribe: true, proxyPublish: true, proxySubRefresh: true };

before(async () => {
  await backend.start();
  const chat = chatConfig({
    'proxy.connect.endpoint': backend.url('/connect'),
    'proxy.refresh.endpoint': backend.url('/refresh'),
    'proxy.subscribe.endpoint': backend.url('/subscribe'),
    'proxy.publish.endpoint': backend.url('/publish'),
    'proxy.subRefresh.endpoint': backend.url('/sub_refresh'),
    'proxy.rpc.endpoint': backend.url('/rpc'),
    'proxy.httpHeaders': ['Cookie', 'X-Real-Ip'],
    'proxy.emulatedHeaders': ['Authorization', 'X-Real-Ip'],
    'proxy.staticHeaders': { 'X-Onair-Secret': 's3cret' },
    'proxy.includeConnectionMeta': true,
    'proxy.refreshRetrySeconds': 1,
    namespaces: { chat: { presence: true, joinLeave: true, historySize: 10, historyTtlSeconds: 60, allowPublishForClient: true }, px: PX },
  });
  s = await startChat({ chat, options: { expiredCloseDelayMs: 200 } });
  // The stand-in session store: the cookie names the user.
  backend.handlers.set('/connect', (body, headers) => {
    const bearer = /^Bearer ([a-z]+)$/.exec(String(headers.authorization ?? ''))?.[1];
    if (bearer) return { result: { user: bearer, info: { ip: headers['x-real-ip'] ?? null, forged: headers['x-user-id'] ?? null } } };
    const sid = /sid=([a-z]+)/.exec(String(headers.cookie ?? ''))?.[1] ?? '';
    if (sid === 'bad') return { error: { code: 403, message: 'forbidden' } };
    if (sid === 'gone') return { disconnect: { code: 4501, reason: 'unauthorized' } };
    if (sid === 'short') return { result: { user: 'shorty', expire_at: nowSec() + 1 } };
    if (sid === '') return { result: { user: '' } };
    if (sid === 'subs') {
      return { result: { user: 'subs', channels: ['chat:lobby'], subs: { 'px:news': { info: { badge: 'gold' }, data: { hello: 'news' }, override: { presence: { value: false } } } } } };
    }
    return { result: { user: sid, info: { name: sid.toUpperCase() }, data: { welcome: body.data ?? null }, meta: { tier: 2 } } };
  });
  backend.handlers.set('/subscribe', (body) => {
    if (body.channel === 'px:secret') return { error: { code: 403, message: 'permission denied' } };
    if (body.channel === 'px:timed') return { result: { expire_at: nowSec() + 1 } };
    return { result: { info: { seat: body.user.length }, data: { topic: body.channel, asked: body.data ?? null } } };
  });
  backend.handlers.set('/publish', (body) => {
    if (body.data?.text === 'nope') return { error: { code: 1002, message: 'not on my watch' } };
    if (body.data?.text === 'ephemeral') return { result: { skip_history: true } };
    return { result: { data: { text: String(body.data?.text).toUpperCase(), by: 'backend' } } };
  });
  backend.handlers.set('/rpc', (body) => {
    if (body.method === 'fail') return { error: { code: 1000, message: 'custom error' } };
    if (body.method === 'kick') return { disconnect: { code: 4000, reason: 'kicked' } };
    return { result: { data: { method: body.method, echo: body.data ?? null, user: body.user } } };
  });
});

after(async () => {
  for (const c of clients) c.disconnect();
  await s.close();
  await backend.close();
});

function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

/** wsWithHeaders is the `ws` class with fixed request headers, as a browser sends its cookies. */
function wsWithHeaders(headers: Record<string, string>): typeof WebSocket {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { headers });
    }
  } as typeof WebSocket;
}

function cookieClient(cookie: string, opts: Record<string, unknown> = {}): Centrifuge {
  const c = new Centrifuge(s.wsUrl, {
    websocket: wsWithHeaders({ Cookie: cookie, 'X-Real-Ip': '203.0.113.7', 'X-Not-Listed': 'secret' }),
    minReconnectDelay: 50,
    maxReconnectDelay: 200,
    ...opts,
  });
  clients.push(c);
  return c;
}

function tokenClient(user: string): Centrifuge {
  const c = new Centrifuge(s.wsUrl, {
    websocket: WebSocket,
    getToken: async () => signConnectionToken(SECRET, { sub: user, info: { name: user } }, 3600),
    minReconnectDelay: 50,
    maxReconnectDelay: 200,
  });
  clients.push(c);
  return c;
}

function connected(c: Centrifuge): Promise<{ client: string; data?: unknown }> {
  return new Promise((resolve) => {
    c.once('connected', (ctx) => resolve(ctx));
    c.connect();
  });
}

async function subscribed(sub: Subscription): Promise<{ data?: unknown }> {
  const p = new Promise<{ data?: unknown }>((resolve) => sub.once('subscribed', (ctx) => resolve(ctx)));
  sub.subscribe();
  return p;
}

test('connect through the proxy: user, info and data; Cookie and static headers reach the backend; presence shows the user', async () => {
  const before = backend.callsTo('/connect').length;
  const c = cookieClient('sid=alice; theme=dark', { data: { hello: 'x' }, name: 'proxy-test' });
  const ctx = await connected(c);
  assert.deepEqual(ctx.data, { welcome: { hello: 'x' } });

  const call = backend.callsTo('/connect')[before]!;
  assert.equal(call.body.client, ctx.client);
  assert.equal(call.body.transport, 'websocket');
  assert.equal(call.body.protocol, 'json');
  assert.equal(call.body.encoding, 'json');
  assert.equal(call.body.name, 'proxy-test');
  assert.deepEqual(call.body.data, { hello: 'x' });
  assert.equal(call.headers.cookie, 'sid=alice; theme=dark');
  assert.equal(call.headers['x-real-ip'], '203.0.113.7');
  assert.equal(call.headers['x-not-listed'], undefined, 'only allow-listed headers are forwarded');
  assert.equal(call.headers['x-onair-secret'], 's3cret');
  assert.match(String(call.headers['content-type']), /^application\/json/);

  // Subscribe proxy: info and data from the backend; the request carries the user and the meta.
  const sub = c.newSubscription('px:room', { data: { seat: 'front' } });
  const sctx = await subscribed(sub);
  assert.deepEqual(sctx.data, { topic: 'px:room', asked: { seat: 'front' } });
  const sreq = backend.callsTo('/subscribe').at(-1)!;
  assert.equal(sreq.body.user, 'alice');
  assert.equal(sreq.body.channel, 'px:room');
  assert.deepEqual(sreq.body.meta, { tier: 2 });
  assert.equal(sreq.headers.cookie, 'sid=alice; theme=dark');

  const pres = await sub.presence();
  const infos = Object.values(pres.clients);
  assert.equal(infos.length, 1);
  assert.equal(infos[0]!.user, 'alice');
  assert.deepEqual(infos[0]!.connInfo, { name: 'ALICE' });
  assert.deepEqual(infos[0]!.chanInfo, { seat: 5 });
  c.disconnect();

  assert.ok((await metricValue(s.registry, 'onair_chat_proxy_call_seconds_count', { kind: 'connect', outcome: 'result' })) >= 1);
});

test('connect result channels and subs become server-side subscriptions (no subscribe proxy call), with their info and data', async () => {
  const c = cookieClient('sid=subs');
  const subs = new Map<string, unknown>();
  c.on('subscribed', (ctx) => subs.set(ctx.channel, ctx.data));
  const pubs: unknown[] = [];
  c.on('publication', (ctx) => pubs.push([ctx.channel, ctx.data]));
  const calls = backend.callsTo('/subscribe').length;
  await connected(c);
  await waitFor(() => subs.size === 2, 3000, 'two server-side subscriptions');
  assert.deepEqual(subs.get('px:news'), { hello: 'news' });
  assert.equal(subs.get('chat:lobby'), undefined);
  assert.equal(backend.callsTo('/subscribe').length, calls);
  // The server-side subscription is live; presence was overridden off for it.
  await s.chat.publisher.publish('px:news', { n: 1 });
  await waitFor(() => pubs.length === 1, 3000, 'server publication');
  const t = tokenClient('watcher');
  await connected(t);
  const w = t.newSubscription('px:news');
  // watcher subscribes through the proxy (no token): the backend allows it.
  await subscribed(w);
  const pres = await w.presence();
  assert.deepEqual(Object.values(pres.clients).map((x) => x.user), ['watcher'], 'subs override: presence off for the server-side subscription');
  c.disconnect();
  t.disconnect();
});

test('headers emulation: allow-listed headers from the SDK `headers` option reach the backend; real request headers win', async () => {
  const browser = new Centrifuge(s.wsUrl, {
    websocket: WebSocket,
    headers: { Authorization: 'Bearer zoe', 'X-User-Id': 'admin', 'X-Real-Ip': '10.0.0.1' },
  });
  clients.push(browser);
  await connected(browser);
  const call = backend.callsTo('/connect').at(-1)!;
  assert.equal(call.headers.authorization, 'Bearer zoe');
  assert.equal(call.headers['x-user-id'], undefined, 'not in emulatedHeaders');
  assert.equal(call.headers['x-real-ip'], '10.0.0.1');
  // Later proxy calls of the connection carry them too.
  assert.deepEqual((await browser.rpc('whoami', null)).data, { method: 'whoami', echo: null, user: 'zoe' });
  assert.equal(backend.callsTo('/rpc').at(-1)!.headers.authorization, 'Bearer zoe');
  browser.disconnect();

  // The same emulated X-Real-Ip loses against the real request header.
  const both = cookieClient('sid=ignored', { headers: { Authorization: 'Bearer yan', 'X-Real-Ip': '10.0.0.1' } });
  await connected(both);
  assert.equal(backend.callsTo('/connect').at(-1)!.headers['x-real-ip'], '203.0.113.7');
  both.disconnect();
});

test('connect refusals: a backend error (terminal code) and a backend disconnect reach the SDK', async () => {
  const denied = cookieClient('sid=bad');
  const d1 = new Promise<{ code: number; reason: string }>((r) => denied.once('disconnected', (ctx) => r(ctx)));
  denied.connect();
  const got1 = await d1;
  assert.equal(got1.code, 403);
  assert.equal(got1.reason, 'forbidden');
  assert.equal(denied.state, 'disconnected');

  const gone = cookieClient('sid=gone');
  const d2 = new Promise<{ code: number; reason: string }>((r) => gone.once('disconnected', (ctx) => r(ctx)));
  gone.connect();
  const got2 = await d2;
  assert.equal(got2.code, 4501);
  assert.equal(got2.reason, 'unauthorized');
  await sleep(300);
  assert.equal(gone.state, 'disconnected', '4501 is terminal: no reconnect');
});

test('subscribe: refused by the backend, allowed elsewhere; private channels and unproxied namespaces never ask it', async () => {
  const c = cookieClient('sid=carol');
  await connected(c);
  const calls = backend.callsTo('/subscribe').length;
  const secret = c.newSubscription('px:secret');
  const unsub = new Promise<{ code: number }>((r) => secret.once('unsubscribed', (ctx) => r(ctx)));
  secret.subscribe();
  assert.equal((await unsub).code, 403);
  assert.equal(backend.callsTo('/subscribe').length, calls + 1);

  const priv = c.newSubscription('$px:private');
  const unsubPriv = new Promise<{ code: number }>((r) => priv.once('unsubscribed', (ctx) => r(ctx)));
  priv.subscribe();
  assert.equal((await unsubPriv).code, 103);

  await subscribed(c.newSubscription('chat:plain'));
  assert.equal(backend.callsTo('/subscribe').length, calls + 1, 'no proxy call for $px:private nor chat:plain');
  c.disconnect();
});

test('publish: publish hooks run first (their refusals cost no backend call), then the backend rewrites, refuses or skips history', async () => {
  s.chat.addPublishHook({
    async onPublish(ctx) {
      if ((ctx.data as { text?: string })?.text === 'spam') return { action: 'reject', code: 1001, message: 'moderated' };
      return { action: 'allow' };
    },
  });
  const a = cookieClient('sid=dave');
  const b = cookieClient('sid=erin');
  await connected(a);
  await connected(b);
  const subA = a.newSubscription('px:pub');
  const subB = b.newSubscription('px:pub');
  const got: unknown[] = [];
  subB.on('publication', (ctx) => got.push(ctx.data));
  await subscribed(subA);
  await subscribed(subB);

  const calls = backend.callsTo('/publish').length;
  await assert.rejects(subA.publish({ text: 'spam' }), (e: { code: number }) => e.code === 1001);
  assert.equal(backend.callsTo('/publish').length, calls, 'a moderated message never reaches the backend');

  await subA.publish({ text: 'hello' });
  await waitFor(() => got.length === 1, 3000, 'rewritten publication');
  assert.deepEqual(got[0], { text: 'HELLO', by: 'backend' });
  const preq = backend.callsTo('/publish').at(-1)!;
  assert.equal(preq.body.user, 'dave');
  assert.equal(preq.body.channel, 'px:pub');
  assert.deepEqual(preq.body.data, { text: 'hello' });

  await assert.rejects(subA.publish({ text: 'nope' }), (e: { code: number; message: string }) => e.code === 1002 && e.message === 'not on my watch');
  await subA.publish({ text: 'ephemeral' });
  await waitFor(() => got.length === 2, 3000, 'ephemeral publication');
  assert.deepEqual(got[1], { text: 'ephemeral' }, 'no data in the result keeps the client data');
  const hist = await subB.history({ limit: 10 });
  assert.deepEqual(
    hist.publications.map((p) => p.data),
    [{ text: 'HELLO', by: 'backend' }],
    'skip_history kept the ephemeral one out of history',
  );
  a.disconnect();
  b.disconnect();
});

test('rpc: local handlers first, other methods go to the backend', async () => {
  s.chat.registerRpc('local', async () => ({ local: true }));
  const c = cookieClient('sid=frank');
  await connected(c);
  const calls = backend.callsTo('/rpc').length;
  assert.deepEqual((await c.rpc('local', {})).data, { local: true });
  assert.equal(backend.callsTo('/rpc').length, calls);
  assert.deepEqual((await c.rpc('getCurrentPrice', { id: 12 })).data, { method: 'getCurrentPrice', echo: { id: 12 }, user: 'frank' });
  await assert.rejects(c.rpc('fail', null), (e: { code: number }) => e.code === 1000);
  // A disconnect answer closes the connection with the backend's code (4000–4499: the SDK reconnects).
  const reconnecting = new Promise<{ code: number; reason: string }>((r) => c.once('connecting', (ctx) => r(ctx)));
  void c.rpc('kick', null).catch(() => undefined);
  assert.deepEqual(await reconnecting, { code: 4000, reason: 'kicked' });

  // A token-authenticated connection uses the rpc proxy too.
  const t = tokenClient('grace');
  await connected(t);
  assert.deepEqual((await t.rpc('whoami', null)).data, { method: 'whoami', echo: null, user: 'grace' });
  c.disconnect();
  t.disconnect();
});

test('refresh proxy: the server renews a short-lived proxied connection, and ends it when the backend says expired', async () => {
  let refreshes = 0;
  backend.handlers.set('/refresh', (body) => {
    assert.equal(body.user, 'shorty');
    refreshes++;
    if (refreshes === 2) return { error: { code: 500, message: 'not for refresh' } }; // ignored: retried
    return refreshes < 4 ? { result: { expire_at: nowSec() + 1 } } : { result: { expired: true } };
  });
  const c = cookieClient('sid=short');
  const disconnected = new Promise<{ code: number }>((r) => c.once('disconnected', (ctx) => r(ctx)));
  const closes: number[] = [];
  c.on('connecting', (ctx) => closes.push(ctx.code));
  await connected(c);
  await waitFor(() => refreshes >= 3, 8000, 'three refresh calls');
  assert.deepEqual(closes.filter((x) => x !== 0), [], 'still on its first connection');
  // The fourth answer says expired: the SDK sees 3005 (and would reconnect through the connect proxy).
  const d = await Promise.race([disconnected, new Promise<{ code: number }>((r) => c.once('connecting', (ctx) => r(ctx)))]);
  assert.equal(d.code, 3005);
  c.disconnect();
});

test('sub_refresh proxy: renews a proxied subscription, then the backend ends it (2501, the SDK resubscribes)', async () => {
  let subRefreshes = 0;
  backend.handlers.set('/sub_refresh', (body) => {
    assert.equal(body.channel, 'px:timed');
    subRefreshes++;
    return subRefreshes < 2 ? { result: { expire_at: nowSec() + 1, info: { renewed: true } } } : { result: { expired: true } };
  });
  const c = cookieClient('sid=henry');
  await connected(c);
  const sub = c.newSubscription('px:timed');
  await subscribed(sub);
  const codes: number[] = [];
  sub.on('subscribing', (ctx) => codes.push(ctx.code));
  const subscribes = backend.callsTo('/subscribe').filter((x) => x.body.channel === 'px:timed').length;
  await waitFor(() => subRefreshes >= 1, 5000, 'first sub_refresh call');
  await sleep(100);
  assert.deepEqual(codes, [], 'renewed: still subscribed');
  await waitFor(() => codes.includes(2501), 5000, 'unsubscribe 2501 after expired');
  assert.equal(subRefreshes, 2);
  await waitFor(() => backend.callsTo('/subscribe').filter((x) => x.body.channel === 'px:timed').length > subscribes, 5000, 'resubscribe through the proxy');
  c.disconnect();
});
