// Real-client tests: the official `centrifuge` SDK's protobuf build over `ws` (subprotocol
// centrifuge-protobuf) against onair chat, and a JSON client in the same channel.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { Centrifuge as ProtoCentrifuge, type PublicationContext, type SubscribedContext } from 'centrifuge/build/protobuf';
import { Centrifuge as JsonCentrifuge } from 'centrifuge';
import { startChat, api, waitFor, sleep, SECRET, type ChatServer } from '../../testkit/chat-server.js';
import { signConnectionToken } from '../../src/chat/index.js';
import { seededRandom, randomBytes } from '../../testkit/prng.js';

let s: ChatServer;
const clients: { disconnect(): void }[] = [];

before(async () => {
  s = await startChat({ options: { expiredCloseDelayMs: 3000 } });
  s.chat.registerRpc('echo', async (ctx) => ({ user: ctx.user, data: ctx.data }));
});
after(async () => {
  for (const c of clients) c.disconnect();
  await s.close();
});

/** Protobuf clients carry onair's JSON payloads as UTF-8 bytes. */
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
const dec = (b: unknown): unknown => JSON.parse(new TextDecoder().decode(b as Uint8Array));

function protoClient(user: string, opts: Record<string, unknown> = {}): ProtoCentrifuge {
  const c = new ProtoCentrifuge(s.wsUrl, {
    websocket: WebSocket,
    getToken: async () => signConnectionToken(SECRET, { sub: user, info: { name: user.toUpperCase() } }, 3600),
    minReconnectDelay: 50,
    maxReconnectDelay: 200,
    ...opts,
  });
  clients.push(c);
  return c;
}

function connected(c: { once(e: 'connected', f: () => void): unknown; connect(): void }): Promise<void> {
  return new Promise((resolve) => {
    c.once('connected', () => resolve());
    c.connect();
  });
}

test('protobuf: connect, subscribe, publish, presence, history, rpc; a JSON client sees the same publications', async () => {
  const a = protoClient('alice');
  const transports: string[] = [];
  a.on('connected', (ctx) => transports.push(ctx.transport));
  await connected(a);
  assert.deepEqual(transports, ['websocket']);
  const j = new JsonCentrifuge(s.wsUrl, {
    websocket: WebSocket,
    getToken: async () => signConnectionToken(SECRET, { sub: 'jay' }, 3600),
  });
  clients.push(j);
  await connected(j);

  const subA = a.newSubscription('chat:pb', { joinLeave: true });
  const subJ = j.newSubscription('chat:pb');
  const gotA: PublicationContext[] = [];
  const gotJ: unknown[] = [];
  const joins: string[] = [];
  subA.on('publication', (ctx) => gotA.push(ctx));
  subA.on('join', (ctx) => joins.push(ctx.info.user));
  subJ.on('publication', (ctx) => gotJ.push(ctx.data));
  subA.subscribe();
  await subA.ready(3000);
  subJ.subscribe();
  await subJ.ready(3000);
  await waitFor(() => joins.includes('jay'), 3000, 'join of jay');

  await subA.publish(enc({ text: 'from protobuf' }));
  await subJ.publish({ text: 'from json' });
  await waitFor(() => gotA.length === 2 && gotJ.length === 2, 3000, 'publications on both clients');
  assert.deepEqual(gotA.map((p) => dec(p.data)), [{ text: 'from protobuf' }, { text: 'from json' }]);
  assert.deepEqual(gotJ, [{ text: 'from protobuf' }, { text: 'from json' }]);
  assert.equal(gotA[0]?.info?.user, 'alice');
  assert.deepEqual(dec(gotA[0]?.info?.connInfo), { name: 'ALICE' });
  assert.deepEqual(gotA.map((p) => p.offset), [1, 2]);

  const pres = await subA.presence();
  assert.deepEqual(Object.values(pres.clients).map((ci) => ci.user).sort(), ['alice', 'jay']);
  assert.deepEqual(await subA.presenceStats(), { numClients: 2, numUsers: 2 });

  const hist = await subA.history({ limit: 10 });
  assert.deepEqual(hist.publications.map((p) => dec(p.data)), [{ text: 'from protobuf' }, { text: 'from json' }]);
  assert.equal(hist.offset, 2);
  assert.ok(hist.epoch.length > 0);
  const since = await subA.history({ limit: 10, since: { offset: 1, epoch: hist.epoch } });
  assert.deepEqual(since.publications.map((p) => p.offset), [2]);

  const r = await a.rpc('echo', enc({ q: 1 }));
  assert.deepEqual(dec(r.data), { user: 'alice', data: { q: 1 } });
  await assert.rejects(a.rpc('nope', enc({})), (e: { code: number }) => e.code === 108);
  // A server-side publication reaches the protobuf client too (shared batch, protobuf bytes).
  await api(s, 'publish', { channel: 'chat:pb', data: { text: 'from api' } });
  await waitFor(() => gotA.length === 3, 3000, 'api publication');
  assert.deepEqual(dec(gotA[2]?.data), { text: 'from api' });
  a.disconnect();
  j.disconnect();
});

test('protobuf: recovers missed publications after a forced reconnect', async () => {
  const a = protoClient('carol', { minReconnectDelay: 1000, maxReconnectDelay: 1500 });
  await connected(a);
  const sub = a.newSubscription('chat:pbrecover', { recoverable: true });
  const got: unknown[] = [];
  const subscribed: SubscribedContext[] = [];
  sub.on('publication', (ctx) => got.push(dec(ctx.data)));
  sub.on('subscribed', (ctx) => subscribed.push(ctx));
  sub.subscribe();
  await sub.ready(3000);
  assert.equal(subscribed[0]?.recoverable, true);
  await api(s, 'publish', { channel: 'chat:pbrecover', data: { n: 1 } });
  await waitFor(() => got.length === 1, 3000, 'live publication');
  const reconnecting = new Promise<void>((r) => a.once('connecting', () => r()));
  await api(s, 'disconnect', { user: 'carol', disconnect: { code: 3011, reason: 'force reconnect' } });
  await reconnecting;
  for (let n = 2; n <= 3; n++) await api(s, 'publish', { channel: 'chat:pbrecover', data: { n } });
  await waitFor(() => subscribed.length === 2, 5000, 'resubscribe');
  await waitFor(() => got.length === 3, 3000, 'recovered publications');
  assert.deepEqual(got, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  assert.equal(subscribed[1]?.wasRecovering, true);
  assert.equal(subscribed[1]?.recovered, true);
  a.disconnect();
});

test('protobuf: token expiry triggers a refresh through getToken without reconnecting', async () => {
  let calls = 0;
  const c = protoClient('erin', {
    getToken: async () => {
      calls++;
      return signConnectionToken(SECRET, { sub: 'erin', exp: Math.floor(Date.now() / 1000) + 2 });
    },
  });
  let connecting = 0;
  c.on('connecting', () => connecting++);
  await connected(c);
  const before = connecting;
  await waitFor(() => calls >= 2, 6000, 'refresh getToken call');
  await sleep(1500);
  assert.equal(c.state, 'connected');
  assert.equal(connecting, before, 'refresh must not reconnect');
  c.disconnect();
});

test('protobuf: a binary frame that is not protobuf closes with 3501; the server keeps serving', async () => {
  const ws = new WebSocket(s.wsUrl, 'centrifuge-protobuf');
  await new Promise<void>((r, j) => {
    ws.once('open', () => r());
    ws.once('error', j);
  });
  assert.equal(ws.protocol, 'centrifuge-protobuf');
  // A length prefix promising 1000 bytes, followed by three.
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  ws.send(Buffer.from([0xe8, 0x07, 1, 2, 3]));
  assert.equal(await closed, 3501);
  const c = protoClient('after');
  await connected(c);
  c.disconnect();
});

test('protobuf fuzz over the socket: random and truncated frames close with 3501 or are taken; never another close', async () => {
  const r = seededRandom(99);
  const valid = Buffer.from('07080122030a0174', 'hex'); // Command{id 1, connect{token "t"}}
  const frames: Buffer[] = [];
  for (let i = 0; i < 12; i++) frames.push(randomBytes(r, 1 + Math.floor(r() * 24)));
  for (let i = 1; i < valid.length; i++) frames.push(valid.subarray(0, i));
  frames.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1])); // a 4 GiB length prefix
  const codes = await Promise.all(
    frames.map(
      (f) =>
        new Promise<number>((resolve) => {
          const ws = new WebSocket(s.wsUrl, 'centrifuge-protobuf');
          let timer: NodeJS.Timeout | undefined;
          ws.once('open', () => {
            ws.send(f);
            timer = setTimeout(() => ws.close(1000), 500);
          });
          ws.once('close', (code) => {
            clearTimeout(timer);
            resolve(code);
          });
          ws.on('error', () => undefined);
        }),
    ),
  );
  for (const [i, code] of codes.entries()) assert.ok(code === 3501 || code === 1000, `frame ${frames[i]?.toString('hex')}: close ${code}`);
  assert.ok(codes.filter((c) => c === 3501).length >= frames.length - 3, `most frames are refused: ${codes.join(',')}`);
  const c = protoClient('after-fuzz');
  await connected(c);
  c.disconnect();
});
