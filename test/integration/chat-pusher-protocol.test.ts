// Pusher protocol 7 against onair chat with the official clients: pusher-js (WebSocket) and
// the pusher server SDK (HTTP API, channel auth); centrifuge on the same channels.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { Centrifuge, type PublicationContext } from 'centrifuge';
import { api, waitFor, sleep, SECRET } from '../../testkit/chat-server.js';
import { signConnectionToken } from '../../src/chat/index.js';
import { requestSignature, md5Hex } from '../../src/chat/pusher/auth.js';
import { APP_ID, APP_KEY, APP_SECRET, client, connected, sdk, startPusherChat, subscribed, type PusherChatServer, type PusherClient } from './helpers/chat-pusher.js';

let s: PusherChatServer;
const open: { disconnect(): void }[] = [];

before(async () => {
  s = await startPusherChat({ pusher: { clientEventsPerSecond: 10 } });
});
after(async () => {
  for (const c of open) c.disconnect();
  await s.close();
});

function pusher(opts: Parameters<typeof client>[1] = {}): PusherClient {
  const p = client(s, opts);
  open.push(p);
  return p;
}

function centrifuge(user: string): Centrifuge {
  const c = new Centrifuge(`ws://127.0.0.1:${s.port}/connection/websocket`, {
    websocket: WebSocket,
    getToken: async () => signConnectionToken(SECRET, { sub: user, info: { name: user.toUpperCase() } }, 3600),
  });
  open.push(c);
  return c;
}

/** raw is a bare WebSocket speaking Pusher JSON, collecting parsed messages. */
async function raw(url = s.wsUrl): Promise<{ ws: WebSocket; msgs: any[]; closed: Promise<number>; send(o: unknown): void }> {
  const ws = new WebSocket(url);
  const msgs: any[] = [];
  ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  open.push({ disconnect: () => ws.close() });
  return { ws, msgs, closed, send: (o) => ws.send(typeof o === 'string' ? o : JSON.stringify(o)) };
}

function collect(ch: { bind(ev: string, f: (d: unknown, meta?: unknown) => void): unknown }, ev: string): unknown[] {
  const got: unknown[] = [];
  ch.bind(ev, (d: unknown) => got.push(d));
  return got;
}

test('connect: connection_established with a socket id and activity_timeout (data is a JSON string); wrong key gets 4001 and a close', async () => {
  const r = await raw();
  await waitFor(() => r.msgs.length > 0, 3000, 'connection_established');
  assert.equal(r.msgs[0].event, 'pusher:connection_established');
  assert.equal(typeof r.msgs[0].data, 'string');
  const d = JSON.parse(r.msgs[0].data);
  assert.match(d.socket_id, /^\d+\.\d+$/);
  assert.equal(d.activity_timeout, 120);

  const bad = await raw(`ws://127.0.0.1:${s.port}/app/wrong-key?protocol=7&client=js&version=8.0.0`);
  assert.equal(await bad.closed, 4001);
  assert.equal(bad.msgs[0].event, 'pusher:error');
  assert.equal(bad.msgs[0].data.code, 4001);

  const noProto = await raw(`ws://127.0.0.1:${s.port}/app/${APP_KEY}`);
  assert.equal(await noProto.closed, 4008);
  const badUrl = await raw(`ws://127.0.0.1:${s.port}/app/%E0%A4%A?protocol=7`);
  assert.equal(await badUrl.closed, 4001);

  // pusher-js with the right key connects; with a wrong key it reports 4001 and does not come back.
  const p = pusher();
  await connected(p);
  assert.match(p.connection.socket_id, /^\d+\.\d+$/);
  const w = pusher({ key: 'wrong-key' });
  const errors: any[] = [];
  w.connection.bind('error', (e: any) => errors.push(e));
  await waitFor(() => errors.some((e) => (e?.data?.code ?? e?.error?.data?.code) === 4001), 5000, 'pusher-js error 4001');
  await sleep(300);
  assert.notEqual(w.connection.state, 'connected');
});

test('public channel: events from the HTTP API (one channel, several, socket_id excluded) and from Centrifugo publishers', async () => {
  const a = pusher();
  const b = pusher();
  await connected(a);
  await connected(b);
  const { channel: ca } = await subscribed(a, 'chat-pub1');
  const { channel: cb } = await subscribed(b, 'chat-pub1');
  const ga = collect(ca, 'news');
  const gb = collect(cb, 'news');
  const server = sdk(s);
  const res = await server.trigger('chat-pub1', 'news', { n: 1 });
  assert.equal(res.status, 200);
  await server.trigger(['chat-pub1', 'chat-other'], 'news', { n: 2 });
  // socket_id: everybody but that socket.
  await server.trigger('chat-pub1', 'news', { n: 3 }, { socket_id: a.connection.socket_id });
  await waitFor(() => gb.length === 3, 3000, 'three events on b');
  await sleep(100);
  assert.deepEqual(ga, [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(gb, [{ n: 1 }, { n: 2 }, { n: 3 }]);

  // A publication made through the Centrifugo server API is the event "message" with its data.
  const msgs = collect(ca, 'message');
  const r = await api(s, 'publish', { channel: 'chat:pub1', data: { text: 'from the server API' } });
  assert.ok(r.body.result);
  await waitFor(() => msgs.length === 1, 3000, 'message event');
  assert.deepEqual(msgs[0], { text: 'from the server API' });
});

test('Laravel-style names outside the namespaces use the no-namespace channel (when configured), shared with Centrifugo', async () => {
  const p = pusher();
  await connected(p);
  const { channel } = await subscribed(p, 'private-App.Models.User.1');
  const got = collect(channel, 'App\\Events\\OrderShipped');
  await sdk(s).trigger('private-App.Models.User.1', 'App\\Events\\OrderShipped', { order: 7 });
  await waitFor(() => got.length === 1, 3000, 'Laravel event');
  assert.deepEqual(got[0], { order: 7 });
  const hist = await api(s, 'presence_stats', { channel: 'App.Models.User.1' });
  assert.deepEqual(hist.body.result, { num_clients: 0, num_users: 0 });
});

test('private channel: a good signature subscribes, a forged one gets subscription_error and pusher:error 4009', async () => {
  const good = pusher();
  await connected(good);
  await subscribed(good, 'private-chat-priv1');

  const forged = pusher({ authorize: (socketId, channel) => sdk(s, { secret: 'not-the-secret-0123456789' }).authorizeChannel(socketId, channel) });
  await connected(forged);
  const errors: any[] = [];
  forged.connection.bind('error', (e: any) => errors.push(e));
  await assert.rejects(subscribed(forged, 'private-chat-priv1'), /subscription error/);
  await waitFor(() => errors.some((e) => e?.data?.code === 4009), 3000, 'pusher:error 4009');
  // Signed for another socket: refused too.
  const stolen = pusher({ authorize: (_socketId, channel) => sdk(s).authorizeChannel('1.1', channel) });
  await connected(stolen);
  await assert.rejects(subscribed(stolen, 'private-chat-priv1'), /subscription error/);
  // No auth at all on a private channel name through the raw protocol.
  const r = await raw();
  r.send({ event: 'pusher:subscribe', data: { channel: 'private-chat-priv1' } });
  await waitFor(() => r.msgs.some((m) => m.event === 'pusher:subscription_error'), 3000, 'subscription_error');
});

test('presence: members list, member_added / member_removed between pusher-js clients and a Centrifugo client; server API presence lists them', async () => {
  const a = pusher({ user: { user_id: 'u1', user_info: { name: 'One' } } });
  const b = pusher({ user: { user_id: 'u2', user_info: { name: 'Two' } } });
  await connected(a);
  await connected(b);
  const { channel: ca, data: first } = await subscribed(a, 'presence-chat-pres1');
  assert.equal(first.count, 1);
  assert.deepEqual(first.me, { id: 'u1', info: { name: 'One' } });
  const added: any[] = [];
  const removed: any[] = [];
  ca.bind('pusher:member_added', (m: any) => added.push(m));
  ca.bind('pusher:member_removed', (m: any) => removed.push(m));
  const { data: second } = await subscribed(b, 'presence-chat-pres1');
  assert.equal(second.count, 2);
  assert.deepEqual(Object.keys(second.members).sort(), ['u1', 'u2']);
  assert.deepEqual(second.members.u1, { name: 'One' });
  await waitFor(() => added.length === 1, 3000, 'member_added u2');
  assert.deepEqual(added[0], { id: 'u2', info: { name: 'Two' } });

  // The Centrifugo server API sees Pusher members in onair presence.
  const pres = await api(s, 'presence', { channel: 'chat:pres1' });
  const users = Object.values(pres.body.result.presence as Record<string, { user: string }>).map((c) => c.user).sort();
  assert.deepEqual(users, ['u1', 'u2']);

  // A Centrifugo subscriber joins the same channel: a member for Pusher clients too.
  const c = centrifuge('carol');
  c.connect();
  const sub = c.newSubscription('chat:pres1');
  sub.subscribe();
  await sub.ready(3000);
  await waitFor(() => added.some((m) => m.id === 'carol'), 3000, 'member_added carol');
  assert.deepEqual(added.find((m) => m.id === 'carol').info, { name: 'CAROL' });

  b.unsubscribe('presence-chat-pres1');
  await waitFor(() => removed.some((m) => m.id === 'u2'), 3000, 'member_removed u2');
  assert.equal((ca as unknown as { members: { count: number } }).members.count, 2);
  c.disconnect();
  await waitFor(() => removed.some((m) => m.id === 'carol'), 3000, 'member_removed carol');

  // Presence needs channel_data with a user_id.
  const r = await raw();
  await waitFor(() => r.msgs.length > 0, 3000, 'established');
  const socketId = JSON.parse(r.msgs[0].data).socket_id;
  const auth = sdk(s).authorizeChannel(socketId, 'presence-chat-pres1', { user_id: 'x' });
  r.send({ event: 'pusher:subscribe', data: { channel: 'presence-chat-pres1', auth: auth.auth, channel_data: '{"name":"no id"}' } });
  await waitFor(() => r.msgs.some((m) => m.event === 'pusher:subscription_error'), 3000, 'subscription_error');
});

test('client events: relayed to the other subscribers only, private/presence only, user_id on presence, rate limited (4301)', async () => {
  const a = pusher({ user: { user_id: 'ua' } });
  const b = pusher({ user: { user_id: 'ub' } });
  await connected(a);
  await connected(b);
  const { channel: ca } = await subscribed(a, 'private-chat-ce1');
  const { channel: cb } = await subscribed(b, 'private-chat-ce1');
  const ga = collect(ca, 'client-typing');
  const gb = collect(cb, 'client-typing');
  assert.equal(ca.trigger('client-typing', { who: 'a' }), true);
  await waitFor(() => gb.length === 1, 3000, 'client event on b');
  await sleep(150);
  assert.deepEqual(gb, [{ who: 'a' }]);
  assert.deepEqual(ga, []);

  // On presence channels the receiver learns the sender's user_id.
  const { channel: pa } = await subscribed(a, 'presence-chat-ce2');
  const { channel: pb } = await subscribed(b, 'presence-chat-ce2');
  const metas: any[] = [];
  pb.bind('client-wave', (_d: unknown, meta: any) => metas.push(meta));
  pa.trigger('client-wave', {});
  await waitFor(() => metas.length === 1, 3000, 'client-wave');
  assert.equal(metas[0]?.user_id, 'ua');

  // Public channels refuse client events.
  const errors: any[] = [];
  a.connection.bind('error', (e: any) => errors.push(e.data ?? e.error?.data ?? e));
  await subscribed(a, 'chat-ce3');
  a.send_event('client-x', {}, 'chat-ce3');
  await waitFor(() => errors.some((e) => e.code === 4009), 3000, 'error on a public channel');

  // More than 10 per second from one connection: 4301 for the rest of that second.
  const c = pusher();
  await connected(c);
  const { channel: cc } = await subscribed(c, 'private-chat-ce1');
  const cErrors: any[] = [];
  c.connection.bind('error', (e: any) => cErrors.push(e.data));
  const before = gb.length;
  while (Date.now() % 1000 > 400) await sleep(10);
  for (let i = 0; i < 15; i++) cc.trigger('client-typing', { i });
  // Sent within one second (unless the server is very late): ten relayed, five refused.
  const refused = () => cErrors.filter((e) => e?.code === 4301).length;
  await waitFor(() => refused() >= 1 && gb.length - before + refused() === 15, 3000, 'every event relayed or refused');
  await sleep(150);
  assert.ok(gb.length - before >= 10 && gb.length - before + refused() === 15, `relayed ${gb.length - before}, refused ${refused()}`);
});

test('Centrifugo and Pusher clients on one mapped channel see each other', async () => {
  const c = centrifuge('dave');
  c.connect();
  const sub = c.newSubscription('chat:mix1');
  const pubs: PublicationContext[] = [];
  sub.on('publication', (ctx) => pubs.push(ctx));
  sub.subscribe();
  await sub.ready(3000);
  const p = pusher({ user: { user_id: 'erin' } });
  await connected(p);
  const { channel } = await subscribed(p, 'private-chat-mix1');
  const msgs = collect(channel, 'message');

  await sub.publish({ text: 'hi from centrifuge' });
  await waitFor(() => msgs.length === 1, 3000, 'pusher got the centrifuge message');
  assert.deepEqual(msgs[0], { text: 'hi from centrifuge' });

  channel.trigger('client-note', { text: 'hi from pusher' });
  await sdk(s).trigger('chat-mix1', 'announce', { text: 'from the HTTP API' });
  await waitFor(() => pubs.length === 3, 3000, 'centrifuge got three publications');
  const rest = pubs.slice(1).map((p) => p.data as { event: string }).sort((x, y) => x.event.localeCompare(y.event));
  assert.deepEqual(rest, [
    { event: 'announce', data: { text: 'from the HTTP API' } },
    { event: 'client-note', data: { text: 'hi from pusher' } },
  ]);
});

test('pusher:signin: signin_success, events sent to the user (sendToUser) on every socket of that user, forged signatures refused, terminate_connections', async () => {
  const p = pusher({ signin: { id: 'sam', user_info: { name: 'Sam' } } });
  const p2 = pusher({ signin: { id: 'sam' } });
  const greets: unknown[] = [];
  const greets2: unknown[] = [];
  (p as any).user.bind('greet', (d: unknown) => greets.push(d));
  (p2 as any).user.bind('greet', (d: unknown) => greets2.push(d));
  p.signin();
  p2.signin();
  await waitFor(() => (p as any).user.user_data?.id === 'sam' && (p2 as any).user.user_data?.id === 'sam', 5000, 'signed in');
  await waitFor(() => (p as any).user.serverToUserChannel?.subscribed === true && (p2 as any).user.serverToUserChannel?.subscribed === true, 5000, 'server-to-user channel');
  await sdk(s).sendToUser('sam', 'greet', { hi: 'sam' });
  await waitFor(() => greets.length === 1 && greets2.length === 1, 3000, 'sendToUser on both sockets');
  assert.deepEqual(greets, [{ hi: 'sam' }]);

  // Another socket may not join sam's channel; a forged signin is refused.
  const r = await raw();
  await waitFor(() => r.msgs.length > 0, 3000, 'established');
  r.send({ event: 'pusher:subscribe', data: { channel: '#server-to-user-sam' } });
  await waitFor(() => r.msgs.some((m) => m.event === 'pusher:subscription_error'), 3000, 'refused');
  r.send({ event: 'pusher:signin', data: { auth: APP_KEY + ':' + '0'.repeat(64), user_data: '{"id":"sam"}' } });
  await waitFor(() => r.msgs.some((m) => m.event === 'pusher:error' && m.data.code === 4009), 3000, 'forged signin refused');
  assert.ok(!r.msgs.some((m) => m.event === 'pusher:signin_success'));

  // terminate_connections closes sam's sockets (on every node) and nobody else's.
  const other = pusher();
  await connected(other);
  const res = await sdk(s).terminateUserConnections('sam');
  assert.equal(res.status, 200);
  await waitFor(() => p.connection.state !== 'connected' && p2.connection.state !== 'connected', 3000, 'sam disconnected');
  await sleep(200);
  assert.equal(other.connection.state, 'connected');
});

test('bad frames get pusher:error and the connection (and others) keep working', async () => {
  const other = pusher();
  await connected(other);
  const { channel } = await subscribed(other, 'chat-bad1');
  const got = collect(channel, 'ok');
  const r = await raw();
  await waitFor(() => r.msgs.length > 0, 3000, 'established');
  r.send('not json');
  r.send('[1,2]');
  r.send({ event: 'pusher:nonsense', data: {} });
  r.send({ event: 'pusher:subscribe', data: { channel: 'chat-bad1', pad: 'x'.repeat(11 * 1024) } });
  r.send({ event: 'pusher:subscribe', data: { channel: 'bad:name' } });
  r.send(Buffer.from([0xff, 0xfe, 0x00, 0x7b]));
  await waitFor(() => r.msgs.filter((m) => m.event === 'pusher:error').length >= 5, 3000, 'five errors');
  const codes = r.msgs.filter((m) => m.event === 'pusher:error').map((m) => m.data.code);
  assert.ok(codes.every((c) => c === 4300), JSON.stringify(codes));
  r.send({ event: 'pusher:ping', data: {} });
  await waitFor(() => r.msgs.some((m) => m.event === 'pusher:pong'), 3000, 'pong');
  r.send({ event: 'pusher:subscribe', data: { channel: 'chat-bad1' } });
  await waitFor(() => r.msgs.some((m) => m.event === 'pusher_internal:subscription_succeeded'), 3000, 'subscribed after errors');
  await sdk(s).trigger('chat-bad1', 'ok', { fine: true });
  await waitFor(() => got.length === 1 && r.msgs.some((m) => m.event === 'ok'), 3000, 'both got the event');
  const ev = r.msgs.find((m) => m.event === 'ok');
  assert.equal(ev.channel, 'chat-bad1');
  assert.equal(ev.data, '{"fine":true}');
});

/** signed builds a request URL signed like the SDK, with an optional timestamp override. */
function signed(method: string, path: string, body: string, over: { ts?: number; key?: string; secret?: string } = {}): string {
  const q: Record<string, string> = { auth_key: over.key ?? APP_KEY, auth_timestamp: String(over.ts ?? Math.floor(Date.now() / 1000)), auth_version: '1.0' };
  if (body !== '') q.body_md5 = md5Hex(body);
  const sig = requestSignature(over.secret ?? APP_SECRET, method, path, q);
  return `${s.httpUrl}${path}?${new URLSearchParams({ ...q, auth_signature: sig })}`;
}

test('HTTP API: signing (wrong key, wrong secret, stale timestamp -> 401), bad JSON -> 400, limits, unknown app -> 404', async () => {
  await assert.rejects(sdk(s, { key: 'nope' }).trigger('chat-x', 'e', {}), (e: any) => e.status === 401);
  await assert.rejects(sdk(s, { secret: 'wrong-secret-0123456789' }).trigger('chat-x', 'e', {}), (e: any) => e.status === 401);
  await assert.rejects(sdk(s, { appId: 'other' }).trigger('chat-x', 'e', {}), (e: any) => e.status === 404);
  const path = `/apps/${APP_ID}/events`;
  const body = JSON.stringify({ name: 'e', channel: 'chat-x', data: '{}' });
  const ok = await fetch(signed('POST', path, body), { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  assert.equal(ok.status, 200);
  const stale = await fetch(signed('POST', path, body, { ts: Math.floor(Date.now() / 1000) - 700 }), { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  assert.equal(stale.status, 401);
  // body_md5 covers the body: a changed body fails.
  const url = signed('POST', path, body);
  const tampered = await fetch(url, { method: 'POST', body: body.replace('"e"', '"f"'), headers: { 'content-type': 'application/json' } });
  assert.equal(tampered.status, 401);
  const badJson = 'not json';
  const r = await fetch(signed('POST', path, badJson), { method: 'POST', body: badJson, headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 400);
  // Data must be a string, at most 10 KB; at most 100 channels.
  await assert.rejects(sdk(s).trigger('chat-x', 'e', 'x'.repeat(11 * 1024)), (e: any) => e.status === 413);
  const many = Array.from({ length: 101 }, (_, i) => 'chat-c' + i);
  const big = JSON.stringify({ name: 'e', channels: many, data: '{}' });
  const rm = await fetch(signed('POST', path, big), { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
  assert.equal(rm.status, 400);
});

test('HTTP API: batch_events, channel list (prefix, user_count), channel info, presence users', async () => {
  const a = pusher({ user: { user_id: 'q1' } });
  const b = pusher({ user: { user_id: 'q2' } });
  await connected(a);
  await connected(b);
  const { channel: pa } = await subscribed(a, 'presence-chat-q1');
  await subscribed(b, 'presence-chat-q1');
  const { channel: pubA } = await subscribed(a, 'chat-q2');
  const g1 = collect(pa, 'b1');
  const g2 = collect(pubA, 'b2');
  const server = sdk(s);
  const br = await server.triggerBatch([
    { channel: 'presence-chat-q1', name: 'b1', data: { x: 1 } },
    { channel: 'chat-q2', name: 'b2', data: 'plain text' },
  ]);
  assert.equal(br.status, 200);
  await waitFor(() => g1.length === 1 && g2.length === 1, 3000, 'batch events');
  assert.deepEqual(g1, [{ x: 1 }]);
  assert.deepEqual(g2, ['plain text']);
  // info: counts per channel after the trigger.
  const withInfo = (await (await server.trigger('presence-chat-q1', 'b1', {}, { info: 'subscription_count,user_count' })).json());
  assert.deepEqual(withInfo, { channels: { 'presence-chat-q1': { subscription_count: 2, user_count: 2 } } });
  const batchInfo = (await (await server.triggerBatch([{ channel: 'chat-q2', name: 'b2', data: 'x', info: 'subscription_count' }, { channel: 'chat-q2', name: 'b2', data: 'y' }])).json());
  assert.deepEqual(batchInfo, { batch: [{ subscription_count: 1 }, {}] });
  await assert.rejects(server.trigger('chat-q2', 'b2', {}, { info: 'user_count' }), (e: any) => e.status === 400);

  const list = (await (await server.get({ path: '/channels', params: {} })).json());
  assert.ok('chat-q2' in list.channels, JSON.stringify(list));
  const pres = (await (await server.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } })).json());
  assert.deepEqual(pres.channels['presence-chat-q1'], { user_count: 2 });
  assert.ok(!('chat-q2' in pres.channels));
  await assert.rejects(server.get({ path: '/channels', params: { info: 'user_count' } }), (e: any) => e.status === 400);

  const info = (await (await server.get({ path: '/channels/presence-chat-q1', params: { info: 'user_count,subscription_count' } })).json());
  assert.deepEqual(info, { occupied: true, subscription_count: 2, user_count: 2 });
  const empty = (await (await server.get({ path: '/channels/chat-nobody', params: {} })).json());
  assert.deepEqual(empty, { occupied: false });
  const users = (await (await server.get({ path: '/channels/presence-chat-q1/users', params: {} })).json());
  assert.deepEqual(users.users.map((u: any) => u.id).sort(), ['q1', 'q2']);
  await assert.rejects(server.get({ path: '/channels/chat-q2/users', params: {} }), (e: any) => e.status === 400);
});

test('metrics: connections by protocol, client events, HTTP API calls, errors by code', async () => {
  const text = await s.registry.metrics();
  assert.match(text, /onair_chat_connections_by_protocol\{protocol="pusher"\} [1-9]/);
  assert.match(text, /onair_pusher_client_events_total [1-9]/);
  assert.match(text, /onair_pusher_http_requests_total\{route="events",status="200"\} [1-9]/);
  assert.match(text, /onair_pusher_http_requests_total\{route="events",status="401"\} [1-9]/);
  assert.match(text, /onair_pusher_errors_total\{code="4300"\} [1-9]/);
});

test('the server API info counts Pusher connections in num_clients beside Centrifugo ones', async () => {
  const before = (await api(s, 'info', {})).body.result.nodes[0].num_clients as number;
  const p = pusher();
  await connected(p);
  const c = centrifuge('counted');
  await new Promise<void>((resolve) => { c.once('connected', () => resolve()); c.connect(); });
  await waitFor(async () => (await api(s, 'info', {})).body.result.nodes[0].num_clients === before + 2, 3000, 'both counted');
  p.disconnect();
  c.disconnect();
  await waitFor(async () => (await api(s, 'info', {})).body.result.nodes[0].num_clients === before, 3000, 'both gone');
});
