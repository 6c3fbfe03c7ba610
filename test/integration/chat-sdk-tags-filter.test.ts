// Publication tags filters (subscribe `tf`) with the official SDK, JSON and protobuf builds:
// only matching publications, live and recovered; refused where the namespace does not allow
// them or when malformed (107); no delta for a filtered subscription.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { Centrifuge, type SubscribedContext } from 'centrifuge';
import { Centrifuge as ProtoCentrifuge } from 'centrifuge/build/protobuf';
import { startChat, api, waitFor, SECRET, type ChatServer } from '../../testkit/chat-server.js';
import { signConnectionToken } from '../../src/chat/index.js';
import { loadConfig } from '../../src/config/index.js';

let s: ChatServer;
const clients: { disconnect(): void }[] = [];

before(async () => {
  const base = loadConfig({ env: {} }).chat.namespaces;
  const market = { presence: false, joinLeave: false, historySize: 50, historyTtlSeconds: 300, allowPublishForClient: false, allowSubscribeForAnonymous: true, forceRecovery: false };
  s = await startChat({ chat: { namespaces: { ...base, market: { ...market, allowTagsFilter: true, allowedDeltaTypes: ['fossil'], deltaPublish: true }, plain: market } } });
});
after(async () => {
  for (const c of clients) c.disconnect();
  await s.close();
});

const token = (user: string) => async () => signConnectionToken(SECRET, { sub: user }, 3600);
const dec = (d: unknown): unknown => JSON.parse(new TextDecoder().decode(d as Uint8Array));

function connected(c: { once(e: 'connected', f: () => void): unknown; connect(): void }): Promise<void> {
  return new Promise((resolve) => {
    c.once('connected', () => resolve());
    c.connect();
  });
}

const QUOTES: { data: { n: number }; tags?: Record<string, string> }[] = [
  { data: { n: 1 }, tags: { ticker: 'AAPL', price: '150.25' } },
  { data: { n: 2 }, tags: { ticker: 'MSFT', price: '410' } },
  { data: { n: 3 }, tags: { ticker: 'AAPL', price: '90' } },
  { data: { n: 4 } },
  { data: { n: 5 }, tags: { ticker: '삼성전자', price: '71000' } },
];

async function publishAll(channel: string, quotes = QUOTES): Promise<void> {
  for (const q of quotes) assert.ok((await api(s, 'publish', { channel, ...q })).body.result);
}

test('JSON and protobuf: a filtered subscription gets the matching publications only; a plain one gets all', async () => {
  const c = new Centrifuge(s.wsUrl, { websocket: WebSocket, getToken: token('f1') });
  const p = new ProtoCentrifuge(s.wsUrl, { websocket: WebSocket, getToken: token('f2') });
  clients.push(c, p);
  await connected(c);
  await connected(p);
  const aapl = c.newSubscription('market:q', { tagsFilter: { key: 'ticker', cmp: 'eq', val: 'AAPL' } });
  const all = c.newSubscription('market:q2');
  const pricey = p.newSubscription('market:q', { tagsFilter: { op: 'or', nodes: [{ key: 'price', cmp: 'gt', val: '400' }, { key: 'ticker', cmp: 'in', vals: ['none'] }] } });
  const got: unknown[] = [];
  const gotAll: unknown[] = [];
  const gotPricey: unknown[] = [];
  aapl.on('publication', (ctx) => got.push(ctx.data));
  all.on('publication', (ctx) => gotAll.push(ctx.data));
  pricey.on('publication', (ctx) => gotPricey.push(dec(ctx.data)));
  for (const sub of [aapl, all, pricey]) sub.subscribe();
  await Promise.all([aapl.ready(3000), all.ready(3000), pricey.ready(3000)]);
  await publishAll('market:q');
  await publishAll('market:q2');
  await waitFor(() => gotAll.length === 5 && got.length === 2 && gotPricey.length === 2, 5000, 'publications');
  assert.deepEqual(got, [{ n: 1 }, { n: 3 }]);
  assert.deepEqual(gotPricey, [{ n: 2 }, { n: 5 }]);
  c.disconnect();
  p.disconnect();
});

test('recovery returns only the matching publications', async () => {
  const c = new Centrifuge(s.wsUrl, { websocket: WebSocket, getToken: token('rec'), minReconnectDelay: 300, maxReconnectDelay: 500 });
  clients.push(c);
  await connected(c);
  const sub = c.newSubscription('market:rec', { recoverable: true, tagsFilter: { key: 'ticker', cmp: 'sw', val: 'AA' } });
  const got: unknown[] = [];
  const subscribed: SubscribedContext[] = [];
  sub.on('publication', (ctx) => got.push(ctx.data));
  sub.on('subscribed', (ctx) => subscribed.push(ctx));
  sub.subscribe();
  await sub.ready(3000);
  await publishAll('market:rec', QUOTES.slice(0, 2));
  await waitFor(() => got.length === 1, 3000, 'live');
  const reconnecting = new Promise<void>((r) => c.once('connecting', () => r()));
  await api(s, 'disconnect', { user: 'rec', disconnect: { code: 3011, reason: 'force reconnect' } });
  await reconnecting;
  await publishAll('market:rec', QUOTES.slice(2));
  await waitFor(() => subscribed.length === 2, 5000, 'resubscribe');
  assert.equal(subscribed[1]?.recovered, true);
  await waitFor(() => got.length === 2, 3000, 'recovered');
  assert.deepEqual(got, [{ n: 1 }, { n: 3 }]);
  c.disconnect();
});

/** rawSubscribe sends a subscribe over a raw WebSocket and returns the reply. */
async function rawSubscribe(sub: Record<string, unknown>): Promise<{ error?: { code: number; message: string }; subscribe?: Record<string, unknown> }> {
  const ws = new WebSocket(s.wsUrl);
  const replies: { id?: number; error?: { code: number; message: string }; subscribe?: Record<string, unknown> }[] = [];
  ws.on('message', (m: Buffer) => {
    for (const line of m.toString().split('\n')) replies.push(JSON.parse(line) as (typeof replies)[number]);
  });
  await new Promise<void>((r) => ws.once('open', () => r()));
  ws.send(JSON.stringify({ id: 1, connect: { token: await token('raw')() } }) + '\n' + JSON.stringify({ id: 2, subscribe: sub }));
  await waitFor(() => replies.some((r) => r.id === 2), 3000, 'subscribe reply');
  ws.close();
  return replies.find((r) => r.id === 2) ?? {};
}

test('a filter where the namespace does not allow one, or a malformed one, is 107; with delta asked the subscription gets no delta', async () => {
  const notAllowed = await rawSubscribe({ channel: 'plain:x', tf: { key: 'a', cmp: 'eq', val: 'b' } });
  assert.equal(notAllowed.error?.code, 107);
  for (const tf of [{ key: 'a', cmp: 'like', val: 'b' }, { op: 'not', nodes: [] }, { key: 'a', cmp: 'in', vals: [] }, 'a=b']) {
    const r = await rawSubscribe({ channel: 'market:x', tf });
    assert.equal(r.error?.code, 107, JSON.stringify(tf));
  }
  const both = await rawSubscribe({ channel: 'market:d', positioned: true, delta: 'fossil', tf: { key: 'a', cmp: 'ex' } });
  assert.equal(both.error, undefined);
  assert.equal(both.subscribe?.positioned, true);
  assert.equal(both.subscribe?.delta, undefined, 'no delta with a filter');
  const deltaOnly = await rawSubscribe({ channel: 'market:d', positioned: true, delta: 'fossil' });
  assert.equal(deltaOnly.subscribe?.delta, true, 'delta without a filter');
});
