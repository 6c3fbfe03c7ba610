// Real-client tests: the official `centrifuge` SDK (v5) over `ws` against onair chat.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { Centrifuge, type PublicationContext, type SubscribedContext } from 'centrifuge';
import { startChat, api, waitFor, sleep, SECRET, type ChatServer } from '../../testkit/chat-server.js';
import { signConnectionToken, signSubscriptionToken } from '../../src/chat/index.js';

let s: ChatServer;
const clients: Centrifuge[] = [];

before(async () => {
  s = await startChat({ options: { expiredCloseDelayMs: 3000 } });
});
after(async () => {
  for (const c of clients) c.disconnect();
  await s.close();
});

function client(user: string, opts: Record<string, unknown> = {}): Centrifuge {
  const c = new Centrifuge(s.wsUrl, {
    websocket: WebSocket,
    getToken: async () => signConnectionToken(SECRET, { sub: user, info: { name: user.toUpperCase() } }, 3600),
    minReconnectDelay: 50,
    maxReconnectDelay: 200,
    ...opts,
  });
  clients.push(c);
  return c;
}

function connected(c: Centrifuge): Promise<void> {
  return new Promise((resolve) => {
    c.once('connected', () => resolve());
    c.connect();
  });
}

test('connect with a token, subscribe, publish and receive; presence, history, join/leave', async () => {
  const a = client('alice');
  const b = client('bob');
  await connected(a);
  await connected(b);
  const subA = a.newSubscription('chat:demo', { joinLeave: true });
  const subB = b.newSubscription('chat:demo');
  const gotA: PublicationContext[] = [];
  const gotB: PublicationContext[] = [];
  const joins: string[] = [];
  const leaves: string[] = [];
  subA.on('publication', (ctx) => gotA.push(ctx));
  subB.on('publication', (ctx) => gotB.push(ctx));
  subA.on('join', (ctx) => joins.push(ctx.info.user));
  subA.on('leave', (ctx) => leaves.push(ctx.info.user));
  subA.subscribe();
  await subA.ready(3000);
  subB.subscribe();
  await subB.ready(3000);
  await waitFor(() => joins.includes('bob'), 3000, 'join of bob');

  await subB.publish({ text: 'hello from bob' });
  await waitFor(() => gotA.length === 1 && gotB.length === 1, 3000, 'publication');
  assert.deepEqual(gotA[0]!.data, { text: 'hello from bob' });
  assert.equal(gotA[0]!.info?.user, 'bob');
  assert.deepEqual(gotA[0]!.info?.connInfo, { name: 'BOB' });
  assert.equal(gotA[0]!.offset, 1);

  const pres = await subA.presence();
  const users = Object.values(pres.clients).map((ci) => ci.user).sort();
  assert.deepEqual(users, ['alice', 'bob']);
  const stats = await subA.presenceStats();
  assert.deepEqual(stats, { numClients: 2, numUsers: 2 });

  await subA.publish({ text: 'second' });
  const hist = await subA.history({ limit: 10 });
  assert.equal(hist.publications.length, 2);
  assert.deepEqual(hist.publications.map((p) => p.data.text), ['hello from bob', 'second']);
  assert.equal(hist.offset, 2);
  assert.ok(hist.epoch.length > 0);
  const rev = await subA.history({ limit: 1, reverse: true });
  assert.equal(rev.publications[0]!.data.text, 'second');
  const since = await subA.history({ limit: 10, since: { offset: 1, epoch: hist.epoch } });
  assert.deepEqual(since.publications.map((p) => p.offset), [2]);

  subB.unsubscribe();
  await waitFor(() => leaves.includes('bob'), 3000, 'leave of bob');
  b.removeSubscription(subB);
  a.removeSubscription(subA);
});

test('recovers missed publications after a forced reconnect', async () => {
  // carol reconnects slowly, so bert's publications surely fall in the gap.
  const a = client('carol', { minReconnectDelay: 1500, maxReconnectDelay: 2000 });
  await connected(a);
  const b = client('bert');
  await connected(b);
  const bsub = b.newSubscription('chat:recover');
  bsub.subscribe();
  await bsub.ready(3000);
  const sub = a.newSubscription('chat:recover', { recoverable: true });
  const got: number[] = [];
  const subscribed: SubscribedContext[] = [];
  sub.on('publication', (ctx) => got.push(ctx.data.n));
  sub.on('subscribed', (ctx) => subscribed.push(ctx));
  sub.subscribe();
  await sub.ready(3000);
  assert.equal(subscribed[0]!.recoverable, true);
  for (let n = 1; n <= 3; n++) await api(s, 'publish', { channel: 'chat:recover', data: { n } });
  await waitFor(() => got.length === 3, 3000, 'live publications');

  // Server-side disconnect with a reconnect code; publish while the client is away.
  const reconnecting = new Promise<void>((r) => a.once('connecting', () => r()));
  const r = await api(s, 'disconnect', { user: 'carol', disconnect: { code: 3011, reason: 'force reconnect' } });
  assert.deepEqual(r.body, { result: {} });
  await reconnecting;
  // Another SDK client publishes while carol is away.
  for (let n = 4; n <= 6; n++) await bsub.publish({ n });
  assert.equal(a.state, 'connecting', 'published during the gap');
  await waitFor(() => subscribed.length === 2, 5000, 'resubscribe');
  await waitFor(() => got.length === 6, 3000, 'recovered publications');
  assert.deepEqual(got, [1, 2, 3, 4, 5, 6]);
  assert.equal(subscribed[1]!.wasRecovering, true);
  assert.equal(subscribed[1]!.recovered, true);
  assert.equal(subscribed[1]!.hasRecoveredPublications, true);
  a.disconnect();
  b.disconnect();
});

test('recovered is false when history was removed', async () => {
  const a = client('dave');
  await connected(a);
  const sub = a.newSubscription('chat:lost', { recoverable: true });
  const subscribed: SubscribedContext[] = [];
  sub.on('subscribed', (ctx) => subscribed.push(ctx));
  sub.subscribe();
  await sub.ready(3000);
  await api(s, 'publish', { channel: 'chat:lost', data: { n: 1 } });
  await sleep(50);
  const reconnecting = new Promise<void>((r) => a.once('connecting', () => r()));
  await api(s, 'disconnect', { user: 'dave', disconnect: { code: 3011, reason: 'again' } });
  await reconnecting;
  await api(s, 'publish', { channel: 'chat:lost', data: { n: 2 } });
  await api(s, 'history_remove', { channel: 'chat:lost' });
  await waitFor(() => subscribed.length === 2, 5000, 'resubscribe');
  assert.equal(subscribed[1]!.wasRecovering, true);
  assert.equal(subscribed[1]!.recovered, false);
  a.disconnect();
});

test('token expiry triggers a refresh through getToken', async () => {
  let calls = 0;
  const c = new Centrifuge(s.wsUrl, {
    websocket: WebSocket,
    getToken: async () => {
      calls++;
      return signConnectionToken(SECRET, { sub: 'erin', exp: Math.floor(Date.now() / 1000) + 2 });
    },
    minReconnectDelay: 50,
  });
  clients.push(c);
  let disconnects = 0;
  c.on('connecting', () => disconnects++);
  await connected(c);
  const before = disconnects;
  await waitFor(() => calls >= 2, 6000, 'refresh getToken call');
  await sleep(1500);
  assert.equal(c.state, 'connected');
  assert.equal(disconnects, before, 'refresh must not reconnect');
  c.disconnect();
});

test('an expired token at connect makes the SDK fetch a new one', async () => {
  let calls = 0;
  const c = new Centrifuge(s.wsUrl, {
    websocket: WebSocket,
    token: await signConnectionToken(SECRET, { sub: 'fay', exp: Math.floor(Date.now() / 1000) - 10 }),
    getToken: async () => {
      calls++;
      return signConnectionToken(SECRET, { sub: 'fay' }, 3600);
    },
    minReconnectDelay: 50,
  });
  clients.push(c);
  const errors: number[] = [];
  c.on('error', (ctx) => errors.push(ctx.error.code));
  await connected(c);
  assert.equal(calls, 1);
  assert.ok(errors.includes(109));
  c.disconnect();
});

test('a private channel needs a subscription token', async () => {
  const c = client('gus');
  await connected(c);
  const denied = c.newSubscription('$chat:secret');
  const unsub = new Promise<{ code: number }>((r) => denied.once('unsubscribed', (ctx) => r(ctx)));
  denied.subscribe();
  assert.equal((await unsub).code, 103);
  c.removeSubscription(denied);
  const ok = c.newSubscription('$chat:secret', {
    getToken: async (ctx) => signSubscriptionToken(SECRET, { sub: 'gus', channel: ctx.channel, info: { role: 'vip' } }, 3600),
  });
  ok.subscribe();
  await ok.ready(3000);
  const got: PublicationContext[] = [];
  ok.on('publication', (ctx) => got.push(ctx));
  await ok.publish({ x: 1 });
  await waitFor(() => got.length === 1, 3000, 'private publication');
  assert.deepEqual(got[0]!.info?.chanInfo, { role: 'vip' });
  c.disconnect();
});

test('server-side subscriptions from the token channels claim', async () => {
  const c = new Centrifuge(s.wsUrl, {
    websocket: WebSocket,
    getToken: async () => signConnectionToken(SECRET, { sub: 'hal', channels: ['events:hal'] }, 3600),
  });
  clients.push(c);
  const subscribed: string[] = [];
  const pubs: unknown[] = [];
  c.on('subscribed', (ctx) => subscribed.push(ctx.channel));
  c.on('publication', (ctx) => pubs.push(ctx.data));
  await connected(c);
  await waitFor(() => subscribed.includes('events:hal'), 3000, 'server-side subscribed');
  await s.chat.publisher.publish('events:hal', { live: true });
  await waitFor(() => pubs.length === 1, 3000, 'server-side publication');
  assert.deepEqual(pubs[0], { live: true });
  c.disconnect();
});

test('rpc handlers and publish hooks', async () => {
  s.chat.registerRpc('echo', async (ctx) => ({ user: ctx.user, data: ctx.data }));
  s.chat.addPublishHook({
    async onPublish(ctx) {
      const d = ctx.data as { text?: string };
      if (d.text === 'bad') return { action: 'reject', code: 1001, message: 'blocked' };
      if (d.text === '/cmd') return { action: 'handled', reply: {} };
      if (d.text === 'rewrite') return { action: 'allow', data: { text: 'rewritten' } };
      return { action: 'allow' };
    },
  });
  const c = client('ivy');
  await connected(c);
  const r = await c.rpc('echo', { q: 1 });
  assert.deepEqual(r.data, { user: 'ivy', data: { q: 1 } });
  await assert.rejects(c.rpc('nope', {}), (e: { code: number }) => e.code === 108);
  const sub = c.newSubscription('chat:hooks');
  const got: unknown[] = [];
  sub.on('publication', (ctx) => got.push(ctx.data));
  sub.subscribe();
  await sub.ready(3000);
  await assert.rejects(sub.publish({ text: 'bad' }), (e: { code: number; message: string }) => e.code === 1001 && e.message === 'blocked');
  await sub.publish({ text: '/cmd' });
  await sub.publish({ text: 'rewrite' });
  await waitFor(() => got.length === 1, 3000, 'rewritten publication');
  assert.deepEqual(got, [{ text: 'rewritten' }]);
  c.disconnect();
});
