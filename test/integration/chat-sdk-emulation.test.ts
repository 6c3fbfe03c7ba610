// Real-client tests: the official `centrifuge` SDK (JSON and protobuf builds) over its
// bidirectional HTTP transports, http_stream and sse (EventSource from `eventsource`), with
// commands through POST /emulation; two nodes sharing Redis with the emulation requests sent
// to the node that does not hold the session; bad emulation requests.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';
import { Centrifuge, type PublicationContext, type SubscribedContext } from 'centrifuge';
import { Centrifuge as ProtoCentrifuge } from 'centrifuge/build/protobuf';
import { startChat, startRedis, api, waitFor, SECRET, type ChatServer } from '../../testkit/chat-server.js';
import { signConnectionToken } from '../../src/chat/index.js';

let redis: Awaited<ReturnType<typeof startRedis>>;
let a: ChatServer;
let b: ChatServer;
const clients: { disconnect(): void }[] = [];

before(async () => {
  redis = await startRedis();
  a = await startChat({ redisUrl: redis.url, nodeName: 'node-a' });
  b = await startChat({ redisUrl: redis.url, nodeName: 'node-b' });
  for (const s of [a, b]) s.chat.registerRpc('echo', async (ctx) => ({ user: ctx.user, data: ctx.data }));
});
after(async () => {
  for (const c of clients) c.disconnect();
  await a?.close();
  await b?.close();
  await redis?.stop();
});

type Emulated = 'http_stream' | 'sse';

/** sdkOptions: the transports of one node, the emulation endpoint possibly another's. */
function sdkOptions(user: string, emulationNode: ChatServer) {
  return {
    fetch: globalThis.fetch,
    readableStream: globalThis.ReadableStream,
    eventsource: EventSource,
    emulationEndpoint: `${emulationNode.httpUrl}/emulation`,
    getToken: async () => signConnectionToken(SECRET, { sub: user, info: { name: user } }, 3600),
    minReconnectDelay: 50,
    maxReconnectDelay: 300,
  };
}

function jsonClient(user: string, transport: Emulated, stream: ChatServer, emulationNode: ChatServer = stream): Centrifuge {
  const c = new Centrifuge([{ transport, endpoint: `${stream.httpUrl}/connection/${transport}` }], sdkOptions(user, emulationNode));
  clients.push(c);
  return c;
}

function connected(c: { once(e: 'connected', f: (ctx: { transport: string }) => void): unknown; connect(): void }): Promise<string> {
  return new Promise((resolve) => {
    c.once('connected', (ctx) => resolve(ctx.transport));
    c.connect();
  });
}

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
const dec = (d: unknown): unknown => JSON.parse(new TextDecoder().decode(d as Uint8Array));

for (const transport of ['http_stream', 'sse'] as const) {
  test(`${transport} (JSON): connect, subscribe, publish, presence, history, rpc, recovery`, async () => {
    const c = jsonClient(`u-${transport}`, transport, a);
    assert.equal(await connected(c), transport);
    const ch = `chat:emu-${transport}`;
    const sub = c.newSubscription(ch, { recoverable: true });
    const got: PublicationContext[] = [];
    const subscribed: SubscribedContext[] = [];
    sub.on('publication', (ctx) => got.push(ctx));
    sub.on('subscribed', (ctx) => subscribed.push(ctx));
    sub.subscribe();
    await sub.ready(3000);
    await sub.publish({ text: 'one' });
    await api(a, 'publish', { channel: ch, data: { text: 'two' } });
    await waitFor(() => got.length === 2, 3000, 'publications');
    assert.deepEqual(got.map((p) => p.data), [{ text: 'one' }, { text: 'two' }]);
    assert.equal(got[0]?.info?.user, `u-${transport}`);
    const pres = await sub.presenceStats();
    assert.deepEqual(pres, { numClients: 1, numUsers: 1 });
    const hist = await sub.history({ limit: 10 });
    assert.deepEqual(hist.publications.map((p) => p.offset), [1, 2]);
    const r = await c.rpc('echo', { q: transport });
    assert.deepEqual(r.data, { user: `u-${transport}`, data: { q: transport } });

    // A reconnect code ends the stream with a disconnect push; the SDK reconnects and recovers.
    const reconnecting = new Promise<void>((res) => c.once('connecting', () => res()));
    await api(a, 'disconnect', { user: `u-${transport}`, disconnect: { code: 3011, reason: 'force reconnect' } });
    await reconnecting;
    await api(a, 'publish', { channel: ch, data: { text: 'three' } });
    await waitFor(() => subscribed.length === 2, 5000, 'resubscribe');
    await waitFor(() => got.length === 3, 3000, 'recovered publication');
    assert.equal(subscribed[1]?.recovered, true);
    assert.deepEqual(got[2]?.data, { text: 'three' });

    // A terminal code reaches the SDK as its disconnect code.
    const disconnected = new Promise<number>((res) => c.once('disconnected', (ctx) => res(ctx.code)));
    await api(a, 'disconnect', { user: `u-${transport}`, disconnect: { code: 4501, reason: 'bye' } });
    assert.equal(await disconnected, 4501);
  });
}

test('http_stream (protobuf): publish, history and rpc', async () => {
  const c = new ProtoCentrifuge([{ transport: 'http_stream', endpoint: `${a.httpUrl}/connection/http_stream` }], sdkOptions('pb-emu', a));
  clients.push(c);
  assert.equal(await connected(c), 'http_stream');
  const sub = c.newSubscription('chat:emu-pb');
  const got: unknown[] = [];
  sub.on('publication', (ctx) => got.push(dec(ctx.data)));
  sub.subscribe();
  await sub.ready(3000);
  await sub.publish(enc({ text: 'pb' }));
  await api(a, 'publish', { channel: 'chat:emu-pb', data: { text: 'api' } });
  await waitFor(() => got.length === 2, 3000, 'publications');
  assert.deepEqual(got, [{ text: 'pb' }, { text: 'api' }]);
  const hist = await sub.history({ limit: 10 });
  assert.deepEqual(hist.publications.map((p) => dec(p.data)), [{ text: 'pb' }, { text: 'api' }]);
  const r = await c.rpc('echo', enc({ n: 1 }));
  assert.deepEqual(dec(r.data), { user: 'pb-emu', data: { n: 1 } });
  c.disconnect();
});

test('two nodes: the stream on node A, every emulation request sent to node B (routed over Redis)', async () => {
  for (const transport of ['http_stream', 'sse'] as const) {
    const c = jsonClient(`x-${transport}`, transport, a, b);
    assert.equal(await connected(c), transport);
    const sub = c.newSubscription(`chat:cross-${transport}`);
    const got: unknown[] = [];
    sub.on('publication', (ctx) => got.push(ctx.data));
    sub.subscribe();
    await sub.ready(3000);
    await sub.publish({ via: 'b' });
    await waitFor(() => got.length === 1, 3000, 'publication');
    assert.deepEqual(got, [{ via: 'b' }]);
    const r = await c.rpc('echo', { n: 2 });
    assert.deepEqual(r.data, { user: `x-${transport}`, data: { n: 2 } });
    assert.equal(a.chat.stats().clients >= 1, true);
    c.disconnect();
  }
  // Protobuf commands cross the broker too (base64 in the control message).
  const p = new ProtoCentrifuge([{ transport: 'http_stream', endpoint: `${a.httpUrl}/connection/http_stream` }], sdkOptions('x-pb', b));
  clients.push(p);
  assert.equal(await connected(p), 'http_stream');
  const r = await p.rpc('echo', enc({ n: 3 }));
  assert.deepEqual(dec(r.data), { user: 'x-pb', data: { n: 3 } });
  p.disconnect();
});

/** openStream starts an http_stream with a connect command and returns the session and node of its reply. */
async function openStream(s: ChatServer): Promise<{ session: string; node: string; close(): void }> {
  const ac = new AbortController();
  const token = await signConnectionToken(SECRET, { sub: 'raw' }, 3600);
  const res = await fetch(`${s.httpUrl}/connection/http_stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 1, connect: { token } }),
    signal: ac.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  let text = '';
  while (!text.includes('\n')) {
    const { value } = await reader.read();
    text += new TextDecoder().decode(value);
  }
  const reply = JSON.parse(text.slice(0, text.indexOf('\n'))) as { connect: { session: string; node: string; pong?: boolean } };
  assert.equal(reply.connect.pong, undefined, 'no pongs asked over emulation');
  return { ...reply.connect, close: () => ac.abort() };
}

/** protoEmulation is a protobuf EmulationRequest: node (field 1), session (2), data (3), short fields only. */
function protoEmulation(node: string, session: string, data: Uint8Array): Uint8Array {
  const field = (no: number, v: Uint8Array) => [(no << 3) | 2, v.length, ...v];
  const te = new TextEncoder();
  return new Uint8Array([...field(1, te.encode(node)), ...field(2, te.encode(session)), ...field(3, data)]);
}

async function emulate(s: ChatServer, body: string | Uint8Array, contentType = 'application/json'): Promise<number> {
  const res = await fetch(`${s.httpUrl}/emulation`, { method: 'POST', headers: { 'content-type': contentType }, body });
  await res.arrayBuffer();
  return res.status;
}

test('bad emulation requests get clean 4xx; the nodes keep serving', async () => {
  const st = await openStream(a);
  const ping = JSON.stringify({ id: 2, ping: {} });
  assert.equal(await emulate(a, JSON.stringify({ session: st.session, node: st.node, data: ping })), 200);
  // Forged: a made-up session, the right session for another node, a flipped MAC character.
  assert.equal(await emulate(a, JSON.stringify({ session: 'nope', node: st.node, data: ping })), 404);
  assert.equal(await emulate(b, JSON.stringify({ session: st.session, node: 'someone-else', data: ping })), 404);
  const flipped = st.session.slice(0, -1) + (st.session.endsWith('A') ? 'B' : 'A');
  assert.equal(await emulate(b, JSON.stringify({ session: flipped, node: st.node, data: ping })), 404);
  // Malformed bodies.
  assert.equal(await emulate(a, '{not json'), 400);
  assert.equal(await emulate(a, JSON.stringify({ session: st.session, node: st.node, data: ping }), 'text/plain'), 415);
  assert.equal(await emulate(a, JSON.stringify({ session: st.session, node: st.node, data: { id: 2 } })), 400);
  assert.equal(await emulate(a, JSON.stringify({ session: st.session, node: st.node })), 400);
  assert.equal(await emulate(a, new Uint8Array([0x0a, 0xff, 0x01]), 'application/octet-stream'), 400);
  assert.equal(await emulate(a, JSON.stringify({ session: st.session, node: st.node, data: 'x'.repeat(70_000) })), 413);
  // A JSON request for a protobuf session and the reverse are refused.
  assert.equal(await emulate(a, protoEmulation(st.node, st.session, new Uint8Array([2, 0x5a, 0])), 'application/octet-stream'), 400);
  // A session that has ended: 204, as the SDK expects (its stream is gone already).
  st.close();
  await waitFor(async () => (await emulate(a, JSON.stringify({ session: st.session, node: st.node, data: ping }))) === 204, 3000, 'ended session');
  // Streams without a connect command, or with more than it (a page of another site must not
  // make a browser publish through a stream it opens), or not as JSON / protobuf.
  const stream = (body: string, type = 'application/json') => fetch(`${a.httpUrl}/connection/http_stream`, { method: 'POST', headers: { 'content-type': type }, body });
  const connectCmd = JSON.stringify({ id: 1, connect: {} });
  const publishCmd = JSON.stringify({ id: 2, publish: { channel: 'chat:x', data: {} } });
  assert.equal((await stream(' ')).status, 400);
  assert.equal((await stream(connectCmd + '\n' + publishCmd)).status, 400);
  assert.equal((await stream(publishCmd)).status, 400);
  assert.equal((await stream(connectCmd, 'text/plain')).status, 415);
  assert.equal((await fetch(`${a.httpUrl}/connection/sse`)).status, 400);
  assert.equal((await fetch(`${a.httpUrl}/connection/sse?cf_connect=${encodeURIComponent(connectCmd + '\n' + publishCmd)}`)).status, 400);
  const c = jsonClient('still-works', 'http_stream', b, a);
  assert.equal(await connected(c), 'http_stream');
  c.disconnect();
});
