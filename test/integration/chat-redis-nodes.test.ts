// Two onair chat nodes (each its own Fastify app on port 0) sharing one real Redis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { Centrifuge, type PublicationContext } from 'centrifuge';
import { startChat, startRedis, api, waitFor, SECRET, type ChatServer } from '../../testkit/chat-server.js';
import { signConnectionToken } from '../../src/chat/index.js';

let redis: Awaited<ReturnType<typeof startRedis>>;
let a: ChatServer;
let b: ChatServer;
const clients: Centrifuge[] = [];

before(async () => {
  redis = await startRedis();
  a = await startChat({ redisUrl: redis.url, nodeName: 'node-a', options: { nodeInfoIntervalMs: 200 } });
  b = await startChat({ redisUrl: redis.url, nodeName: 'node-b', options: { nodeInfoIntervalMs: 200 } });
});
after(async () => {
  for (const c of clients) c.disconnect();
  await a?.close();
  await b?.close();
  await redis?.stop();
});

function connect(s: ChatServer, user: string): Promise<Centrifuge> {
  const c = new Centrifuge(s.wsUrl, {
    websocket: WebSocket,
    getToken: async () => signConnectionToken(SECRET, { sub: user }, 3600),
    minReconnectDelay: 50,
    maxReconnectDelay: 200,
  });
  clients.push(c);
  return new Promise((resolve) => {
    c.once('connected', () => resolve(c));
    c.connect();
  });
}

test('publications, presence, history and join/leave cross nodes', async () => {
  assert.equal(a.chat.stats().broker, 'redis');
  const ca = await connect(a, 'anna');
  const cb = await connect(b, 'ben');
  const sa = ca.newSubscription('chat:x', { joinLeave: true });
  const sb = cb.newSubscription('chat:x');
  const gotA: PublicationContext[] = [];
  const joins: string[] = [];
  sa.on('publication', (ctx) => gotA.push(ctx));
  sa.on('join', (ctx) => joins.push(ctx.info.user));
  sa.subscribe();
  await sa.ready(3000);
  sb.subscribe();
  await sb.ready(3000);
  await waitFor(() => joins.includes('ben'), 3000, 'cross-node join');

  await sb.publish({ text: 'from B' });
  await waitFor(() => gotA.length === 1, 3000, 'cross-node publication');
  assert.deepEqual(gotA[0]!.data, { text: 'from B' });
  assert.equal(gotA[0]!.info?.user, 'ben');
  assert.equal(gotA[0]!.offset, 1);

  const pa = await sa.presence();
  const pb = await sb.presence();
  assert.deepEqual(Object.keys(pa.clients).sort(), Object.keys(pb.clients).sort());
  assert.deepEqual(Object.values(pa.clients).map((c) => c.user).sort(), ['anna', 'ben']);
  const ha = await sa.history({ limit: 10 });
  const hb = await sb.history({ limit: 10 });
  assert.deepEqual(ha, hb);
  assert.equal(ha.publications.length, 1);

  // Server API on node A reaches a subscriber on node B.
  const gotB: PublicationContext[] = [];
  sb.on('publication', (ctx) => gotB.push(ctx));
  const r = await api(a, 'publish', { channel: 'chat:x', data: { text: 'api' } });
  assert.equal(r.body.result.offset, 2);
  await waitFor(() => gotB.length === 1, 3000, 'api publication on B');

  const info = await api(a, 'info', {});
  await waitFor(async () => (await api(a, 'info', {})).body.result.nodes.length === 2, 3000, 'two nodes in info');
  assert.ok(info.body.result.nodes.length >= 1);
  // Channel counts from other nodes arrive with their periodic node info: wait for it.
  await waitFor(async () => (await api(b, 'channels', {})).body.result.channels['chat:x']?.num_clients === 2, 5000, 'channel counts from both nodes');
  const chans = await api(b, 'channels', {});
  assert.equal(chans.body.result.channels['chat:x'].num_clients, 2);
  ca.removeSubscription(sa);
  cb.removeSubscription(sb);
});

test('server API disconnect on node A disconnects a user connected to node B', async () => {
  const cb = await connect(b, 'carl');
  const disconnected = new Promise<{ code: number }>((r) => cb.once('disconnected', (ctx) => r(ctx)));
  const r = await api(a, 'disconnect', { user: 'carl' });
  assert.deepEqual(r.body, { result: {} });
  assert.equal((await disconnected).code, 3503);
});

test('server API unsubscribe and subscribe reach the other node', async () => {
  const cb = await connect(b, 'dora');
  const sub = cb.newSubscription('chat:y');
  sub.subscribe();
  await sub.ready(3000);
  const unsub = new Promise<{ code: number }>((r) => sub.once('unsubscribed', (ctx) => r(ctx)));
  await api(a, 'unsubscribe', { user: 'dora', channel: 'chat:y' });
  assert.equal((await unsub).code, 2000);
  const serverSubs: string[] = [];
  cb.on('subscribed', (ctx) => serverSubs.push(ctx.channel));
  await api(a, 'subscribe', { user: 'dora', channel: 'events:dora' });
  await waitFor(() => serverSubs.includes('events:dora'), 3000, 'server-side subscribe');
  const pubs: unknown[] = [];
  cb.on('publication', (ctx) => pubs.push(ctx.data));
  await a.chat.publisher.publish('events:dora', { hi: 1 });
  await waitFor(() => pubs.length === 1, 3000, 'server-side publication');
});

test('a client that moves from node A to node B recovers from the shared Redis history', async () => {
  const ca = await connect(a, 'eve');
  const sa = ca.newSubscription('chat:move', { recoverable: true });
  const gotA: number[] = [];
  sa.on('publication', (ctx) => gotA.push(ctx.data.n));
  sa.subscribe();
  await sa.ready(3000);
  await api(a, 'publish', { channel: 'chat:move', data: { n: 1 } });
  await waitFor(() => gotA.length === 1, 3000, 'first publication on A');
  const hist = await sa.history({ limit: 0 });
  ca.disconnect();
  // Missed while moving.
  await api(b, 'publish', { channel: 'chat:move', data: { n: 2 } });
  await api(a, 'publish', { channel: 'chat:move', data: { n: 3 } });
  const cb = await connect(b, 'eve');
  const sb = cb.newSubscription('chat:move', { since: { offset: hist.offset, epoch: hist.epoch } });
  const gotB: number[] = [];
  let ctx: { wasRecovering: boolean; recovered: boolean } | null = null;
  sb.on('subscribed', (c) => (ctx = c));
  sb.on('publication', (c) => gotB.push(c.data.n));
  sb.subscribe();
  await waitFor(() => gotB.length === 2, 3000, 'recovered on B');
  assert.deepEqual(gotB, [2, 3]);
  assert.deepEqual({ wasRecovering: ctx!.wasRecovering, recovered: ctx!.recovered }, { wasRecovering: true, recovered: true });
});
