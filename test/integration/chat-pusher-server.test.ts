// The whole server: the Pusher front-end wired by ROLE_WIRINGS, /api/v1/pusher/auth for a
// logged-in user (presence channel_data from the account, moderation bans), the HTTP API
// with the generated key and secret.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { waitFor } from '../../testkit/chat-server.js';
import { userAuth } from '../../src/chat/pusher/auth.js';
import { PusherJs, PusherSdk, connected, subscribed, type PusherClient } from './helpers/chat-pusher.js';

let s: TestServer;
const open: PusherClient[] = [];
let token = '';
let userId = '';

before(async () => {
  s = await startTestServer({ roles: ['chat', 'api'] });
  const r = await s.api('POST', '/api/v1/auth/register', { username: 'viewer', password: 'hunter2hunter2', displayName: 'Viewer One' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  token = r.body.token;
  userId = r.body.user.id;
});
after(async () => {
  for (const p of open) p.disconnect();
  await s.close();
});

function browser(bearer: string): PusherClient {
  const p = new PusherJs(s.secrets.pusherKey, {
    cluster: 'x',
    wsHost: '127.0.0.1',
    wsPort: s.httpPort,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    // What a browser does with channelAuthorization.endpoint, through fetch (form body, bearer token).
    channelAuthorization: {
      endpoint: `${s.httpUrl}/api/v1/pusher/auth`,
      transport: 'ajax',
      customHandler: async (params: { socketId: string; channelName: string }, cb: (e: Error | null, d: unknown) => void) => {
        const res = await fetch(`${s.httpUrl}/api/v1/pusher/auth`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${bearer}` },
          body: new URLSearchParams({ socket_id: params.socketId, channel_name: params.channelName }).toString(),
        });
        if (res.status !== 200) cb(new Error('auth ' + res.status), null);
        else cb(null, await res.json());
      },
    },
  } as never);
  open.push(p);
  return p;
}

test('a logged-in user subscribes to a presence channel through /api/v1/pusher/auth; HTTP API events reach them', async () => {
  const p = browser(token);
  await connected(p);
  const { channel, data } = await subscribed(p, 'presence-chat-demo');
  assert.equal(data.count, 1);
  assert.equal(data.me.id, userId);
  assert.deepEqual(data.me.info, { name: 'Viewer One', username: 'viewer' });
  const got: unknown[] = [];
  channel.bind('hello', (d: unknown) => got.push(d));
  const sdk = new PusherSdk({ appId: s.config.chat.pusher.appId, key: s.secrets.pusherKey, secret: s.secrets.pusherSecret, host: '127.0.0.1', port: String(s.httpPort), useTLS: false });
  await sdk.trigger('presence-chat-demo', 'hello', { ok: 1 });
  await waitFor(() => got.length === 1, 3000, 'event');
  // The Centrifugo server API of the same server lists the Pusher member.
  const pres = await fetch(`${s.httpUrl}/api/presence`, { method: 'POST', headers: { 'x-api-key': s.secrets.chatApiKey, 'content-type': 'application/json' }, body: '{"channel":"chat:demo"}' });
  const users = Object.values(((await pres.json())).result.presence).map((c: any) => c.user);
  assert.deepEqual(users, [userId]);
});

test('client events on chat channels pass moderation: a text message arrives as the moderated chat message, anything else is refused', async () => {
  const r2 = await s.api('POST', '/api/v1/auth/register', { username: 'second', password: 'hunter2hunter2', displayName: 'Second' });
  // chat: channels exist only for onair channels (chat.namespaces.chat.requireChannel).
  const host = (await s.api('POST', '/api/v1/auth/register', { username: 'modhost', password: 'hunter2hunter2' })).body.token;
  assert.equal((await s.api('POST', '/api/v1/channels', { name: 'modroom' }, host)).status, 201);
  const a = browser(token);
  const b = browser(r2.body.token);
  await connected(a);
  await connected(b);
  const { channel: ca } = await subscribed(a, 'presence-chat-modroom');
  const { channel: cb } = await subscribed(b, 'presence-chat-modroom');
  const got: any[] = [];
  cb.bind('client-message', (d: unknown) => got.push(d));
  const errors: any[] = [];
  a.connection.bind('error', (e: any) => errors.push(e.data));
  ca.trigger('client-message', { text: 'hello from pusher' });
  await waitFor(() => got.length === 1, 3000, 'moderated client event');
  assert.equal(got[0].type, 'message');
  assert.equal(got[0].text, 'hello from pusher');
  assert.equal(got[0].user.id, userId);
  ca.trigger('client-typing', { typing: true });
  await waitFor(() => errors.some((e) => e?.code === null && /text/.test(e.message)), 3000, 'refused by moderation');
  assert.equal(got.length, 1);
});

test('/api/v1/pusher/auth: 401 without a login, 400 for bad input, JSON bodies, 403 when banned from the room', async () => {
  const socketId = '123.456';
  const form = (b: Record<string, string>, bearer?: string) =>
    fetch(`${s.httpUrl}/api/v1/pusher/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      body: new URLSearchParams(b).toString(),
    });
  assert.equal((await form({ socket_id: socketId, channel_name: 'private-chat-demo' })).status, 401);
  assert.equal((await form({ socket_id: 'nope', channel_name: 'private-chat-demo' }, token)).status, 400);
  assert.equal((await form({ socket_id: socketId, channel_name: 'chat-demo' }, token)).status, 400);
  assert.equal((await form({ socket_id: socketId, channel_name: 'private-nons-x' }, token)).status, 400);
  const ok = await s.api('POST', '/api/v1/pusher/auth', { socket_id: socketId, channel_name: 'private-chat-demo' }, token);
  assert.equal(ok.status, 200);
  assert.match(ok.body.auth, new RegExp('^' + s.secrets.pusherKey + ':[0-9a-f]{64}$'));
  assert.equal(ok.body.channel_data, undefined);

  // User authentication for pusher:signin: user_data from the account.
  assert.equal((await s.api('POST', '/api/v1/pusher/user-auth', { socket_id: socketId })).status, 401);
  const ua = await s.api('POST', '/api/v1/pusher/user-auth', { socket_id: socketId }, token);
  assert.equal(ua.status, 200);
  assert.deepEqual(JSON.parse(ua.body.user_data), { id: userId, user_info: { name: 'Viewer One', username: 'viewer' } });
  assert.equal(ua.body.auth, userAuth(s.secrets.pusherKey, s.secrets.pusherSecret, socketId, ua.body.user_data));

  const demo = await s.platform.channels.find('demo');
  await s.app.moderation!.store.restrict(demo!.id, { userId, kind: 'ban', reason: 'test', expiresAt: null, createdBy: null, createdAt: Date.now() });
  const banned = await s.api('POST', '/api/v1/pusher/auth', { socket_id: socketId, channel_name: 'presence-chat-demo' }, token);
  assert.equal(banned.status, 403);
  // Other rooms are not affected.
  assert.equal((await s.api('POST', '/api/v1/pusher/auth', { socket_id: socketId, channel_name: 'private-chat-other' }, token)).status, 200);
});
