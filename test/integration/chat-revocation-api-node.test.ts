// Chat token revocations and Pusher authorisations across nodes of different roles, each its own
// process sharing Redis and PostgreSQL (issue 19 #17, the gaps left open): a log-out-everywhere
// on an api-only node drops the user's centrifuge SDK client on a chat-only node within a second,
// and a pusher-js socket on the chat-only node whose private channel another chat node authorised
// is closed with 4009 too, or loses that channel when the user is banned from the room (the
// authorisation reaches the node holding the socket).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Centrifuge } from 'centrifuge';
import { engines } from '../../testkit/db.js';
import { startRedis, type RedisServer } from '../../testkit/redis.js';
import { startChildServer, type ChildServer } from '../../testkit/child-server.js';
import { until } from '../../testkit/wait.js';
import { PusherJs, connected, subscribed, type PusherClient } from './helpers/chat-pusher.js';

const pg = engines().find((e) => e.engine === 'postgres');
/** A revoked client must be gone this soon after the API answered (the brief's bound). */
const DROP_WITHIN_MS = 1000;
const ADMIN_TOKEN = 'revocation-nodes-admin-token-0123';

describe('revocations and pusher authorisations reach every chat node', { skip: pg?.skip }, () => {
  let redis: RedisServer | undefined;
  let db: Awaited<ReturnType<NonNullable<typeof pg>['open']>> | undefined;
  /** apiOnly ends sessions; chatOnly holds the sockets; chatApi serves pusher auth as a second chat node. */
  let apiOnly: ChildServer | undefined;
  let chatOnly: ChildServer | undefined;
  let chatApi: ChildServer | undefined;
  const closers: (() => void)[] = [];

  before(async () => {
    if (!pg) throw new Error('no postgres engine case');
    redis = await startRedis();
    db = await pg.open();
    const shared = {
      'database.url': db.url,
      'redis.url': redis.url,
      'chat.tokenSecret': 'revocation-nodes-token-secret-0123',
      'chat.apiKey': 'revocation-nodes-api-key-0123',
      'chat.pusher.key': 'revocation-nodes-key',
      'chat.pusher.secret': 'revocation-nodes-pusher-secret-0123',
      adminToken: ADMIN_TOKEN,
    };
    // One after another: each start creates the demo channel when it is missing.
    apiOnly = await startChildServer({ ...shared, roles: ['api'] });
    chatOnly = await startChildServer({ ...shared, roles: ['chat'] });
    chatApi = await startChildServer({ ...shared, roles: ['chat', 'api'] });
  });
  after(async () => {
    for (const close of closers) close();
    await Promise.all([apiOnly?.stop(), chatOnly?.stop(), chatApi?.stop()]);
    await db?.dispose();
    await redis?.stop();
  });

  async function call(node: ChildServer | undefined, path: string, body: unknown, bearer?: string): Promise<{ status: number; body: any }> {
    if (!node) throw new Error('node not started');
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    const res = await fetch(node.httpUrl + path, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  async function register(username: string): Promise<string> {
    const r = await call(apiOnly, '/api/v1/auth/register', { username, password: 'hunter2hunter2' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.token as string;
  }

  async function centrifuge(session: string) {
    if (!chatOnly) throw new Error('node not started');
    const t = await call(chatOnly, '/api/v1/chat/token', {}, session);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const client = new Centrifuge(chatOnly.httpUrl.replace('http:', 'ws:') + '/connection/websocket', { websocket: WebSocket, token: t.body.token as string });
    const closes: { code: number; reason: string; at: number }[] = [];
    client.on('disconnected', (ctx) => closes.push({ code: ctx.code, reason: ctx.reason, at: Date.now() }));
    closers.push(() => client.disconnect());
    const up = new Promise<void>((resolve) => client.once('connected', () => resolve()));
    client.connect();
    await up;
    return { client, closes };
  }

  /** pusherBrowser is pusher-js holding its socket on the chat-only node and asking the other chat node (chat+api) for channel authorisations. */
  function pusherBrowser(bearer: string): { p: PusherClient; errors: number[] } {
    if (!chatOnly || !chatApi) throw new Error('nodes not started');
    const authNode = chatApi;
    const p: PusherClient = new PusherJs(chatOnly.pusherKey, {
      cluster: 'x', wsHost: '127.0.0.1', wsPort: Number(new URL(chatOnly.httpUrl).port), forceTLS: false, enabledTransports: ['ws'], disableStats: true,
      channelAuthorization: {
        endpoint: '/unused', transport: 'ajax',
        customHandler: (params: { socketId: string; channelName: string }, cb: (e: Error | null, d: unknown) => void) => {
          void fetch(authNode.httpUrl + '/api/v1/pusher/auth', {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${bearer}` },
            body: new URLSearchParams({ socket_id: params.socketId, channel_name: params.channelName }).toString(),
          }).then(async (res) => (res.status === 200 ? cb(null, await res.json()) : cb(new Error('auth ' + res.status), null)));
        },
      },
    } as never);
    closers.push(() => p.disconnect());
    const errors: number[] = [];
    p.connection.bind('error', (e: { data?: { code?: number } } | undefined) => { if (e?.data?.code) errors.push(e.data.code); });
    return { p, errors };
  }

  test('logout-all on an api-only node drops the user\'s centrifuge client on a chat-only node within a second', async () => {
    const victim = await register('revoked_on_api');
    const other = await register('kept_on_chat');
    const v = await centrifuge(victim);
    const o = await centrifuge(other);

    const r = await call(apiOnly, '/api/v1/auth/logout-all', undefined, victim);
    assert.equal(r.status, 204, JSON.stringify(r.body));
    const answeredAt = Date.now();
    await until(() => v.closes.length > 0, 5000, 'the revoked client was disconnected');
    assert.deepEqual({ code: v.closes[0]?.code, reason: v.closes[0]?.reason }, { code: 3500, reason: 'token revoked' });
    const lag = (v.closes[0]?.at ?? Infinity) - answeredAt;
    assert.ok(lag <= DROP_WITHIN_MS, `dropped ${lag} ms after the revocation, more than ${DROP_WITHIN_MS} ms`);
    assert.equal(o.client.state, 'connected', "another user's client stays");
  });

  test('a private channel authorised by another chat node: its socket is closed with 4009 when the user is revoked', async () => {
    const session = await register('pusher_two_nodes');
    const bystanderSession = await register('pusher_two_nodes_b');
    const victim = pusherBrowser(session);
    await connected(victim.p);
    await subscribed(victim.p, 'private-chat-demo');
    const bystander = pusherBrowser(bystanderSession);
    await connected(bystander.p);
    await subscribed(bystander.p, 'private-chat-demo');

    assert.equal((await call(apiOnly, '/api/v1/auth/logout-all', undefined, session)).status, 204);
    await until(() => victim.errors.includes(4009) && victim.p.connection.state !== 'connected', 5000, 'the socket authorised on the other node was closed with 4009');
    assert.equal(bystander.p.connection.state, 'connected', "another user's socket stays");
    assert.deepEqual(bystander.errors, []);
  });
  test('a ban on the chat+api node unsubscribes the private channel the banned user authorised, on the chat-only node', async () => {
    const session = await register('pusher_banned');
    const bystanderSession = await register('pusher_not_banned');
    const victim = pusherBrowser(session);
    await connected(victim.p);
    const { channel } = await subscribed(victim.p, 'private-chat-demo');
    const unsubscribed = new Promise<unknown>((resolve) => channel.bind('pusher:subscription_error', resolve));
    const bystander = pusherBrowser(bystanderSession);
    await connected(bystander.p);
    const kept = await subscribed(bystander.p, 'private-chat-demo');
    let bystanderErrors = 0;
    kept.channel.bind('pusher:subscription_error', () => { bystanderErrors++; });

    const ban = await call(chatApi, '/api/v1/channels/demo/moderation/bans', { username: 'pusher_banned' }, ADMIN_TOKEN);
    assert.ok(ban.status === 200 || ban.status === 201 || ban.status === 204, JSON.stringify(ban.body));
    const err = await Promise.race([unsubscribed, new Promise((_, reject) => setTimeout(() => reject(new Error('the banned user\'s channel was not unsubscribed')), 5000))]);
    assert.deepEqual(err, { type: 'Unsubscribed', error: 'unsubscribed by the server', status: 403 });
    assert.equal(victim.p.connection.state, 'connected', 'a ban removes the channel, not the socket');
    assert.equal(bystanderErrors, 0, "another user's subscription stays");
  });
});
