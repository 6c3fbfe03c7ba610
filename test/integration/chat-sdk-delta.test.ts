// Real-client tests of Fossil delta subscriptions: the `centrifuge` SDK's JSON and protobuf
// builds ask `delta: "fossil"`; the first publication comes in full, then deltas the SDK applies
// (its deltaStats show the savings); recovery keeps working; plain subscribers of the same
// channel get full publications; a namespace without allowedDeltaTypes does not negotiate; without
// deltaPublish only publications with the server API's `delta: true` are deltas.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { Centrifuge, type SubscribedContext } from 'centrifuge';
import { Centrifuge as ProtoCentrifuge } from 'centrifuge/build/protobuf';
import { startChat, api, waitFor, SECRET, type ChatServer } from '../../testkit/chat-server.js';
import { signConnectionToken } from '../../src/chat/index.js';
import { loadConfig } from '../../src/config/index.js';
import { seededRandom } from '../../testkit/prng.js';

let s: ChatServer;
const clients: { disconnect(): void }[] = [];

before(async () => {
  const base = loadConfig({ env: {} }).chat.namespaces;
  s = await startChat({
    chat: {
      namespaces: {
        ...base,
        state: { presence: false, joinLeave: false, historySize: 50, historyTtlSeconds: 300, allowPublishForClient: true, allowSubscribeForAnonymous: true, forceRecovery: false, allowedDeltaTypes: ['fossil'], deltaPublish: true },
        // Without deltaPublish: only publications with the API's `delta: true` become deltas.
        ticker: { presence: false, joinLeave: false, historySize: 50, historyTtlSeconds: 300, allowPublishForClient: false, allowSubscribeForAnonymous: true, forceRecovery: false, allowedDeltaTypes: ['fossil'] },
      },
    },
  });
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

/** States: 1 KiB of rows, a tenth of them rewritten each step (the bench's shape), some in Korean. */
function states(n: number, seed: number): { rows: string[] }[] {
  const r = seededRandom(seed);
  const word = () => (r() < 0.3 ? '채팅 순위 ' : 'leader ') + Math.floor(r() * 1e6);
  const rows = Array.from({ length: 40 }, word);
  const out: { rows: string[] }[] = [];
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 4; k++) rows[Math.floor(r() * rows.length)] = word();
    out.push({ rows: [...rows] });
  }
  return out;
}

test('JSON over WebSocket: full first, then deltas; deltaStats show savings; a plain subscriber gets full data', async () => {
  const c = new Centrifuge(s.wsUrl, { websocket: WebSocket, getToken: token('dee') });
  const plain = new Centrifuge(s.wsUrl, { websocket: WebSocket, getToken: token('pat') });
  clients.push(c, plain);
  await connected(c);
  await connected(plain);
  const sub = c.newSubscription('state:board', { delta: 'fossil', positioned: true });
  const subscribed: SubscribedContext[] = [];
  sub.on('subscribed', (ctx) => subscribed.push(ctx));
  const got: unknown[] = [];
  sub.on('publication', (ctx) => got.push(ctx.data));
  const plainGot: unknown[] = [];
  const psub = plain.newSubscription('state:board');
  psub.on('publication', (ctx) => plainGot.push(ctx.data));
  sub.subscribe();
  psub.subscribe();
  await sub.ready(3000);
  await psub.ready(3000);
  const want = states(12, 1);
  for (const st of want) await api(s, 'publish', { channel: 'state:board', data: st });
  await waitFor(() => got.length === want.length && plainGot.length === want.length, 5000, 'publications');
  assert.deepEqual(got, want);
  assert.deepEqual(plainGot, want);
  const stats = sub.deltaStats();
  assert.equal(stats.numFullPayloads, 1, JSON.stringify(stats));
  assert.equal(stats.numDeltaPayloads, want.length - 1);
  assert.ok(stats.compressionRatio > 0.5, `compression ${stats.compressionRatio}`);
  assert.equal(psub.deltaStats().numPublications, 0);
  c.disconnect();
  plain.disconnect();
});

test('JSON: recovery after a forced reconnect, then deltas again', async () => {
  const c = new Centrifuge(s.wsUrl, { websocket: WebSocket, getToken: token('rec'), minReconnectDelay: 800, maxReconnectDelay: 1000 });
  clients.push(c);
  await connected(c);
  const sub = c.newSubscription('state:recover', { delta: 'fossil', recoverable: true });
  const got: unknown[] = [];
  const subscribed: SubscribedContext[] = [];
  sub.on('publication', (ctx) => got.push(ctx.data));
  sub.on('subscribed', (ctx) => subscribed.push(ctx));
  sub.subscribe();
  await sub.ready(3000);
  const want = states(9, 2);
  for (const st of want.slice(0, 3)) await api(s, 'publish', { channel: 'state:recover', data: st });
  await waitFor(() => got.length === 3, 3000, 'live');
  const reconnecting = new Promise<void>((r) => c.once('connecting', () => r()));
  await api(s, 'disconnect', { user: 'rec', disconnect: { code: 3011, reason: 'force reconnect' } });
  await reconnecting;
  for (const st of want.slice(3, 6)) await api(s, 'publish', { channel: 'state:recover', data: st });
  await waitFor(() => subscribed.length === 2, 5000, 'resubscribe');
  assert.equal(subscribed[1]?.recovered, true);
  for (const st of want.slice(6)) await api(s, 'publish', { channel: 'state:recover', data: st });
  await waitFor(() => got.length === want.length, 3000, 'all publications');
  assert.deepEqual(got, want);
  assert.ok(sub.deltaStats().numDeltaPayloads >= 4, JSON.stringify(sub.deltaStats()));
  c.disconnect();
});

test('protobuf over WebSocket and JSON over http_stream: deltas apply', async () => {
  const p = new ProtoCentrifuge(s.wsUrl, { websocket: WebSocket, getToken: token('pb') });
  const h = new Centrifuge([{ transport: 'http_stream', endpoint: `${s.httpUrl}/connection/http_stream` }], {
    fetch: globalThis.fetch,
    readableStream: globalThis.ReadableStream,
    emulationEndpoint: `${s.httpUrl}/emulation`,
    getToken: token('hs'),
  });
  clients.push(p, h);
  await connected(p);
  await connected(h);
  const ps = p.newSubscription('state:multi', { delta: 'fossil', positioned: true });
  const hs = h.newSubscription('state:multi', { delta: 'fossil', positioned: true });
  const pGot: unknown[] = [];
  const hGot: unknown[] = [];
  ps.on('publication', (ctx) => pGot.push(dec(ctx.data)));
  hs.on('publication', (ctx) => hGot.push(ctx.data));
  ps.subscribe();
  hs.subscribe();
  await ps.ready(3000);
  await hs.ready(3000);
  const want = states(8, 3);
  for (const st of want) await api(s, 'publish', { channel: 'state:multi', data: st });
  await waitFor(() => pGot.length === want.length && hGot.length === want.length, 5000, 'publications');
  assert.deepEqual(pGot, want);
  assert.deepEqual(hGot, want);
  assert.equal(ps.deltaStats().numDeltaPayloads, want.length - 1, JSON.stringify(ps.deltaStats()));
  assert.equal(hs.deltaStats().numDeltaPayloads, want.length - 1, JSON.stringify(hs.deltaStats()));
  p.disconnect();
  h.disconnect();
});

test('a namespace without allowedDeltaTypes does not negotiate; an unknown delta type is a bad request', async () => {
  const c = new Centrifuge(s.wsUrl, { websocket: WebSocket, getToken: token('nod') });
  clients.push(c);
  await connected(c);
  const sub = c.newSubscription('chat:nodelta', { delta: 'fossil', positioned: true });
  const got: unknown[] = [];
  sub.on('publication', (ctx) => got.push(ctx.data));
  sub.subscribe();
  await sub.ready(3000);
  await api(s, 'publish', { channel: 'chat:nodelta', data: { a: 1 } });
  await waitFor(() => got.length === 1, 3000, 'publication');
  assert.deepEqual(got, [{ a: 1 }]);
  assert.equal(sub.deltaStats().numPublications, 0);
  c.disconnect();
  // The SDK refuses other delta types itself: a raw client asks.
  const ws = new WebSocket(s.wsUrl);
  const replies: { id?: number; error?: { code: number } }[] = [];
  ws.on('message', (m: Buffer) => {
    for (const line of m.toString().split('\n')) replies.push(JSON.parse(line) as { id?: number; error?: { code: number } });
  });
  await new Promise<void>((r) => ws.once('open', () => r()));
  ws.send(JSON.stringify({ id: 1, connect: { token: await token('raw')() } }) + '\n' + JSON.stringify({ id: 2, subscribe: { channel: 'state:bad', delta: 'xdelta' } }));
  await waitFor(() => replies.some((r) => r.id === 2), 3000, 'subscribe reply');
  assert.equal(replies.find((r) => r.id === 2)?.error?.code, 107);
  ws.close();
});

test('without deltaPublish only publications published with delta: true are deltas (JSON and protobuf)', async () => {
  const c = new Centrifuge(s.wsUrl, { websocket: WebSocket, getToken: token('tick') });
  const p = new ProtoCentrifuge(s.wsUrl, { websocket: WebSocket, getToken: token('tickpb') });
  clients.push(c, p);
  await connected(c);
  await connected(p);
  const sub = c.newSubscription('ticker:board', { delta: 'fossil', positioned: true });
  const psub = p.newSubscription('ticker:board', { delta: 'fossil', positioned: true });
  const got: unknown[] = [];
  const pGot: unknown[] = [];
  sub.on('publication', (ctx) => got.push(ctx.data));
  psub.on('publication', (ctx) => pGot.push(dec(ctx.data)));
  sub.subscribe();
  psub.subscribe();
  await sub.ready(3000);
  await psub.ready(3000);
  const want = states(8, 4);
  // delta: true, absent, false, true, true, absent, true, true — the first is full whatever it asks.
  const flags = [true, undefined, false, true, true, undefined, true, true];
  for (const [i, st] of want.entries()) {
    const r = await api(s, 'publish', { channel: 'ticker:board', data: st, ...(flags[i] === undefined ? {} : { delta: flags[i] }) });
    assert.ok(r.body.result, JSON.stringify(r.body));
  }
  await waitFor(() => got.length === want.length && pGot.length === want.length, 5000, 'publications');
  assert.deepEqual(got, want);
  assert.deepEqual(pGot, want);
  const deltas = flags.slice(1).filter((f) => f === true).length;
  assert.equal(sub.deltaStats().numDeltaPayloads, deltas, JSON.stringify(sub.deltaStats()));
  assert.equal(sub.deltaStats().numFullPayloads, want.length - deltas);
  assert.equal(psub.deltaStats().numDeltaPayloads, deltas, JSON.stringify(psub.deltaStats()));
  const bad = await api(s, 'publish', { channel: 'ticker:board', data: {}, delta: 'yes' });
  assert.equal(bad.body.error.code, 107);
  c.disconnect();
  p.disconnect();
});
