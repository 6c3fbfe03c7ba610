// Issue 19 #17 for Pusher: log out everywhere and a password change revoke the user's chat
// tokens; the pusher-js connections that user's session authorised (private channel, presence
// channel, pusher:signin) are closed with 4009 on every node, another user's stays, and the old
// session gets no new authorisation.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { waitFor } from '../../testkit/chat-server.js';
import { PusherJs, connected, subscribed, type PusherClient } from './helpers/chat-pusher.js';
import { sleep } from '../../testkit/wait.js';

let s: TestServer;
const open: PusherClient[] = [];

before(async () => {
  s = await startTestServer({ roles: ['chat', 'api'] });
});
after(async () => {
  for (const p of open) p.disconnect();
  await s.close();
});

async function register(username: string): Promise<string> {
  const r = await s.api('POST', '/api/v1/auth/register', { username, password: 'hunter2hunter2' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.token as string;
}

/** browser is pusher-js authorising channels and signin through the platform endpoints with a session token; it records pusher:error codes. */
function browser(bearer: string): { p: PusherClient; errors: number[] } {
  const post = (path: string, body: Record<string, string>) =>
    fetch(`${s.httpUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${bearer}` }, body: new URLSearchParams(body).toString() });
  const handler = (path: string) => async (params: { socketId: string; channelName?: string }, cb: (e: Error | null, d: unknown) => void) => {
    const res = await post(path, params.channelName ? { socket_id: params.socketId, channel_name: params.channelName } : { socket_id: params.socketId });
    if (res.status !== 200) cb(new Error('auth ' + res.status), null);
    else cb(null, await res.json());
  };
  const p = new PusherJs(s.secrets.pusherKey, {
    cluster: 'x', wsHost: '127.0.0.1', wsPort: s.httpPort, forceTLS: false, enabledTransports: ['ws'], disableStats: true,
    channelAuthorization: { endpoint: '/unused', transport: 'ajax', customHandler: handler('/api/v1/pusher/auth') },
    userAuthentication: { endpoint: '/unused', transport: 'ajax', customHandler: handler('/api/v1/pusher/user-auth') },
  } as never);
  open.push(p);
  const errors: number[] = [];
  p.connection.bind('error', (e: { data?: { code?: number } }) => { if (e?.data?.code) errors.push(e.data.code); });
  return { p, errors };
}

test('logout-all closes the pusher-js connections the user authorised (4009); a new auth with the old session fails', async () => {
  const token = await register('pusher_revoked');
  const other = await register('pusher_bystander');
  const priv = browser(token);
  await connected(priv.p);
  await subscribed(priv.p, 'private-chat-demo');
  const pres = browser(token);
  await connected(pres.p);
  await subscribed(pres.p, 'presence-chat-demo');
  const signed = browser(token);
  await connected(signed.p);
  signed.p.signin();
  await sleep(300);
  const bystander = browser(other);
  await connected(bystander.p);
  await subscribed(bystander.p, 'private-chat-demo');

  assert.equal((await s.api('POST', '/api/v1/auth/logout-all', undefined, token)).status, 204);
  for (const [name, c] of [['private', priv], ['presence', pres], ['signin', signed]] as const) {
    await waitFor(() => c.errors.includes(4009) && c.p.connection.state !== 'connected', 5000, `the ${name} connection was closed with 4009`);
  }
  await sleep(500);
  for (const c of [priv, pres, signed]) assert.notEqual(c.p.connection.state, 'connected', 'pusher-js does not reconnect after 4009');
  assert.equal(bystander.p.connection.state, 'connected', "another user's connection stays");
  assert.deepEqual(bystander.errors, []);

  // The old session cannot authorise a new socket.
  const again = browser(token);
  await connected(again.p);
  await assert.rejects(subscribed(again.p, 'private-chat-demo'), /subscription error/);
  await assert.rejects(subscribed(again.p, 'presence-chat-demo'), /subscription error/);
  again.p.disconnect();
});
